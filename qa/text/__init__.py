"""Words: how every stage cuts text into words and decides which ones matter (`words`), and the
bounded memo that keeps what was worked out about a text (`memo`). Imports nothing of `qa`."""
