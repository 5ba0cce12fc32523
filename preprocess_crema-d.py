"""Preprocess 25 fps CREMA-D videos: face crops per frame, 16 kHz audio, cached mels, filelists.

The command line is ``emogen.cli.preprocess_crema_d`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.preprocess_crema_d import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.preprocess_crema_d import cli

    cli()
