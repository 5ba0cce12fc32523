"""Wav2Lip's public generators: recognised, run with Wav2Lip's own input wherever an EmoGen generator runs, and
used to warm-start EmoGen's training."""

import os

import cv2
import numpy as np
import pytest
import torch
from shared_data import FACE3_BOX as BOX
from shared_data import ffmpeg, seeded_state_dict, seeded_weights

import inference
from emogen.common.errors import UserError, run_cli
from emogen.common.generator_kind import EMOGEN, LIPSYNC, WAV2LIP, generator_kind
from emogen.common.media import iter_frames
from emogen.common.weights import identify_state_dict
from models import Wav2Lip


@pytest.fixture(scope="module")
def parity(shared):
    return np.load(shared / "spec/parity_wav2lip_seed11.npz")


@pytest.fixture(scope="module")
def inputs():
    return seeded_weights().seeded_inputs("wav2lip_generator", 11)


@pytest.fixture(scope="module")
def wav2lip():
    model = Wav2Lip(emotion=False).eval()
    model.load_state_dict(seeded_state_dict("wav2lip_generator"))
    return model


@pytest.fixture(scope="module")
def media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("wav2lip")
    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "1.2", str(d / "speech.wav"))
    ffmpeg(
        "-i", str(shared / "data/video/face3.mp4"), "-t", "1.6", "-c:v", "libx264", "-crf", "12", str(d / "face.mp4")
    )
    sd = seeded_state_dict("wav2lip_generator")
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}, "global_step": 0}, d / "wav2lip_gan.pth")
    torch.save(sd, d / "wav2lip_bare.pth", _use_new_zipfile_serialization=False)
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, d / "emogen.pth")
    return d


def test_the_layout_and_both_paths_match_the_original(wav2lip, inputs, parity):
    keys = seeded_state_dict("wav2lip_generator")
    assert list(wav2lip.state_dict()) == list(keys) and len(keys) == 352
    with torch.no_grad():
        video = wav2lip(inputs["audio_sequences"], inputs["face_sequences"]).numpy()
        frames = wav2lip(inputs["frame_mels"], inputs["frame_faces"]).numpy()
    assert np.abs(video - parity["wav2lip_generator.video"]).max() < 1e-4
    assert np.abs(frames - parity["wav2lip_generator.frames"]).max() < 1e-4


def test_the_kind_is_recognised_in_every_file_form(media):
    assert generator_kind(str(media / "wav2lip_gan.pth")) == WAV2LIP  # training dict, module. prefix, zip
    assert generator_kind(str(media / "wav2lip_bare.pth")) == WAV2LIP  # bare state_dict, legacy pickle
    assert generator_kind(str(media / "emogen.pth")) == EMOGEN
    assert (
        identify_state_dict(seeded_state_dict("wav2lip_generator")) == "a Wav2Lip generator (lip sync only, no emotion)"
    )
    assert identify_state_dict(seeded_state_dict("emogen_generator")) == "an EmoGen generator"


def original_wav2lip_frames(model, frames, mel_chunks, box, batch_size=8):
    """Wav2Lip's inference.py on frames with a fixed box, written out: batches of crops, the lower half masked,
    masked and unmasked crops concatenated and divided by 255 in float64, float32 on the network, hard paste."""
    y1, y2, x1, x2 = box
    out = []
    for first in range(0, len(frames), batch_size):
        group = frames[first : first + batch_size]
        faces = np.asarray([cv2.resize(f[y1:y2, x1:x2], (96, 96)) for f in group])
        mels = np.asarray(mel_chunks[first : first + batch_size])
        masked = faces.copy()
        masked[:, 96 // 2 :] = 0
        img = np.concatenate((masked, faces), axis=3) / 255.0
        mels = np.reshape(mels, [len(mels), mels.shape[1], mels.shape[2], 1])
        with torch.no_grad():
            pred = model(
                torch.FloatTensor(np.transpose(mels, (0, 3, 1, 2))), torch.FloatTensor(np.transpose(img, (0, 3, 1, 2)))
            )
        for p, frame in zip(pred.numpy().transpose(0, 2, 3, 1) * 255.0, group):
            f = frame.copy()
            f[y1:y2, x1:x2] = cv2.resize(p.astype(np.uint8), (x2 - x1, y2 - y1))
            out.append(f)
    return out


def mel_chunks_of(wav_path, fps):
    import audio
    from emogen.inference.geometry import mel_chunk_starts

    mel = audio.melspectrogram(audio.load_wav(str(wav_path), 16000))
    return [mel[:, s : s + 16] for s in mel_chunk_starts(mel.shape[1], fps)]


def test_renderer_is_bit_exact_with_the_original(media, wav2lip):
    from emogen.common.precision import Precision
    from emogen.inference.generator import prepare_model
    from emogen.inference.renderer import RenderOutput, RenderSettings, make_batches, render

    frames = list(iter_frames(str(media / "face.mp4")))
    chunks = mel_chunks_of(media / "speech.wav", 25.0)
    frames = frames[: len(chunks)]
    expected = original_wav2lip_frames(wav2lip, frames, chunks, BOX)

    class Keep:
        def __init__(self):
            self.frames = []

        def write(self, frame):
            self.frames.append(frame.copy())

    mel = np.concatenate([c for c in chunks], axis=1)  # starts 16 apart: each window is its own chunk
    starts = [16 * i for i in range(len(chunks))]
    settings = RenderSettings(torch.device("cpu"), 8, None, False, progress=False, lower_half=True)
    out = RenderOutput(LIPSYNC, "x.mp4", Keep())
    batches = make_batches((f.copy() for f in frames), [BOX] * len(frames), False, mel, starts, 96, settings)
    render(prepare_model(wav2lip, Precision("fp32", None, False)), batches, [out], len(frames), settings, {}, 0.0)
    assert len(out.writer.frames) == len(expected)
    for got, want in zip(out.writer.frames, expected):
        assert np.array_equal(got, want)


def box_psnr(a, b):
    y1, y2, x1, x2 = BOX
    diff = np.stack(a)[:, y1:y2, x1:x2].astype(np.float64) - np.stack(b)[:, y1:y2, x1:x2]
    return 10 * np.log10(255**2 / max(np.mean(diff**2), 1e-10))


@pytest.mark.parametrize("extra", [["--precision", "fp32", "--backend", "torch"], []])
def test_inference_script_against_the_original_end_to_end(media, wav2lip, tmp_path, capsys, extra):
    """inference.py with a Wav2Lip checkpoint and no --emotion, fixed box, real video: the original's frames in
    the face box, on the exact path and on the defaults (OpenVINO where it is installed)."""
    out = tmp_path / "lipsync.mp4"
    argv = [
        "--checkpoint_path",
        str(media / "wav2lip_gan.pth"),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--box",
        *map(str, BOX),
        "--blend",
        "hard",
        "--outfile",
        str(out),
        "--no_progress",
        *extra,
    ]
    assert run_cli(inference.main, argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    got = list(iter_frames(str(out)))
    frames = list(iter_frames(str(media / "face.mp4")))
    chunks = mel_chunks_of(media / "speech.wav", 25.0)
    want = original_wav2lip_frames(wav2lip, frames[: len(chunks)], chunks, BOX)
    assert len(got) == len(want)
    assert box_psnr(got, want) >= 30


def test_emotions_are_refused_for_wav2lip_and_required_for_emogen(media, tmp_path, capsys):
    base = [
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--box",
        *map(str, BOX),
        "--outfile",
        str(tmp_path / "x.mp4"),
        "--no_progress",
    ]
    assert (
        run_cli(inference.main, ["--checkpoint_path", str(media / "wav2lip_gan.pth"), "--emotion", "HAP", *base]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --emotion HAP") and "lip sync only" in err[0]
    assert run_cli(inference.main, ["--checkpoint_path", str(media / "emogen.pth"), *base]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--emotion is needed with an EmoGen generator" in err[0]
    assert not (tmp_path / "x.mp4").exists()


def test_the_api_and_the_live_core_run_wav2lip(media):
    from emogen import EmoGen

    g = EmoGen.from_checkpoint(str(media / "wav2lip_gan.pth"), device="cpu", precision="fp32-cl", backend="torch")
    video = g.generate(face=media / "face.mp4", audio=media / "speech.wav", box=BOX)
    assert video.emotion == LIPSYNC and video.frames == len(mel_chunks_of(media / "speech.wav", 25.0))
    with pytest.raises(UserError, match="lip sync only"):
        g.generate(face=media / "face.mp4", audio=media / "speech.wav", emotion="SAD", box=BOX)
    import audio

    session = g.live(media / "face.mp4", max_waiting=1000, max_ready=1000, box=BOX)
    try:
        session.push(audio.load_wav(str(media / "speech.wav"), 16000).astype(np.float32))
        session.finish()
        live = list(session.frames(timeout=60))
    finally:
        session.close()
    assert len(live) == video.frames and live[0].emotion == LIPSYNC


def test_openvino_and_int8_run_wav2lip(media, tmp_path):
    from emogen.common.backends import openvino_installed
    from emogen.common.device import Device
    from emogen.common.precision import Precision
    from emogen.inference.generator import build_generator, has_emotion
    from emogen.inference.int8_calibration import input_batches, load_clip_inputs

    if not openvino_installed():
        pytest.skip("OpenVINO is not installed here")
    clip = load_clip_inputs(str(media / "face.mp4"), str(media / "speech.wav"), 16, face_detector="opencv")
    batches = input_batches(clip, 2, 8, kind=WAV2LIP)
    assert all(len(b) == 2 for b in batches)  # mel and face: no emotion
    f32 = build_generator(
        str(media / "wav2lip_gan.pth"),
        Device("cpu"),
        Precision("fp32-cl", None, True),
        "openvino",
        cache_dir=str(tmp_path / "models"),
    )
    assert not has_emotion(f32)
    with torch.no_grad():
        reference = Wav2Lip(emotion=False).eval()
        reference.load_state_dict(seeded_state_dict("wav2lip_generator"))
        want = reference(torch.from_numpy(batches[0][0]), torch.from_numpy(batches[0][1])).numpy()
    assert np.abs(f32(*batches[0]) - want).max() < 1e-3
    int8 = build_generator(
        str(media / "wav2lip_gan.pth"),
        Device("cpu"),
        Precision("int8", None, True),
        "openvino",
        cache_dir=str(tmp_path / "models"),
        calibration=lambda: batches,
        check=lambda: batches,
    )
    assert int8.precision_name == "int8" and not has_emotion(int8)
    import json

    [fidelity] = list((tmp_path / "models").rglob("fidelity.json"))
    values = json.loads(fidelity.read_text())
    assert list(values["psnr_db"]) == [LIPSYNC] and values["psnr_db"][LIPSYNC] > 30


def test_gen_videos_and_web_page_serve_wav2lip(media, tmp_path):
    from emogen.apps.web.server import WebConfig, create_app
    from evaluation import gen_videos_from_filelist

    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "clip.mp4").write_bytes((media / "face.mp4").read_bytes())
    (tmp_path / "list.txt").write_text("clip\n")
    argv = [
        "--filelist",
        str(tmp_path / "list.txt"),
        "--video_root",
        str(tmp_path / "v"),
        "--out_dir",
        str(tmp_path / "out"),
        "--checkpoint_path",
        str(media / "wav2lip_gan.pth"),
        "--face_detector",
        "opencv",
        "--no_progress",
        "--backend",
        "torch",
    ]
    assert run_cli(gen_videos_from_filelist.main, argv) == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["clip_lipsync.mp4"]

    app = create_app(
        WebConfig(
            str(media / "wav2lip_gan.pth"),
            device="cpu",
            face_detector="opencv",
            backend="torch",
            work_root=str(tmp_path / "w"),
        )
    )
    try:
        cfg = app.test_client().get("/api/config").get_json()
        assert cfg["ready"] and cfg["lipsync_only"] and cfg["emotions"] == [] and "Wav2Lip" in cfg["notice"]
        refused = app.test_client().post(
            "/api/jobs",
            data={
                "emotion": "HAP",
                "face_example": "example face (video)",
                "audio_example": "example speech (English)",
            },
        )
        assert refused.status_code == 400 and "lip sync only" in refused.get_json()["error"]
    finally:
        app.extensions["emogen_queue"].shutdown()


def test_warm_start_equals_wav2lip_for_every_emotion(media, inputs, parity, tmp_path):
    """EmoGen built from a Wav2Lip generator computes Wav2Lip's output for each of the six emotions (training
    path and inference path), since the emotion half of its first decoder layer starts at zero."""
    from emogen.training.warm_start import FIRST_DECODER_WEIGHT, warm_start

    torch.manual_seed(0)
    model = Wav2Lip().eval()
    before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("emotion_encoder.")}
    assert warm_start(model, str(media / "wav2lip_gan.pth")) == WAV2LIP
    source = seeded_state_dict("wav2lip_generator")
    state = model.state_dict()
    assert all(torch.equal(state[k], v.reshape(state[k].shape)) for k, v in source.items() if k != FIRST_DECODER_WEIGHT)
    assert torch.equal(state[FIRST_DECODER_WEIGHT][:, :512], source[FIRST_DECODER_WEIGHT])
    assert not state[FIRST_DECODER_WEIGHT][:, 512:].any()
    assert all(torch.equal(state[k], v) for k, v in before.items())  # the emotion encoder keeps its start
    eye = torch.eye(6)
    with torch.no_grad():
        for e in range(6):
            video = model(inputs["audio_sequences"], inputs["face_sequences"], eye[[e, e]]).numpy()
            frames = model(inputs["frame_mels"], inputs["frame_faces"], eye[[e, e, e]]).numpy()
            assert np.abs(video - parity["wav2lip_generator.video"]).max() < 1e-5
            assert np.abs(frames - parity["wav2lip_generator.frames"]).max() < 1e-5
    # An EmoGen checkpoint loads as it is.
    assert warm_start(Wav2Lip(), str(media / "emogen.pth")) == EMOGEN
