"""Convert every video under a folder to a fixed frame rate (25 fps for CREMA-D), keeping the audio.

The command line is ``emogen.cli.convert_fps`` (also installed as a console script); this file keeps the original
script name.
"""

from emogen.cli.convert_fps import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    from emogen.cli.convert_fps import cli

    cli()
