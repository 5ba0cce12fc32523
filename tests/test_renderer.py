"""The renderer: serial and pipelined schedules give the original's frames; emotions share one decode."""

import threading

import cv2
import numpy as np
import pytest
import torch
from shared_data import seeded_state_dict

from emogen.common.contract import EMOTIONS, MEL_STEP_SIZE, emotion_one_hot
from emogen.common.precision import Precision, cpu_has_native_bf16, resolve_precision
from emogen.inference.generator import prepare_model
from emogen.inference.geometry import generator_inputs
from emogen.inference.renderer import RenderOutput, RenderSettings, make_batches, render
from models import Wav2Lip

BOX = (150, 470, 140, 450)
EXACT = Precision("fp32", None, False)


class ListWriter:
    """Stands in for the ffmpeg writer: keeps the frames."""

    def __init__(self, fail_at=None):
        self.frames, self.fail_at = [], fail_at

    def write(self, frame):
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise RuntimeError("encoder died")
        self.frames.append(frame.copy())


@pytest.fixture(scope="module")
def clip(shared):
    cap = cv2.VideoCapture(str(shared / "data/video/face3.mp4"))
    frames = []
    while len(frames) < 23:
        frames.append(cap.read()[1])
    rng = np.random.default_rng(0)
    mel = rng.normal(0, 1, (80, 23 * 4 + MEL_STEP_SIZE)).astype(np.float32)
    starts = [4 * i for i in range(23)]
    coords = [BOX] * 23
    coords[5] = None  # a frame without a face is passed through
    model = Wav2Lip().eval()
    model.load_state_dict(seeded_state_dict("emogen_generator"))
    return frames, mel, starts, coords, model


def original_frames(clip, emotion, batch_size=8):
    """The original algorithm on groups of ``batch_size`` frames: crop, resize, generate in float32, paste."""
    frames, mel, starts, coords, model = clip
    model = prepare_model(model, EXACT)
    out = [f.copy() for f in frames]
    for first in range(0, len(frames), batch_size):
        todo = [i for i in range(first, min(first + batch_size, len(frames))) if coords[i] is not None]
        faces = [out[i][coords[i][0] : coords[i][1], coords[i][2] : coords[i][3]] for i in todo]
        mel_t, face_t = generator_inputs(faces, [mel[:, starts[i] : starts[i] + MEL_STEP_SIZE] for i in todo], 96)
        with torch.inference_mode():
            pred = model(
                torch.from_numpy(mel_t),
                torch.from_numpy(face_t),
                torch.from_numpy(emotion_one_hot(emotion))[None].repeat(len(todo), 1),
            )
        for i, p in zip(todo, pred.numpy().transpose(0, 2, 3, 1)):
            y1, y2, x1, x2 = coords[i]  # the original's paste, written out: no project code in the reference
            out[i][y1:y2, x1:x2] = cv2.resize((p * 255.0).astype(np.uint8), (x2 - x1, y2 - y1))
    return out


def run(
    clip, emotions, pipelined, precision=EXACT, batch_size=8, fail_at=None, limit=None, blend="hard", lower_half=False
):
    frames, mel, starts, coords, model = clip
    frames = frames[:limit]
    settings = RenderSettings(
        torch.device("cpu"), batch_size, precision.dtype, pipelined, progress=False, blend=blend, lower_half=lower_half
    )
    outputs = [RenderOutput(e, f"{e}.mp4", ListWriter(fail_at)) for e in emotions]
    timings = {}
    batches = make_batches((f.copy() for f in frames), coords, False, mel, starts, 96, settings)
    render(prepare_model(model, precision), batches, outputs, len(frames), settings, timings, 0.0)
    assert "first frame" in timings
    return {o.emotion: o for o in outputs}


@pytest.mark.parametrize("pipelined", [False, True])
def test_fp32_is_the_original_frames(clip, pipelined):
    out = run(clip, ["HAP"], pipelined)["HAP"]
    expected = original_frames(clip, "HAP")
    assert len(out.writer.frames) == 23 and out.passed == 1
    for got, want in zip(out.writer.frames, expected):
        assert np.array_equal(got, want)
    assert np.array_equal(out.writer.frames[5], clip[0][5])


def test_six_emotions_from_one_decode_equal_each_alone(clip):
    together = run(clip, list(EMOTIONS), pipelined=True, limit=12)  # two batches, one with a faceless frame
    for emotion in ("ANG", "SAD"):
        alone = run(clip, [emotion], pipelined=False, limit=12)[emotion]
        assert all(np.array_equal(a, b) for a, b in zip(together[emotion].writer.frames, alone.writer.frames))
    # The emotions really differ (each pasted on its own copy of the shared frames).
    assert not np.array_equal(together["ANG"].writer.frames[0], together["SAD"].writer.frames[0])


def box_psnr(exact, other):
    y1, y2, x1, x2 = BOX
    a = np.stack(exact)[:, y1:y2, x1:x2].astype(np.float64)
    b = np.stack(other)[:, y1:y2, x1:x2].astype(np.float64)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_bf16_stays_within_40_db_of_fp32(clip):
    # 8 frames: bfloat16 is emulated (slow) on CPUs without AVX512_BF16.
    exact = run(clip, ["NEU"], True, limit=8)["NEU"].writer.frames
    reduced = run(clip, ["NEU"], True, Precision("bf16", "bfloat16", True), limit=8)["NEU"].writer.frames
    assert 40 < box_psnr(exact, reduced) < float("inf")


def test_fp32_channels_last_is_at_most_one_level_off(clip):
    exact = run(clip, ["FEA"], True)["FEA"].writer.frames
    fast = run(clip, ["FEA"], True, resolve_precision("fp32-cl", torch.device("cpu")))["FEA"].writer.frames
    diff = np.abs(np.stack(exact).astype(int) - np.stack(fast).astype(int))
    assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3
    assert box_psnr(exact, fast) > 60


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_failing_encoder_stops_the_run(clip, pipelined):
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="encoder died"):
        run(clip, ["HAP", "SAD"], pipelined, fail_at=9)
    assert threading.active_count() <= before  # no stage thread left behind


def test_precision_choice():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == EXACT
    assert resolve_precision("fp32-cl", cpu) == Precision("fp32-cl", None, True)
    assert resolve_precision("bf16", cpu) == Precision("bf16", "bfloat16", True)
    native = cpu_has_native_bf16()
    assert resolve_precision("auto", cpu).name == ("bf16" if native else "fp32-cl")
    with pytest.raises(Exception, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)


def test_blends_keep_the_inside_and_soften_only_the_border(clip):
    """feather keeps the generator's face inside the box, the frame outside it, and mixes the two only in the
    border band; the seam at the box's edge that the hard paste leaves is gone."""
    from emogen.inference.blending import FEATHER, feather_mask
    from evaluation.metrics.blend_quality import seam_ratio

    hard = run(clip, ["HAP"], True, limit=8)["HAP"].writer.frames
    soft = run(clip, ["HAP"], True, limit=8, blend="feather")["HAP"].writer.frames
    y1, y2, x1, x2 = BOX
    band = int(np.ceil(FEATHER * min(y2 - y1, x2 - x1)))
    for real, h, f, c in zip(clip[0][:8], hard, soft, clip[3]):
        if c is None:  # a frame without a face is passed through by every blend
            assert np.array_equal(f, real) and np.array_equal(h, real)
            continue
        inner = (slice(y1 + band, y2 - band), slice(x1 + band, x2 - band))
        assert np.array_equal(f[inner], h[inner])  # mask 1: the generated face as it is
        outside = np.ones(real.shape[:2], bool)
        outside[y1:y2, x1:x2] = False
        assert np.array_equal(f[outside], real[outside])
        assert seam_ratio(f, BOX) < 0.6 * seam_ratio(h, BOX)
    mask = feather_mask(y2 - y1, x2 - x1)
    assert mask.shape == (y2 - y1, x2 - x1, 1) and mask.max() == 1.0 and mask[0, 0, 0] < 0.01
    assert np.allclose(mask[:, :, 0], mask[::-1, ::-1, 0])  # symmetric


def test_a_lower_half_generator_keeps_the_frames_upper_face(clip):
    """With a Wav2Lip-style generator (lower half regenerated) the soft blend keeps the frame's own upper face,
    takes the generated lower face, and mixes them only in a band across the middle; hard pastes the whole box."""
    from emogen.inference.blending import FEATHER, lower_face_mask

    hard = run(clip, ["NEU"], True, limit=4, lower_half=True)["NEU"].writer.frames
    soft = run(clip, ["NEU"], True, limit=4, blend="feather", lower_half=True)["NEU"].writer.frames
    y1, y2, x1, x2 = BOX
    band = int(np.ceil(FEATHER * min(y2 - y1, x2 - x1)))
    middle = (y1 + y2) // 2
    for real, h, f in zip(clip[0][:4], hard, soft):
        upper = (slice(y1, middle - band // 2 - 1), slice(x1, x2))
        assert np.array_equal(f[upper], real[upper]) and not np.array_equal(h[upper], real[upper])
        lower = (slice(middle + band // 2 + 1, y2 - band), slice(x1 + band, x2 - band))
        assert np.array_equal(f[lower], h[lower])
    mask = lower_face_mask(y2 - y1, x2 - x1)[:, :, 0]
    assert mask[: (y2 - y1) // 2 - band // 2 - 1].max() == 0.0 and mask[-band - 1, (x2 - x1) // 2] == 1.0


def test_color_matching_moves_the_mean_towards_the_frame():
    from emogen.inference.blending import blend_into

    rng = np.random.default_rng(0)
    frame = np.full((120, 120, 3), (60, 120, 180), np.uint8)
    face = np.clip(rng.normal((90, 90, 90), 5, (80, 80, 3)), 0, 255).astype(np.uint8)
    box = (20, 100, 20, 100)
    plain, matched = frame.copy(), frame.copy()
    blend_into(plain, face, box, "feather")
    blend_into(matched, face, box, "feather-color")
    centre = (slice(50, 70), slice(50, 70))
    assert np.abs(matched[centre].mean(axis=(0, 1)) - (60, 120, 180)).max() < 6
    assert np.abs(plain[centre].mean(axis=(0, 1)) - (90, 90, 90)).max() < 6
