"""Live mode from a file: feed a speech file through the live core at the pace a microphone delivers it (or

The command line is ``emogen.cli.live`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.live import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.live import cli

    cli()
