"""The documentation: a short front page whose links resolve, and a docs site that builds with --strict."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from shared_data import REPO_ROOT

PAGES = [
    "README.md",
    "CHANGELOG.md",
    "checkpoints/README.md",
    *sorted(f"docs/{name}" for name in os.listdir(REPO_ROOT / "docs") if name.endswith(".md")),
]


def test_readme_is_a_front_page():
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, len(lines)


def anchors(markdown: str) -> set:
    """The ids mkdocs' toc extension gives the headings of a page."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\s-]", "", heading.strip().lower())
        found.add(re.sub(r"[\s]+", "-", slug).strip("-"))
    return found


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page):
    """Every relative link of a page points at an existing file, and at an existing heading when it names one."""
    text = re.sub(r"```.*?```", "", (REPO_ROOT / page).read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (REPO_ROOT / page).parent / path if path else REPO_ROOT / page
        assert file.exists(), f"{page}: {target}"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file.read_text()), f"{page}: {target}"


@pytest.mark.parametrize("page", PAGES)
def test_no_development_history_in_the_docs(page):
    """The docs describe the software; how it came to be belongs in commit messages and CHANGELOG.md."""
    if page == "CHANGELOG.md":
        return
    text = (REPO_ROOT / page).read_text().lower()
    for phrase in (
        "this session",
        "earlier session",
        "previous commit",
        "the commit before",
        "the issue",
        "speed issue",
        "was not available",
        "no machine was lent",
        "an earlier version",
        "measured before",
        "not measured yet",
        "earlier default",
        "no longer",
        "used before",
        "the goal was",
        "last stop",
        "review round",
    ):
        assert not re.search(rf"\b{phrase}\b", text), f"{page}: {phrase!r}"
    # "here" names a machine or a moment, not the software: the docs say which machine, or say nothing.
    found = re.search(r".{0,40}\bhere\b.{0,20}", text)
    assert found is None, f"{page}: 'here' in {found.group(0)!r}"


def test_test_files_are_named_for_what_they_check():
    assert not [n for n in os.listdir(REPO_ROOT / "tests") if re.search(r"round\d|round_", n)]


def test_dated_figures_live_in_the_benchmarks_page_each_table_headed():
    """Every table of docs/benchmarks.md follows a 'date, commit, machine' line of its own section; the front
    page carries no dated table."""
    lines = (REPO_ROOT / "docs/benchmarks.md").read_text().splitlines()
    dated = None
    for n, line in enumerate(lines):
        if line.startswith("#"):
            dated = None
        if re.search(r"\d{4}-\d{2}-\d{2}, commit [0-9a-f]{7}, [A-Z]", line):
            dated = n
        if line.startswith("|") and not lines[n - 1].startswith("|"):
            assert dated is not None, f"docs/benchmarks.md:{n + 1}: a table without its date, commit and machine"
    readme = (REPO_ROOT / "README.md").read_text()
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", readme), "README.md: dated figures belong in docs/benchmarks.md"


def test_docs_site_builds_strict(tmp_path):
    if shutil.which("mkdocs") is None:
        pytest.fail("mkdocs is not installed: bash scripts/setup --dev (or pip install -e '.[dev]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "site" / "benchmarks" / "index.html").is_file()


def test_strict_build_catches_a_broken_link(tmp_path):
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    shutil.copy(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with open(tmp_path / "docs" / "index.md", "a") as handle:
        handle.write("\n[gone](no-such-page.md)\n")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode != 0 and "no-such-page.md" in proc.stdout + proc.stderr
