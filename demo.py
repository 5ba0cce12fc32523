"""Run the whole EmoGen pipeline on the bundled example (or your own talking-head video), on CPU, in minutes:

The command line is ``emogen.cli.demo`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.demo import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.demo import cli

    cli()
