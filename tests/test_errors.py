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
