"""Synthetic documents for load, fault and scale tests: each names a courier no other mentions."""

from __future__ import annotations

import random

PLACES = ["harbour", "depot", "orchard", "quarry", "lighthouse", "mill", "ferry", "archive"]


def make_doc(key: str, sentences: int = 30) -> dict:
    """A document with a unique courier name, so a question can find exactly it."""
    rng = random.Random(key)
    lines = [f"Courier {key.upper()} carried parcels across the valley."]
    for n in range(sentences - 1):
        place, other = rng.sample(PLACES, 2)
        lines.append(f"On day {n + 1} the courier took {rng.randint(2, 90)} parcels from the "
                     f"{place} to the {other} before noon.")
    return {"doc_id": key, "title": f"Courier {key}", "text": " ".join(lines)}
