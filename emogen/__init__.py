"""Importable library code behind the EmoGen command-line scripts."""

EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
"""Emotion labels in the index order baked into the released generator's one-hot input."""
