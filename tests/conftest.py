import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

torch.set_num_threads(max(1, torch.get_num_threads()))


@pytest.fixture(scope="session")
def shared():
    from shared_data import require_shared

    return require_shared()


@pytest.fixture(scope="session")
def parity(shared):
    return np.load(shared / "spec" / "parity_seed11.npz")
