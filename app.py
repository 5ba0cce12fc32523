"""Local web interface for EmoGen: pick or upload a face, upload or record a voice, choose emotions, watch.

Listens on 127.0.0.1 by default; one generation runs at a time and the page shows the queue position of the
others. Uploaded and generated files live in a private temporary folder per request, removed after
--keep_minutes.
"""
from __future__ import annotations

import argparse
import signal
import sys
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of app.py."""
    from emogen.cli import ArgumentParser, positive_int, int_range, positive_float
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
    p.add_argument("--max_megapixels", type=positive_float, default=8.3,
                   help="largest face frame in megapixels, checked before decoding (default 8.3: 3840x2160)")
    p.add_argument("--max_queued", type=positive_int, default=20, help="requests allowed to wait in all (20)")
    p.add_argument("--max_per_client", type=positive_int, default=3,
                   help="requests one client address may have waiting or running (3)")
    p.add_argument("--allowed_hosts", nargs="*", default=[],
                   help="extra host names browsers may use to reach the server (the address it listens on is "
                        "always allowed; other Host headers are refused against DNS rebinding)")
    add_face_detector_argument(p)
    add_precision_argument(p)
    add_device_argument(p)
    p.add_argument("--detection_cache_dir", default=None, help="detection cache (default as inference.py)")
    return p


class _Stopped(KeyboardInterrupt):
    """Raised by the signal handler to leave serve_forever (which swallows it)."""


def _stop(signum, _frame) -> None:
    _STOP["signal"] = signum
    raise _Stopped()


_STOP: dict = {}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build the app and serve it until interrupted."""
    args = get_args_parser().parse_args(argv)
    from werkzeug.serving import make_server

    from emogen.detection_cache import default_cache_dir
    from emogen.web.server import WebConfig, create_app

    app = create_app(WebConfig(args.checkpoint_path, args.device, args.face_detector, args.max_upload_mb,
                               args.max_seconds, args.keep_minutes, args.detection_cache_dir or default_cache_dir(),
                               precision=args.precision, max_pixels=int(args.max_megapixels * 1e6),
                               max_queued=args.max_queued, max_per_client=args.max_per_client,
                               allowed_hosts=tuple(args.allowed_hosts)))
    server = make_server(args.host, args.port, app, threaded=True)
    app.config.update(EMOGEN_HOST=args.host, EMOGEN_PORT=server.server_port)
    # SIGTERM and Ctrl-C both stop the server here, so users' uploads and partial results are deleted either
    # way (werkzeug's serve_forever swallows KeyboardInterrupt, hence the flag).
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"EmoGen web interface on http://{args.host}:{server.server_port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        app.extensions["emogen_queue"].shutdown()
        server.server_close()
    if _STOP:
        raise KeyboardInterrupt  # run_cli: "interrupted", exit status 130
    return 0


if __name__ == "__main__":
    from emogen.errors import run_cli

    sys.exit(run_cli(main))
