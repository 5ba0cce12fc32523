"""Content hashes of files: the key of every on-disk cache (face boxes, converted models)."""

from __future__ import annotations

import hashlib


def file_digest(path: str) -> str:
    """SHA-256 of a file's bytes (read in blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
