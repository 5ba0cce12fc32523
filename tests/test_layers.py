"""The folder tree is the dependency graph: import contracts hold, and parsing a command line loads no torch."""

import subprocess
import sys

import pytest
from shared_data import REPO_ROOT

SCRIPTS = [
    "inference.py",
    "convertFPS.py",
    "preprocess_crema-d.py",
    "color_syncnet_train.py",
    "emotion_disc_train.py",
    "train.py",
    "demo.py",
    "app.py",
    "evaluation/calculate_fid.py",
    "evaluation/emotion_accuracy.py",
    "evaluation/score_lse.py",
    "evaluation/img_eval.py",
    "evaluation/gen_videos_from_filelist.py",
    "live.py",
]


def lint_imports(folder) -> subprocess.CompletedProcess:
    """import-linter's checker on the contracts in ``folder``/.importlinter."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True)


def test_import_contracts_hold():
    proc = lint_imports(REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout and "5 kept" in proc.stdout


def test_contract_violation_is_caught(tmp_path):
    """The checker is live: a copy of the tree where the bottom layer imports a stage breaks the contract."""
    import shutil

    for name in ("emogen", "face_detection", "models", "evaluation"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    for name in ("audio.py", "hparams.py", ".importlinter"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    with open(tmp_path / "emogen" / "common" / "errors.py", "a") as handle:
        handle.write("\nfrom emogen.inference import geometry  # noqa\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0
    assert "emogen.common is not allowed to import emogen.inference" in proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_imports_no_torch(script):
    # -X importtime lists every module the interpreter imports, on stderr.
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", script, "--help"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported, f"{script} --help imported torch"


def test_training_datasets_load_no_media_stack():
    """A DataLoader worker imports the dataset module: it needs neither librosa nor the preprocessing code."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import emogen.data.datasets"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "emogen.data.datasets" in imported
    assert not imported & {"librosa", "audio", "emogen.data.preprocess", "face_detection"}


def test_the_apps_stay_small_rooms():
    """No function in emogen/apps over 80 lines and no file over 400: a demo is a list of stages, not a script."""
    import ast

    for path in sorted((REPO_ROOT / "emogen" / "apps").rglob("*.py")):
        text = path.read_text()
        assert len(text.splitlines()) <= 400, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno + 1 <= 80, f"{path}: {node.name}"
