"""The demos' stage runner (emogen.apps.stages): a stage's summary is read back, a failure is one line naming
its log, and a stage dies with the demo even when the demo is killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from shared_data import REPO_ROOT

from emogen.apps.stages import Stage, run_stage
from emogen.common.atomic import process_alive
from emogen.common.errors import UserError


def test_a_stage_result_is_read_from_its_json_summary(tmp_path):
    summary = tmp_path / "summary.json"
    code = f"import json; json.dump({{'steps': 7}}, open({str(summary)!r}, 'w')); print('done')"
    result = run_stage(Stage("write a summary", ["-c", code], str(summary)), str(tmp_path / "logs"))
    assert result.summary == {"steps": 7} and "done" in result.output
    with open(result.log) as log:
        assert "done" in log.read()


def test_a_failing_stage_is_one_line_with_its_last_error_and_log(tmp_path):
    code = "import sys; print('error: the clip is broken', file=sys.stderr); sys.exit(2)"
    with pytest.raises(UserError) as failed:
        run_stage(Stage("broken stage", ["-c", code]), str(tmp_path / "logs"))
    text = str(failed.value)
    assert "stage 'broken stage' failed (exit 2): error: the clip is broken" in text and "broken_stage.log" in text


class Terminal:
    """A stand-in for an interactive stderr that keeps what is written to it."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_a_long_stage_redraws_its_progress_bar_live_and_logs_it(tmp_path, monkeypatch, capsys):
    code = (
        "import sys, time\n"
        "for k in range(1, 4):\n"
        "    sys.stderr.write(f'\\rgenerator: {k}/3 steps'); sys.stderr.flush(); time.sleep(0.3)\n"
        "sys.stderr.write('\\n'); print('stopped at step 3')\n"
    )
    script = tmp_path / "trainer.py"
    script.write_text(code)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    result = run_stage(Stage("train", [str(script)], progress=True), str(tmp_path / "logs"))
    assert "\r   generator: 3/3 steps\x1b[K" in terminal.text and terminal.text.endswith("\n")
    # The tail printed after the stage holds its last lines, not the bar's redraws.
    printed = capsys.readouterr().out
    tail = [line for line in printed.splitlines() if line.startswith("   ")]
    assert tail[-2:-1] == ["   stopped at step 3"] and not any("generator:" in line for line in tail)
    assert "stopped at step 3" in result.output and "generator: 1/3 steps" in open(result.log).read()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    run_stage(Stage("train", [str(script)]), str(tmp_path / "logs"))  # a short stage: its tail only, printed
    assert quiet.text == ""


def test_a_stage_dies_with_the_demo_even_on_sigkill(tmp_path):
    """The demo's process is killed with SIGKILL while a stage runs: the stage gets SIGTERM from the kernel and
    stops, instead of writing on into the work folder (PR_SET_PDEATHSIG)."""
    pid_file = tmp_path / "stage.pid"
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    driver = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from emogen.apps.stages import Stage, run_stage
        run_stage(Stage("sleeper", ["-c", {child!r}]), {str(tmp_path / "logs")!r})
        """
    )
    demo = subprocess.Popen([sys.executable, "-c", driver])
    deadline = time.time() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    stage_pid = int(pid_file.read_text())
    assert process_alive(stage_pid)
    os.kill(demo.pid, signal.SIGKILL)
    demo.wait()
    deadline = time.time() + 10
    while process_alive(stage_pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not process_alive(stage_pid)
