"""Train the EmoGen generator with a frozen lip-sync expert and the emotion discriminator.

The command line is ``emogen.cli.train`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.train import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.train import cli

    cli()
