"""Train the lip-sync expert (Wav2Lip's SyncNet_color) on preprocessed CREMA-D.

The command line is ``emogen.cli.color_syncnet_train`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.color_syncnet_train import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.color_syncnet_train import cli

    cli()
