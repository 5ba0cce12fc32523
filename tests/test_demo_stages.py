"""The demos' stage builders: the commands they spell for the project's scripts."""

from emogen.apps.demo_stages import GeneratorRun, generator_stage, hparam_settings
from hparams import hparams as default_hparams


def test_hparam_settings_write_bools_as_words_and_numbers_compactly():
    settings = hparam_settings({"emotion_film": True, "emo_wt": 0.0, "initial_learning_rate": 1e-3, "batch_size": 4})
    assert settings == ["emotion_film=True", "emo_wt=0", "initial_learning_rate=0.001", "batch_size=4"]


def test_generator_stage_hparams_read_back_as_the_recipe(tmp_path):
    recipe = {"batch_size": 4, "initial_learning_rate": 1e-3, "emo_wt": 0.0, "emotion_film": True}
    run = GeneratorRun("data", str(tmp_path / "gen"), "expert.pth", "disc.pth", recipe, steps=10)
    args = generator_stage("train", run, []).args
    given = [args[i + 1] for i, a in enumerate(args) if a == "--hparams"]
    parsed = default_hparams.copy().apply_overrides(given)
    assert {k: getattr(parsed, k) for k in recipe} == recipe
    assert args[args.index("--max_steps") + 1] == "10"
    assert args[args.index("--emotion_disc_path") + 1] == "disc.pth"


def test_a_generator_stage_without_a_discriminator_leaves_its_flag_out_and_shows_progress(tmp_path):
    run = GeneratorRun("data", str(tmp_path / "gen"), "expert.pth", None, {"emo_wt": 0.0}, steps=10)
    stage = generator_stage("train", run, ["--num_workers", "0", "--no_progress"])
    assert "--emotion_disc_path" not in stage.args and "--no_progress" not in stage.args and stage.progress
