"""Every flag that several commands share is one definition: the same values, ranges, kinds and defaults in each
(inference.py, live.py, app.py, gen_videos_from_filelist.py; and among the three trainers)."""

import argparse
import importlib

import pytest

from emogen.inference.arguments import options_from_args

RENDERERS = {
    "inference.py": "emogen.cli.inference",
    "live.py": "emogen.cli.live",
    "app.py": "emogen.cli.web",
    "gen_videos_from_filelist.py": "evaluation.gen_videos_from_filelist",
}
TRAINERS = {
    "train.py": "emogen.cli.train",
    "color_syncnet_train.py": "emogen.cli.color_syncnet_train",
    "emotion_disc_train.py": "emogen.cli.emotion_disc_train",
}
# Values that sit on, just inside and just outside every range the commands use.
PROBES = ["-100001", "-10001", "-2", "-1", "0", "0.5", "1", "2", "64", "240", "241", "250", "251", "1000", "1001"]
PROBES += ["4096", "4097", "16384", "16385", "100000", "100001", "1e9", "nan", "abc", "True", "false"]
# Flags whose default is the command's own on purpose: the paper's videos keep the original's detection and
# paste; each trainer evaluates as many batches, and seeds as, its original script.
OWN_DEFAULTS = {"--detection", "--blend", "--reference", "--eval_batches", "--seed"}


def parser_of(module: str) -> argparse.ArgumentParser:
    return importlib.import_module(module).get_args_parser()


def signature(action: argparse.Action, with_default: bool) -> tuple:
    """What a flag accepts and means: its kind, arity, choices, constant, default and how its type answers every
    probe value."""
    answers = ()
    if action.type is not None:
        answers = []
        for value in PROBES:
            try:
                answers.append(repr(action.type(value)))
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                answers.append(f"refused: {exc}")
        answers = tuple(answers)
    default = action.default if with_default else None
    choices = tuple(action.choices) if action.choices is not None else None
    return type(action).__name__, action.nargs, choices, action.const, repr(default), answers


def shared_flags(commands: dict) -> dict:
    """{flag: {command: action}} for the flags two or more of ``commands`` define."""
    flags: dict = {}
    for name, module in commands.items():
        for action in parser_of(module)._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    flags.setdefault(flag, {})[name] = action
    return {flag: where for flag, where in flags.items() if len(where) > 1}


@pytest.mark.parametrize("group", [RENDERERS, TRAINERS], ids=["renderers", "trainers"])
def test_shared_flags_take_the_same_values_everywhere(group):
    shared = shared_flags(group)
    assert shared, "the commands share no flag at all"
    for flag, where in shared.items():
        seen = {name: signature(action, flag not in OWN_DEFAULTS) for name, action in where.items()}
        assert len(set(seen.values())) == 1, (flag, seen)


def test_the_render_commands_share_their_face_detection_and_runtime_flags():
    shared = shared_flags(RENDERERS)
    for flag in ("--face_detector", "--detection", "--detection_cache_dir", "--precision", "--backend", "--device"):
        assert set(shared[flag]) == set(RENDERERS), flag
    for flag in ("--box", "--static", "--pads", "--fps", "--max_megapixels"):
        assert {"inference.py", "live.py"} <= set(shared[flag]), flag


def test_box_of_minus_ones_means_detection_and_a_real_box_is_kept():
    p = parser_of("emogen.cli.inference")
    base = ["--checkpoint_path", "g.pth", "--face", "f.mp4", "--audio", "a.wav"]
    assert options_from_args(p.parse_args(base)).box is None
    assert options_from_args(p.parse_args(base + ["--box", "-1", "-1", "-1", "-1"])).box is None
    assert options_from_args(p.parse_args(base + ["--box", "10", "90", "20", "80"])).box == [10, 90, 20, 80]
    # --static: alone, or with a value as in the original command line, in every command that has it.
    for module in ("emogen.cli.inference", "emogen.cli.live"):
        parser = parser_of(module)
        extra = ["--outfile", "o.mp4"] if module.endswith("live") else []
        assert parser.parse_args(base + extra + ["--static"]).static is True
        assert parser.parse_args(base + extra + ["--static", "False"]).static is False
