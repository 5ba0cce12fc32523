import random

import numpy as np

from emogen.data.augment import WindowAugment


def window(seed=0):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return np.stack([frame] * 5)


def test_same_transform_on_every_frame_and_varied():
    aug = WindowAugment(p=1.0)  # every op fires
    outs = []
    for seed in range(5):
        out = aug(window(), random.Random(seed))
        assert out.shape == (5, 32, 32, 3) and out.dtype == np.uint8
        assert all(np.array_equal(out[0], out[k]) for k in range(1, 5))
        outs.append(out)
    assert not np.array_equal(outs[0], outs[1])
    changed = [np.abs(o.astype(int) - window().astype(int)).mean() for o in outs]
    assert sum(c > 5 for c in changed) >= 3  # p_all = 0.8: most windows are changed, and visibly


def test_probabilities():
    never = WindowAugment(p=1.0, p_all=0.0)
    assert np.array_equal(never(window(), random.Random(0)), window())
    changed = sum(not np.array_equal(WindowAugment(p=0.2)(window(), random.Random(s)), window()) for s in range(300))
    # P(at least one op) = 0.8 * (1 - 0.8**9) = 0.70
    assert 0.6 < changed / 300 < 0.8
