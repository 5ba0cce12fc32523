import os

import pytest

from emogen.errors import UserError, run_cli


def test_user_error_is_one_line(capsys):
    def main(argv):
        raise UserError("--face missing.mp4 does not exist; pass a video or image")

    assert run_cli(main, []) == 2
    err = capsys.readouterr().err
    assert err == "error: --face missing.mp4 does not exist; pass a video or image\n"


def test_success_and_interrupt(capsys):
    assert run_cli(lambda argv: None, []) == 0
    assert run_cli(lambda argv: 3, []) == 3

    def interrupted(argv):
        raise KeyboardInterrupt

    assert run_cli(interrupted, []) == 130
    assert "interrupted" in capsys.readouterr().err


def test_file_system_errors_are_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")

    def main(argv):
        os.makedirs(blocker / "results")  # a folder cannot be made inside a file

    monkeypatch.delenv("EMOGEN_DEBUG", raising=False)
    assert run_cli(main, []) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {blocker / 'results'}: Not a directory;")
    monkeypatch.setenv("EMOGEN_DEBUG", "1")
    with pytest.raises(NotADirectoryError):
        run_cli(main, [])


def test_os_errors_without_a_path_keep_their_traceback(monkeypatch):
    monkeypatch.delenv("EMOGEN_DEBUG", raising=False)

    def main(argv):
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        run_cli(main, [])
