"""Answering: a question becomes a ranked, cited quote, or an abstention.

`retrieval` gathers candidate sentences from dense and BM25 searches, `features` measures each
one, `answerer` ranks them with learned weights (`ranking_params.json`), groups near-duplicates
and cites them, `verification` judges whether the best one answers (`verifier_params.json`),
and `conversation` reads follow-ups. May import everything below it, never `qa.app`.
"""
