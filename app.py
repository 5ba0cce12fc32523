"""Local web interface for EmoGen: pick or upload a face, upload or record a voice, choose emotions, watch.

Listens on 127.0.0.1 by default; one generation runs at a time and the page shows the queue position of the
others. Uploaded and generated files live in a private temporary folder per request, removed after
--keep_minutes.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of app.py."""
    from emogen.cli import ArgumentParser, int_range, positive_float
    from emogen.detector_option import add_face_detector_argument

    from emogen.device import add_device_argument
    from emogen.precision import add_precision_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint_path", default="checkpoints/emogen_generator.pth", help="EmoGen generator checkpoint")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int_range(0, 65535), default=7860, help="port (default 7860)")
    p.add_argument("--max_upload_mb", type=positive_float, default=50, help="largest accepted upload in MB (default 50)")
    p.add_argument("--max_seconds", type=positive_float, default=60, help="longest accepted face/voice in seconds (60)")
    p.add_argument("--keep_minutes", type=positive_float, default=30, help="minutes before a request's files are removed")
    add_face_detector_argument(p)
    add_precision_argument(p)
    add_device_argument(p)
    p.add_argument("--detection_cache_dir", default=None, help="detection cache (default as inference.py)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build the app and serve it until interrupted."""
    args = get_args_parser().parse_args(argv)
    from werkzeug.serving import make_server

    from emogen.detection_cache import default_cache_dir
    from emogen.web.server import WebConfig, create_app

    app = create_app(WebConfig(args.checkpoint_path, args.device, args.face_detector, args.max_upload_mb,
                               args.max_seconds, args.keep_minutes, args.detection_cache_dir or default_cache_dir(),
                               precision=args.precision))
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"EmoGen web interface on http://{args.host}:{server.server_port}/ (Ctrl-C to stop)")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    from emogen.errors import run_cli

    sys.exit(run_cli(main))
