"""Checks that keep outputs away from inputs: an output that is an input, or a tree inside another."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import UserError


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (links and relative spellings resolved; a missing path names nothing)."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def refuse_overwriting_inputs(option: str, output: str, inputs: Mapping[str, str]) -> None:
    """A UserError about ``option`` when ``output`` is one of ``inputs`` ({setting: path}), so a run never
    replaces the file it reads."""
    for name, path in inputs.items():
        if path and same_file(output, path):
            raise UserError.about(option, f"{output} is also the {name} input; write the result to another file")


def within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies below it (after resolving links)."""
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def child_path(root: str, name: str, option: str) -> str:
    """``root``/``name``, refused (a UserError about ``option``) when ``name`` would lead outside ``root``."""
    path = os.path.join(root, name)
    if os.path.isabs(name) or not within(path, root) or os.path.realpath(path) == os.path.realpath(root):
        raise UserError.about(option, f"{name!r} leads outside {root}; entries must be names inside it")
    return path
