"""Train / val / test filelists of preprocessed clips: speaker-independent by default, or the original random split."""

from __future__ import annotations

import os
import random
from typing import Sequence

from emogen.common.atomic import atomic_path
from emogen.common.errors import UserError

from .crema_d import parse_crema_name

SPLITS = ("train", "val", "test")
DEFAULT_ACTOR_RATIOS = (0.8, 0.1, 0.1)
DEFAULT_SEED = 0


def actor_of(name: str) -> str:
    """The speaker of a clip: the CREMA-D actor ID, or the part of the name before the first '_'."""
    parsed = parse_crema_name(name)
    return parsed.actor if parsed else name.split("_")[0]


def split_by_actor(
    names: Sequence[str], ratios: Sequence[float] = DEFAULT_ACTOR_RATIOS, seed: int = DEFAULT_SEED
) -> dict[str, list[str]]:
    """Assign whole actors to train/val/test (no actor in two splits); val and test get at least one actor each
    when there are three or more actors."""
    actors = sorted({actor_of(n) for n in names})
    random.Random(seed).shuffle(actors)
    total = sum(ratios)
    n = len(actors)
    n_val = max(1, round(n * ratios[1] / total)) if n >= 2 and ratios[1] > 0 else 0
    n_test = max(1, round(n * ratios[2] / total)) if n >= 3 and ratios[2] > 0 else 0
    n_val, n_test = min(n_val, max(0, n - 1)), min(n_test, max(0, n - 1 - n_val))
    groups = {
        "val": set(actors[:n_val]),
        "test": set(actors[n_val : n_val + n_test]),
        "train": set(actors[n_val + n_test :]),
    }
    return {split: sorted(x for x in names if actor_of(x) in groups[split]) for split in SPLITS}


def split_random(names: Sequence[str], val_fraction: float = 0.05, seed: int = DEFAULT_SEED) -> dict[str, list[str]]:
    """The original's split: clips shuffled, 95% train and 5% val (speakers overlap); test stays empty."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    n_val = max(1, round(len(shuffled) * val_fraction)) if len(shuffled) > 1 else 0
    return {"train": sorted(shuffled[n_val:]), "val": sorted(shuffled[:n_val]), "test": []}


def write_filelists(folder: str, splits: dict[str, list[str]]) -> list[str]:
    """Write <folder>/train.txt, val.txt, test.txt (one clip name per line) atomically; return the paths."""
    paths = []
    for split in SPLITS:
        path = os.path.join(folder, f"{split}.txt")
        with atomic_path(path, suffix=".tmp") as tmp:
            with open(tmp, "w") as handle:
                handle.writelines(f"{name}\n" for name in splits.get(split, []))
        paths.append(path)
    return paths


def read_filelist(path: str) -> list[str]:
    """Clip names listed in a filelist, one whole line each (a name may hold spaces; blank lines ignored)."""
    if not os.path.isfile(path):
        raise UserError(f"filelist not found: {path}; run preprocess_crema-d.py first or pass --filelist_dir")
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip()]
