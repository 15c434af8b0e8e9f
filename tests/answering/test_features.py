"""Ranking features: what makes one candidate sentence look like a better answer than another."""

from __future__ import annotations

import numpy as np

from qa.answering import features
from qa.answering.answerer import RankingParams, confidence_features
from qa.answering.retrieval import Candidates
from qa.storage.records import SentenceRow


def _feature(name: str, question: str, texts: list[str], conversation: str = "",
             idf: dict[str, float] | None = None) -> list[float]:
    """One feature of each sentence, all retrieval signals equal."""
    rows = [SentenceRow(i, "doc", i, 0, 0, len(t), t) for i, t in enumerate(texts)]
    candidates = Candidates(rows, np.zeros((len(rows), 4), np.float32), [0] * len(rows),
                            idf or {})
    matrix = features.build(question, candidates, {"doc": ""}, conversation)
    return [round(float(v), 3) for v in matrix[:, features.FEATURES.index(name)]]


def _coverage(question: str, texts: list[str], conversation: str = "") -> list[float]:
    """Word coverage of each sentence, all other signals equal."""
    return _feature("coverage", question, texts, conversation)


def test_other_forms_of_a_word_count_as_the_word():
    began, unrelated = _coverage("When did the relay begin?",
                                 ["The relay began in Moscow.", "The relay ended in Sochi."])
    assert began == 1.0 and unrelated == 0.5
    flew, _ = _coverage("Who flew the plane?", ["She will fly the plane.", "x"])
    assert flew == 1.0


def test_a_superlative_is_not_the_word_a_how_long_question_asks_with():
    longest, lasting = _coverage("How long will the relay last?",
                                 ["The longest relay ever.", "The relay will last months."])
    assert lasting > longest


def test_a_follow_up_weighs_its_own_words_above_the_earlier_turns():
    own, earlier = _coverage("How does that compare with London?",
                             ["London's games cost 9 billion.",
                              "The Sochi Olympics were expensive."],
                             conversation="How much will the Sochi Olympics cost?")
    assert own > earlier


def test_a_rare_question_word_counts_more_than_a_common_one():
    question = "When did the torch relay begin?"
    texts = ["The torch was lit.", "The relay will begin soon."]
    plain = _feature("coverage_idf", question, texts)
    assert plain[1] > plain[0]  # two words of three against one
    rare, common = _feature("coverage_idf", "When did the torch visit Yakutsk?",
                            ["The torch is here.", "Yakutsk is cold."],
                            idf={"torch": 0.1, "visit": 3.0, "yakutsk": 5.0})
    assert common > 0.5 > rare  # one word each, but "yakutsk" is the rare one


def test_question_words_standing_together_count_more_than_scattered_ones():
    together, apart = _feature(
        "proximity", "How long did the spacewalk last?",
        ["The spacewalk will last two hours, the agency said on Monday.",
         "The spacewalk was planned for weeks by the two cosmonauts and their crew in the "
         "station, and in the end the whole relay will last four months."])
    assert (together, apart) == (0.667, 0.333)  # "long" is not in either


def test_the_answer_type_needs_a_new_answer_of_the_asked_kind():
    date, none, repeated = _feature(
        "answer_type", "When did the torch launch from Baikonur in 2013?",
        ["The torch launched on November 7.", "The torch launched from Baikonur.",
         "The torch launched in 2013."])
    assert (date, none, repeated) == (1.0, 0.0, 0.0)
    hours, months = _feature("answer_type", "How long was the spacewalk?",
                             ["It took five hours.", "Nobody knows."])
    assert (hours, months) == (1.0, 0.0)
    # A limit asked for is a number; "the most common ..." asks for a name.
    rows = ["columns per table | 1,600 | further limited by tuple size",
            "There is a limit on how many columns a table can contain."]
    assert _feature("answer_type", "What is the most columns a table can have?", rows) == [1.0, 0.0]
    assert _feature("answer_type", "What is the most common table a user can have?",
                    rows) == [0.0, 0.0]


def test_how_long_something_lasts_may_be_answered_by_what_ends_it():
    question = "How long does a prepared statement stay around?"
    rows = ["Prepared statements only last for the duration of the current database session.",
            "A lock is held until the transaction ends.",
            "Prepared statements can be created and used with the PREPARE command.",
            "The statement was prepared until 1999."]
    assert _feature("answer_type", question, rows) == [1.0, 1.0, 0.0, 0.0]


def test_a_question_asking_which_setting_or_function_wants_the_entry_of_one_it_does_not_name():
    question = "Which setting controls how much memory a sort may use?"
    rows = [SentenceRow(i, "doc", i, 0, 0, 10, text, context=context) for i, (text, context)
            in enumerate([("Sets the memory used by a sort.", "20.4.1. Memory\x1fwork_mem (integer)"),
                          ("Sorting may use more memory.", "14.1.1. EXPLAIN Basics"),
                          ("Dump only the schema.", "Options\x1f-s --schema-only"),
                          ("Raise maintenance_work_mem for index builds.", ""),
                          ("A sort uses memory.", "Parameters\x1fname"),
                          ("Sorting uses memory.", "PEP 465 - A dedicated infix operator for sorting"),
                          ("A sort may use memory.", "SORTING MODE"),  # a man page's heading
                          ("Memory is used.", "OPTIONS")])]
    opens = np.array([1, 1, 0, 1, 1, 1, 1, 1], np.float32)  # all but "Dump only ..." open theirs
    candidates = Candidates(rows, np.zeros((len(rows), 4), np.float32), [0] * len(rows), {},
                            opens=opens)
    kind = features.FEATURES.index("answer_type")
    matrix = features.build(question, candidates, {"doc": ""})
    assert matrix[:, kind].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # The first sentence of such an entry says what the thing does.
    defines = features.FEATURES.index("defines_thing")
    assert matrix[:, defines].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    # The entry of the thing the question names is not an answer to which thing it is.
    named = features.build("Which setting like work_mem controls sorts?", candidates,
                           {"doc": ""})[:, kind].tolist()
    assert named[0] == 0.0
    assert features.question_types("Is there an option that makes Python skip the first line?"
                                   )["type_code"]
    # "What does setting X do?" and "What function do cells serve?" ask something else.
    for other in ("What does setting statement_timeout to zero do?",
                  "What function do mitochondria serve?", "What method did the team use?"):
        assert not features.question_types(other)["type_code"], other


def test_a_why_question_wants_the_sentence_a_consequence_is_drawn_from():
    question = "Why do my integer keys turn into strings after a round trip through JSON?"
    rows = [SentenceRow(i, "doc", i, 0, 0, 10, text) for i, text in enumerate([
        "All keys are coerced to strings.",
        "As a result, a round trip may not give back the original dictionary.",
        "Integer keys are common in dictionaries."])]
    follows = [rows[1].text, rows[2].text, ""]
    candidates = Candidates(rows, np.zeros((len(rows), 4), np.float32), [0] * len(rows), {},
                            next_said=follows)
    kind = features.FEATURES.index("answer_type")
    assert features.build(question, candidates, {"doc": ""})[:, kind].tolist() == [1, 0, 0]
    # Only a "why" question asks for a cause.
    other = features.build("What happens to integer keys?", candidates, {"doc": ""})
    assert other[:, kind].tolist() == [0, 0, 0]


def test_a_question_asking_how_two_things_differ_wants_a_sentence_that_sets_them_apart():
    question = "How is str.casefold() different from str.lower()?"
    rows = ["Casefolding is similar to lowercasing but more aggressive.",
            "The casefold() method converts 'ß' to 'ss'.",
            "This method is different from lower()."]  # the question's own word says nothing
    assert _feature("answer_type", question, rows) == [1.0, 0.0, 0.0]
    assert not features.question_types("Compared to other elements, how abundant is oxygen?"
                                       )["type_contrast"]


def test_a_sentence_that_only_points_elsewhere_is_marked():
    rows = ["For more information, see SAVEPOINT.", "More information can be found in Iterator "
            "Types.", "See Section 36.7.1 for a list of items.",
            "See also the wal_buffers setting, which limits how much is kept.",
            "A savepoint marks a point in a transaction."]
    assert _feature("points_elsewhere", "What is a savepoint?", rows) == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_asked_what_a_term_is_points_at_the_entry_that_defines_it():
    rows = [SentenceRow(i, "doc", i, 0, 0, 10, text, context=context) for i, (text, context)
            in enumerate([("A relation that stores its query's result.",
                           "Materialized view (relation)"),
                          ("A mechanism for concurrent reads.",
                           "Multi-version concurrency control (MVCC)"),
                          ("A view is a stored query.", "View"),
                          ("Sets the memory of a sort.", "work_mem (integer)")])]
    candidates = Candidates(rows, np.zeros((len(rows), 4), np.float32), [0] * len(rows), {})
    term = features.FEATURES.index("names_term")
    for question, named in (("What is a materialized view?", [1.0, 0.0, 0.0, 0.0]),
                            ("What is MVCC?", [0.0, 1.0, 0.0, 0.0]),
                            ("What are views?", [0.0, 0.0, 1.0, 0.0]),  # one, in the plural
                            ("What is a relation?", [0.0, 0.0, 0.0, 0.0]),  # a kind, no name
                            ("What is an integer?", [0.0, 0.0, 0.0, 0.0]),
                            ("What does a materialized view store?", [0.0, 0.0, 0.0, 0.0])):
        assert features.build(question, candidates, {"doc": ""})[:, term].tolist() == named


def test_a_question_naming_an_option_or_code_points_at_its_entry_or_row():
    question = "What does git status -s show, and what does %j mean?"
    rows = [SentenceRow(0, "doc", 0, 0, 0, 10, "Give the output in the short-format.",
                        context="OPTIONS\x1f-s, --short"),
            SentenceRow(1, "doc", 1, 0, 0, 10, "Show the stash.", context="OPTIONS\x1f--show-stash"),
            SentenceRow(2, "doc", 2, 0, 0, 10, "%j | Day of the year | 001, 002, ..."),
            SentenceRow(3, "doc", 3, 0, 0, 10, "The -s flag is short for --short.")]
    candidates = Candidates(rows, np.zeros((len(rows), 4), np.float32), [0] * len(rows), {})
    matrix = features.build(question, candidates, {"doc": ""})
    assert matrix[:, features.FEATURES.index("names_entry")].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_a_question_writing_a_code_name_points_at_the_entry_that_defines_it():
    rows = [SentenceRow(0, "doc", 0, 0, 0, 10, "Raised when a value is inappropriate.",
                        context="Concrete exceptions\x1fexception ValueError"),
            SentenceRow(1, "doc", 1, 0, 0, 10, "Raised when the type is inappropriate.",
                        context="Concrete exceptions\x1fexception TypeError"),
            SentenceRow(2, "doc", 2, 0, 0, 10, "Concatenate the strings.",
                        context="String Methods\x1fstr.join(iterable)"),
            SentenceRow(3, "doc", 3, 0, 0, 10, "TypeError and str.join() are named here.")]
    candidates = Candidates(rows, np.zeros((len(rows), 4), np.float32), [0] * len(rows), {})

    def named(question: str) -> list[float]:
        matrix = features.build(question, candidates, {"doc": ""})
        return matrix[:, features.FEATURES.index("names_term")].tolist()

    assert named("In what situation is TypeError raised?") == [0.0, 1.0, 0.0, 0.0]
    assert named("What does str.join() do with numbers?") == [0.0, 0.0, 1.0, 0.0]
    assert named("What does join() do?") == [0.0, 0.0, 1.0, 0.0]  # by its last part
    assert named("What does bytes.join() do?") == [0.0, 0.0, 0.0, 0.0]  # another type's
    assert named("When is an error raised?") == [0.0, 0.0, 0.0, 0.0]  # no code name


def test_a_question_about_what_holds_unless_changed_wants_the_sentence_that_states_the_default():
    # The question names the kind ("default", "out of the box"), and so may the answer.
    for question in ("Which TCP port does the server listen on out of the box?",
                     "What port is used if I never changed the setting?",
                     "What is the default port?"):
        stated, described = _feature("answer_type", question, [
            "The TCP port the server listens on; 5432 by default.",
            "Specifies the TCP port on which the server is listening for connections."])
        assert (stated, described) == (1.0, 0.0), question
    assert _feature("answer_type", "Which port does the server listen on?",
                    ["The TCP port the server listens on; 5432 by default."]) == [0.0]


def test_a_yes_no_question_wants_a_sentence_that_takes_a_side():
    # Siblings under one entry describe; the one that answers "Can I...?" says no (or only).
    texts = ["This module does not support writing TOML.",
             "The Tomli-W package is a TOML writer that works with this module."]
    for question in ("Can I use tomllib to save data as a TOML file?",
                     "In my script, should I save TOML with tomllib?",
                     "When I have a dict, can tomllib save it as TOML?"):
        assert _feature("yes_no", question, texts) == [1.0, 0.0], question
    # Not for a question that asks for a thing, nor for a side the question already takes.
    for question in ("What does tomllib do?", "Which module, tomllib or json, is faster?",
                     "One of the modules, tomllib, is found where?"):
        assert _feature("yes_no", question, texts) == [0.0, 0.0], question
    assert _feature("yes_no", "Does tomllib not support writing?", texts) == [0.0, 0.0]


def test_a_clear_lead_counts_for_more_when_the_sentence_also_means_what_was_asked():
    # In a small corpus one sentence sharing a word with an off-topic question stands far
    # above the rest, so its lead is trusted less when its cosine to the question is low.
    params = RankingParams.load()
    names = list(features.FEATURES)

    def logit(lead: float, cosine: float) -> float:
        matrix = np.zeros((2, len(names)), np.float32)
        matrix[:, names.index("s_dense")] = cosine
        matrix[:, names.index("coverage")] = 0.5
        p = float(params.confidence_of(confidence_features(np.array([8.0 + lead, 8.0]),
                                                           matrix))[0])
        return float(np.log(p / (1 - p)))

    strong = logit(5.0, 0.7) - logit(0.0, 0.7)
    weak = logit(5.0, 0.25) - logit(0.0, 0.25)
    assert strong > weak + 1.0
