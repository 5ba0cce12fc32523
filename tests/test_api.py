"""The Python API (emogen.EmoGen): the same frames as inference.py, files saved atomically, library-worded errors,
the live core through the same object, and the README's example run as written."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from shared_data import FACE3_BOX as BOX
from shared_data import REPO_ROOT, ffmpeg, seeded_state_dict

import inference
from emogen import EmoGen, GeneratedVideo, UserError
from emogen.common.errors import run_cli
from emogen.common.media import iter_frames


def expected_frames(wav_path, fps=25.0):
    import audio
    from emogen.inference.geometry import mel_chunk_starts

    return len(mel_chunk_starts(audio.melspectrogram(audio.load_wav(str(wav_path), 16000)).shape[1], fps))


def frame_shape(path):
    return next(iter_frames(str(path))).shape


@pytest.fixture(scope="module")
def media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "1.2", str(d / "speech.wav"))
    ffmpeg(
        "-i", str(shared / "data/video/face3.mp4"), "-t", "1.6", "-c:v", "libx264", "-crf", "12", str(d / "face.mp4")
    )
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, d / "emogen.pth")
    return d


def test_generate_equals_the_command_line(media, tmp_path):
    g = EmoGen.from_checkpoint(str(media / "emogen.pth"), device="cpu", precision="fp32", backend="torch")
    video = g.generate(face=media / "face.mp4", audio=media / "speech.wav", emotion="HAP", box=BOX)
    assert isinstance(video, GeneratedVideo) and video.emotion == "HAP"
    frames = video.to_array()
    assert frames.shape[0] == video.frames == expected_frames(media / "speech.wav")
    assert frames.shape[1:] == frame_shape(media / "face.mp4")
    assert video.settings["precision"] == "fp32" and video.settings["backend"] == "torch"
    saved = video.save(str(tmp_path / "out dir" / "api.mp4"))
    assert os.path.isfile(saved) and not [n for n in os.listdir(tmp_path / "out dir") if n.startswith(".")]

    cli_out = str(tmp_path / "cli.mp4")
    argv = [
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--emotion",
        "HAP",
        "--outfile",
        cli_out,
        "--box",
        *map(str, BOX),
        "--precision",
        "fp32",
        "--backend",
        "torch",
        "--device",
        "cpu",
        "--no_progress",
    ]
    assert run_cli(inference.main, argv) == 0
    cli_frames = np.stack(list(iter_frames(cli_out)))
    # One generator, one encoder, the same settings: the two files decode to the same frames.
    assert np.array_equal(cli_frames, frames)
    # The same object again reuses its network.
    network = g.generator
    again = g.generate(face=media / "face.mp4", audio=media / "speech.wav", emotion="SAD", box=BOX)
    assert g.generator is network and again.frames == video.frames


def test_generate_each_and_cleanup(media):
    g = EmoGen.from_checkpoint(str(media / "emogen.pth"), device="cpu", precision="fp32-cl", backend="torch")
    videos = g.generate_each(media / "face.mp4", media / "speech.wav", ["ANG", "NEU"], box=BOX)
    assert sorted(videos) == ["ANG", "NEU"]
    a, n = (next(iter(videos[e].iter_frames())) for e in ("ANG", "NEU"))
    assert a.shape == n.shape and not np.array_equal(a, n)  # the label reaches the network
    folder = os.path.dirname(videos["ANG"].path)
    assert os.path.isdir(folder)
    del videos, a, n
    import gc

    gc.collect()
    assert not os.path.exists(folder)  # the private folder goes with the last video


def test_errors_use_the_api_names(media, tmp_path, capsys):
    g = EmoGen.from_checkpoint(str(media / "emogen.pth"), device="cpu", precision="fp32", backend="torch")
    with pytest.raises(UserError) as err:
        g.generate(face=tmp_path / "nope.mp4", audio=media / "speech.wav", emotion="HAP")
    assert str(err.value).startswith("face ") and "file not found" in str(err.value) and "--" not in str(err.value)
    with pytest.raises(UserError) as err:
        g.generate(face=media / "face.mp4", audio=media / "speech.wav", emotion="JOY")
    assert "--emotion" not in str(err.value) and "JOY" in str(err.value)
    with pytest.raises(UserError) as err:
        EmoGen.from_checkpoint(str(tmp_path / "missing.pth"))
    assert "weights not found" in str(err.value) and "--checkpoint_path" not in str(err.value)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        g.generate(face=media / "face.mp4", audio=media / "speech.wav", emotion="HAP", colour="red")
    # The command line shows the same error with its flag.
    argv = [
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(tmp_path / "nope.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--emotion",
        "HAP",
        "--outfile",
        str(tmp_path / "x.mp4"),
    ]
    assert run_cli(inference.main, argv) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: --face {tmp_path / 'nope.mp4'}: file not found")


def test_generate_names_every_argument_in_its_signature():
    """No **settings: each keyword a call may pass is in the signature, so a typo fails at the call and help()
    lists them all."""
    import inspect

    for method in (EmoGen.generate, EmoGen.generate_each, EmoGen.live):
        kinds = {p.kind for p in inspect.signature(method).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds, method.__name__
    assert {"box", "pads", "static", "fps", "settings", "enhance", "on_progress"} <= set(
        inspect.signature(EmoGen.generate).parameters
    )


def test_live_session_through_the_api(media):
    import audio

    g = EmoGen.from_checkpoint(str(media / "emogen.pth"), device="cpu", precision="fp32-cl", backend="torch")
    session = g.live(media / "face.mp4", emotion="HAP", max_waiting=1000, max_ready=1000, box=BOX)
    try:
        wav = audio.load_wav(str(media / "speech.wav"), 16000).astype(np.float32)
        session.push(wav)
        session.finish()
        frames = list(session.frames(timeout=60))
    finally:
        session.close()
    assert len(frames) == expected_frames(media / "speech.wav")
    assert frames[0].image.shape == frame_shape(media / "face.mp4") and frames[0].emotion == "HAP"


def readme_python_example() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"<!-- test:python-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md has no Python example after <!-- test:python-example -->"
    return match.group(1)


def test_readme_python_example_runs(media, tmp_path):
    """The README's example, run as a user would, with the paths pointed at the test's files."""
    code = readme_python_example()
    for name in ("checkpoints/emogen_generator.pth", "face.mp4", "speech.wav"):
        assert f'"{name}"' in code, name
    code = (
        code.replace('"checkpoints/emogen_generator.pth"', repr(str(media / "emogen.pth")))
        .replace('"face.mp4"', repr(str(media / "face.mp4")))
        .replace('"speech.wav"', repr(str(media / "speech.wav")))
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out.mp4").is_file()
    assert len(list(iter_frames(str(tmp_path / "out.mp4")))) == expected_frames(media / "speech.wav")


def test_save_takes_a_path_and_never_replaces_an_input(media, tmp_path):
    g = EmoGen.from_checkpoint(media / "emogen.pth", device="cpu", precision="fp32-cl", backend="torch")
    face = tmp_path / "myface.mp4"
    import shutil

    shutil.copy(media / "face.mp4", face)
    video = g.generate(face=face, audio=media / "speech.wav", emotion="HAP", box=BOX)
    before = face.read_bytes()
    with pytest.raises(UserError, match="is also the face input"):
        video.save(face)
    assert face.read_bytes() == before
    assert video.save(tmp_path / "out.mp4") == str(tmp_path / "out.mp4")  # a pathlib.Path
    for bad, text in ((str(face / "x.mp4"), "is a file, not a folder"), ("/proc/x.mp4", "cannot write in /proc")):
        with pytest.raises(UserError, match=text) as refused:
            video.save(bad)
        assert "/." not in str(refused.value)  # no hidden temporary name


def test_wrong_argument_types_are_one_line_errors_in_the_apis_words(media):
    with pytest.raises(UserError, match="checkpoint_path .*weights not found"):
        EmoGen("/nonexistent.pth")
    g = EmoGen.from_checkpoint(media / "emogen.pth", device="cpu", precision="fp32-cl", backend="torch")
    face, speech = media / "face.mp4", media / "speech.wav"
    for call, text in (
        (lambda: g.generate(face, speech, emotion=3), "emotion must be one of"),
        (lambda: g.generate(face, speech, emotion="HAP", fps="25"), "fps must be a number, got '25'"),
        (lambda: g.generate(123, speech, emotion="HAP"), "face must be a file path"),
        (lambda: g.live(face, "all"), "a live session speaks one emotion at a time"),
    ):
        with pytest.raises(UserError, match=text):
            call()
    assert g._generator is None  # every check came before the network was built
    session = g.live(face, "HAP", box=BOX)
    try:
        with pytest.raises(UserError, match="pcm must be a 1-D array"):
            session.push("abc")
    finally:
        session.close()


def test_two_threads_build_the_generator_once(media, monkeypatch):
    import threading
    import time

    import emogen.apps.api as api

    built = []

    def slow_build(path, runtime):
        built.append(path)
        time.sleep(0.3)
        return object()

    monkeypatch.setattr(api, "generator_for", slow_build)
    g = EmoGen.from_checkpoint(media / "emogen.pth", device="cpu", precision="fp32-cl", backend="torch")
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(g.generator)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and seen[0] is seen[1]


def test_no_face_leaves_no_frame_anywhere_and_names_the_apis_settings(media, tmp_path, monkeypatch):
    """A face video without a face: the error names API settings, no frame file, nothing in the current folder."""
    blank = tmp_path / "blank.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:d=1", str(blank)],
        check=True,
    )
    monkeypatch.chdir(tmp_path)
    g = EmoGen.from_checkpoint(media / "emogen.pth", device="cpu", precision="fp32-cl", backend="torch")
    for call in (
        lambda: g.generate(blank, media / "speech.wav", emotion="HAP"),
        lambda: g.live(blank, "HAP"),
    ):
        with pytest.raises(UserError) as refused:
            call()
        text = str(refused.value)
        assert "no face" in text and "saved" not in text and "--" not in text and "try pads, box" in text
    assert sorted(os.listdir(tmp_path)) == ["blank.mp4"]
