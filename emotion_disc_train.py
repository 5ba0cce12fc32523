"""Train EmoGen's video emotion discriminator (DISCEMO) on preprocessed CREMA-D.

The command line is ``emogen.cli.emotion_disc_train`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.emotion_disc_train import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.emotion_disc_train import cli

    cli()
