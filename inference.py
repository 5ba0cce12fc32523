"""Lip-sync a face video or image to any speech with one of six emotions, using an EmoGen generator.

The command line is ``emogen.cli.inference`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.inference import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.inference import cli

    cli()
