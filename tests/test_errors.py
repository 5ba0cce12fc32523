import os

import pytest

from emogen.common.errors import UserError, interrupts_held, run_cli


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


def test_sigterm_is_ctrl_c_and_a_second_signal_does_not_abort_cleanup(capsys):
    import signal

    cleaned = []

    def main(argv):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("SIGTERM did not interrupt")
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # during cleanup: noted, ignored
            cleaned.append(True)

    before = signal.getsignal(signal.SIGINT)
    assert run_cli(lambda argv: 0, []) == 0
    assert signal.getsignal(signal.SIGINT) is before  # a run that was not interrupted gives the handlers back
    try:
        assert run_cli(main, []) == 130
        assert cleaned == [True]
        err = capsys.readouterr().err
        assert "interrupted" in err and "still cleaning up" in err
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN  # on the way out, further signals are ignored
    finally:
        signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_a_signal_inside_a_held_block_interrupts_at_its_end(capsys):
    import signal

    steps = []

    def main(argv):
        with interrupts_held():
            os.kill(os.getpid(), signal.SIGHUP)  # the closed terminal's signal, treated like SIGTERM
            steps.append("made")
            with interrupts_held():  # nested: only the outermost end raises
                steps.append("recorded")
            steps.append("still held")
        steps.append("after the block")  # never reached

    try:
        assert run_cli(main, []) == 130
    finally:
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    assert steps == ["made", "recorded", "still held"]
    assert "interrupted" in capsys.readouterr().err
    with interrupts_held():  # without run_cli's policy it holds nothing and changes nothing
        steps.append("plain")
    assert steps[-1] == "plain"


def test_run_script_exits_with_the_status_and_still_flushes(tmp_path):
    """The entry every script uses: its status, one error line, and buffered output still written."""
    import subprocess
    import sys

    from shared_data import REPO_ROOT

    out_file = tmp_path / "kept.txt"
    code = (
        "import sys\n"
        "from emogen.common.errors import UserError, run_script\n"
        "def main(argv):\n"
        f"    handle = open({str(out_file)!r}, 'w'); handle.write('written'); sys.stdout.write('partial line')\n"
        "    handle.close()\n"
        "    if sys.argv[1] == 'bad': raise UserError('--face x.mp4 does not exist')\n"
        "    return int(sys.argv[1])\n"
        "run_script(main)\n"
    )
    for arg, status in (("0", 0), ("3", 3), ("bad", 2)):
        proc = subprocess.run([sys.executable, "-c", code, arg], cwd=REPO_ROOT, capture_output=True, text=True)
        assert proc.returncode == status
        assert proc.stdout == "partial line" and out_file.read_text() == "written"
        assert proc.stderr == ("error: --face x.mp4 does not exist\n" if arg == "bad" else "")
