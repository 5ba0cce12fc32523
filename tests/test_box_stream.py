import random
import threading

import pytest

from emogen.common.errors import UserError
from emogen.inference.box_stream import BoxStream, CropRules, final_prefix


def random_boxes(rng: random.Random, n: int, miss: float):
    out, x = [], 200.0
    for _ in range(n):
        x += rng.uniform(-6, 6)
        box = (int(x), 100 + rng.randint(-3, 3), int(x) + 180 + rng.randint(-4, 4), 300 + rng.randint(-3, 3))
        # Misses come in runs, some longer than the gap limit.
        out.append(None if rng.random() < miss else box)
        if out[-1] is None and rng.random() < 0.5:
            out.extend([None] * rng.randint(1, 40))
    return out[:n]


def rules(mode: str, nosmooth: bool = False) -> CropRules:
    return CropRules(mode, 25, (720, 1280), (0, 10, 0, 0), nosmooth)


@pytest.mark.parametrize("mode", ["interpolate", "passthrough"])
@pytest.mark.parametrize("nosmooth", [False, True])
def test_every_box_published_early_is_the_whole_lists(mode, nosmooth):
    rng = random.Random(7)
    for trial in range(40):
        raw = random_boxes(rng, rng.randint(1, 160), miss=[0.0, 0.02, 0.1][trial % 3])
        r = rules(mode, nosmooth)
        whole, _ = r.whole(raw)
        published = []
        for seen in range(1, len(raw) + 1):
            n, coords = final_prefix(raw[:seen], len(published), r)
            assert n == len(published) + len(coords) and n <= seen
            published.extend(coords)
        assert published == whole[: len(published)], (trial, raw)
        if all(b is not None for b in raw) and len(raw) > 8:
            # With a face in every frame, all but the last four are out before detection ends.
            assert len(published) == len(raw) - 4


def test_a_box_waits_for_the_four_after_it():
    r = rules("interpolate")
    box = (10, 10, 110, 110)
    assert final_prefix([box] * 4, 0, r) == (0, [])
    n, coords = final_prefix([box] * 6, 0, r)
    assert n == 2 and coords == r.whole([box] * 6)[0][:2]
    # A miss might still be filled from the next face: nothing after the last face is final...
    assert final_prefix([box] * 6 + [None] * 3, 2, r) == (2, [])
    # ...until the run of misses outgrows the gap limit (25): then the run and the boxes before it are final.
    n, coords = final_prefix([box] * 6 + [None] * 26, 2, r)
    assert n == 32 and coords[-1] is None and coords[:4] == r.whole([box] * 6)[0][2:]


def stream_of(raw, r, check=lambda raw: None, gate=None):
    def boxes():
        for i, b in enumerate(raw):
            if gate is not None and i == gate[0]:
                gate[1].wait(10)
            yield b

    stored = []

    def finish(raw):
        check(raw)
        stored.append(raw)
        return r.whole(raw)

    return BoxStream(boxes(), r, finish), stored


def test_the_renderer_gets_boxes_before_detection_ends():
    box = (10, 10, 110, 110)
    raw = [(10 + i, 10, 110 + i, 110) for i in range(30)] + [box] * 30
    release = threading.Event()
    r = rules("interpolate")
    stream, stored = stream_of(raw, r, gate=(20, release))
    whole, _ = r.whole(raw)
    assert stream.at(15) == whole[15]  # the detector is held at frame 20: 15 is final (16 boxes after it)
    assert not stored
    release.set()
    assert stream.result() == (whole, 0) and stored == [raw]
    assert stream.at(61) == whole[1]  # speech longer than the video cycles its frames
    stream.close()


def test_a_failed_check_reaches_the_renderer():
    def check(raw):
        raise UserError("no face in any frame")

    stream, stored = stream_of([None] * 5, rules("interpolate"), check)
    with pytest.raises(UserError, match="no face in any frame"):
        stream.at(0)
    assert not stored


def test_missing_face_error_publishes_nothing_after_the_miss():
    box = (10, 10, 110, 110)
    seen = []

    def check(raw):
        seen.append(list(raw))
        raise UserError(f"face not detected in frame {raw.index(None)}")

    stream, _ = stream_of([box] * 10 + [None] + [box] * 10, rules("error"), check)
    with pytest.raises(UserError, match="frame 10"):
        stream.at(12)
    assert len(seen[0]) == 21  # the check saw the whole list, as without streaming
    assert len(stream.coords) <= 6  # boxes 0-5 at most (the four before the miss waited)
