"""The tree passes the linter and the formatter configured in pyproject.toml (ruff), as CI enforces."""

import shutil
import subprocess
import sys

import pytest
from shared_data import REPO_ROOT


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO_ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module", autouse=True)
def ruff_installed():
    if shutil.which("ruff") is None and ruff("--version").returncode != 0:
        pytest.fail("ruff is not installed: bash scripts/setup --dev (or pip install -e '.[dev]')")


def test_ruff_check_passes():
    proc = ruff("check", "--no-cache", ".")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_format_check_passes():
    proc = ruff("format", "--no-cache", "--check", ".")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_the_checks_are_live(tmp_path):
    """The same configuration fails an unsorted import and a badly formatted line."""
    (tmp_path / "pyproject.toml").write_text((REPO_ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("import sys\nimport os\nx = {  'a':1 }\nprint(os, sys, x)\n")
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "bad.py"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 1 and "I001" in check.stdout
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--no-cache", "--check", "bad.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 1 and "bad.py" in fmt.stdout
