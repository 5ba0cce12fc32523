"""Local web interface for EmoGen: pick or upload a face, upload or record a voice, choose emotions, watch.

The command line is ``emogen.cli.web`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.web import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.web import cli

    cli()
