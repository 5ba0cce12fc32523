"""demo.py --dataset on the six genuine CREMA-D clips: every stage, the six renders, their scores, the grid."""

import shutil

import cv2
import numpy as np
import pytest

import demo
from emogen.apps.crema_clips import check_dataset
from emogen.apps.emotion_demo import (
    GRID_FRAMES,
    HOLDOUT_SECONDS,
    DatasetDemoConfig,
    DatasetDemoReport,
    format_dataset_report,
    generator_flags,
    run_dataset_demo,
)
from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError, run_cli
from emogen.common.media import iter_frames


def test_a_folder_without_six_emotions_of_one_actor_is_refused(shared, tmp_path, capsys):
    for e in EMOTIONS[:5]:
        shutil.copy(shared / f"data/crema-d/1001_DFA_{e}_XX.flv", tmp_path / f"1001_DFA_{e}_XX.flv")
    with pytest.raises(UserError, match="no actor with all six emotions"):
        check_dataset(str(tmp_path))
    assert run_cli(demo.main, ["--dataset", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert run_cli(demo.main, ["--dataset", str(tmp_path), "--face", "x.mp4"]) == 2
    assert "--face: not used by a --dataset run" in capsys.readouterr().err
    assert run_cli(demo.main, ["--reference", "other_emotion"]) == 2
    assert "error: --reference: for a --dataset run only" in capsys.readouterr().err
    assert run_cli(demo.main, ["--augment", "--emo_blur", "1"]) == 2
    assert "error: --emo_blur, --augment: for a --dataset run only" in capsys.readouterr().err


def test_augment_emo_blur_and_released_layout_reach_the_dataset_demo_config(shared, tmp_path, monkeypatch):
    import emogen.apps.emotion_demo as emotion_demo

    configs = []
    monkeypatch.setattr(emotion_demo, "run_dataset_demo", lambda cfg: configs.append(cfg) or DatasetDemoReport())
    monkeypatch.setattr(emotion_demo, "format_dataset_report", lambda report: "")
    assert run_cli(demo.main, ["--dataset", str(shared / "data/crema-d"), "--augment"]) == 0
    assert run_cli(demo.main, ["--dataset", str(shared / "data/crema-d")]) == 0
    assert run_cli(demo.main, ["--dataset", str(shared / "data/crema-d"), "--emo_blur", "0.7"]) == 0
    assert run_cli(demo.main, ["--dataset", str(shared / "data/crema-d"), "--released_layout"]) == 0
    assert [c.generator_augment for c in configs] == [True, False, False, False]
    # The blur joins the generator's hyper-parameters only when asked for; the released layout leaves out the
    # per-scale emotion layers, whose hyper-parameter is then at its default (off).
    assert [c.recipe.get("emo_blur") for c in configs] == [None, None, 0.7, None]
    assert [c.recipe.get("emotion_film") for c in configs] == [True, True, True, None]
    assert [(c.reference, c.recipe["emo_wt"], c.train_steps) for c in configs[1:2]] == [("other_emotion", 0.0, 1000)]
    assert run_cli(demo.main, ["--released_layout"]) == 2  # without --dataset


def test_the_discriminator_is_trained_only_for_a_recipe_with_an_emotion_term(tmp_path):
    def config(**kw):
        return DatasetDemoConfig(str(tmp_path), work_dir=str(tmp_path / "run"), **kw)

    assert not config().trains_against_discriminator  # L1 alone: train.py runs without one
    assert config(emo_wt=0.01).trains_against_discriminator and config(emo_swap_wt=0.03).trains_against_discriminator
    assert generator_flags(config()) == ["--seed", "0", "--no_augment"]
    assert generator_flags(config(seed=1, generator_augment=True)) == ["--seed", "1"]


@pytest.mark.slow
def test_the_dataset_demo_runs_every_stage_on_the_real_clips(shared, tmp_path):
    cfg = DatasetDemoConfig(
        str(shared / "data/crema-d"), work_dir=str(tmp_path / "run"), warmup_steps=2, train_steps=2, disc_steps=3
    )
    report = run_dataset_demo(cfg)
    text = format_dataset_report(report)
    assert [j.requested for j in report.judgements] == list(EMOTIONS)
    assert "reference windows other_emotion" in text and "emo_wt=0," in text and "emotion_film=True;" in text
    numbers = report.numbers
    assert 0 <= numbers["renders the classifier assigns to the requested emotion (of 6)"] <= 6
    assert numbers["upper-face distance between the six renders (0-255 levels)"] > 0  # two steps already differ
    assert numbers["the same distance between the six real clips"] > 2  # six real expressions
    assert 0 <= numbers["each clip rendered from its own faces with its own label, assigned to it (of 6)"] <= 6
    assert 5 < numbers["held-out face PSNR, NEU (dB)"] < 60
    # The outside judge (fer, trained on other people) on the real clips: FEA, HAP, NEU, SAD (measured).
    assert numbers["outside judge: the real clips the same way (of 5)"] == 4
    assert 0 <= numbers["outside judge: renders that score their own label highest (of 5)"] <= 5
    # Resampling the real clips' frames keeps their count at 3 or more (measured: every resample, most at 4).
    assert numbers["outside judge: frame resamples where 3 or more real clips do (%)"] > 90
    assert 0 <= numbers["outside judge: frame resamples where 3 or more renders do (%)"] <= 100
    assert "the outside judge (fer" in text and "render scores it highest" in text
    # Lip sync: the NEU clip with speech it never spoke, beside the real clip with its own (measured 0.48).
    assert numbers["the real NEU clip with its own speech (r)"] == pytest.approx(0.48, abs=0.1)
    # Two steps draw a mouth that barely moves: its correlation may be undefined, and the report then says so.
    for name in ("dubbing sync, new speech (r)", "copy of the source clip's mouth (r)"):
        assert numbers[name] is None or -1 <= numbers[name] <= 1
    if numbers["dubbing sync, new speech (r)"] is None:
        assert "- (undefined)" in text and "note: dubbing sync is undefined" in text
    for picture in ("label differences", "mouth and speech over time"):
        assert cv2.imread(report.artifacts[picture]) is not None

    # The training parts end HOLDOUT_SECONDS before each clip does; the whole clips are scored.
    run = tmp_path / "run"
    for e in EMOTIONS:
        whole = len(list((run / "whole" / f"1001_DFA_{e}_XX").glob("*.jpg")))
        part = len(list((run / "preprocessed" / f"1001_DFA_{e}_XX").glob("*.jpg")))
        assert whole - part == pytest.approx(HOLDOUT_SECONDS * 25, abs=1)

    # Each phase keeps its last step's checkpoint only (checkpoint_at_step_one=False); with no emotion term no
    # discriminator is trained or saved.
    for phase in ("generator_warmup", "generator"):
        saved = sorted(p.name for p in (run / "checkpoints" / phase).glob("*.pth"))
        assert saved == ["checkpoint_step000000002.pth"]
    assert not (run / "checkpoints" / "emotion").exists() and "emotion discriminator" not in report.artifacts

    grid = cv2.imread(report.artifacts["grid"])
    assert grid.shape == (24 + 6 * 96, 48 + 2 * GRID_FRAMES * 96 + 6, 3)
    # The left half of each row shows that emotion's real crops: the first tile is the clip's first frame.
    first_sad = cv2.resize(cv2.imread(str(run / "whole" / "1001_DFA_SAD_XX" / "0.jpg")), (96, 96))
    assert np.abs(grid[24 + 5 * 96 : 24 + 6 * 96, 48 : 48 + 96].astype(int) - first_sad).mean() < 1

    neu_frames = sum(1 for _ in iter_frames(str(run / "fps25" / "1001_DFA_NEU_XX.mp4")))
    videos = report.artifacts["videos"].split(", ")
    assert len(videos) == 6 and all(f"_{e}.mp4" in v for e, v in zip(EMOTIONS, videos))
    counts = {sum(1 for _ in iter_frames(video)) for video in videos}
    # One length for all six: the speech's mel windows, which end a few frames before the picture.
    assert len(counts) == 1 and neu_frames - 4 <= counts.pop() <= neu_frames
