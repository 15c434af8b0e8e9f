"""Embedding model and vector index: turning text into vectors and finding the nearest ones."""
