"""Local web interface for EmoGen: pick or upload a face, upload or record a voice, choose emotions, watch.

Listens on 127.0.0.1 by default; one generation runs at a time and the page shows the queue position of the
others. Uploaded and generated files live in a private temporary folder per request, removed after
--keep_minutes.
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of app.py."""
    from emogen.common.cli import ArgumentParser, float_range, int_range
    from emogen.inference.arguments import add_detection_arguments, add_limit_arguments, add_runtime_arguments
    from emogen.inference.blending import add_blend_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--checkpoint_path",
        default=None,
        help="EmoGen generator checkpoint (default checkpoints/emogen_generator.pth in this checkout; "
        "without it, the generator demo.py trained, with a note on the page)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int_range(0, 65535), default=7860, help="port (default 7860)")
    p.add_argument(
        "--max_upload_mb",
        type=float_range(0, 10240, low_open=True),
        default=50,
        help="largest accepted upload in MB (default 50; at most 10240)",
    )
    p.add_argument(
        "--max_seconds",
        type=float_range(0, 3600, low_open=True),
        default=60,
        help="longest accepted face/voice in seconds (60; at most 3600)",
    )
    p.add_argument(
        "--keep_minutes",
        type=float_range(0, 10080, low_open=True),
        default=30,
        help="minutes a request's files are kept after it ends (30; at most 10080, a week)",
    )
    add_limit_arguments(p)
    p.add_argument(
        "--max_queued", type=int_range(1, 10000), default=20, help="requests allowed to wait in all (20; at most 10000)"
    )
    p.add_argument(
        "--live_max_minutes",
        type=float_range(0, 1440, low_open=True),
        default=10,
        help="longest Live-tab session in minutes (default 10; one live session per client address)",
    )
    p.add_argument(
        "--max_per_client",
        type=int_range(1, 1000),
        default=3,
        help="requests one client address may have waiting or running (3; at most 1000)",
    )
    p.add_argument(
        "--allowed_hosts",
        nargs="*",
        default=[],
        help="extra host names browsers may use to reach the server (the address it listens on is "
        "always allowed; other Host headers are refused against DNS rebinding)",
    )
    p.add_argument(
        "--live_max_sessions",
        type=int_range(1, 100),
        default=2,
        help="Live-tab sessions open at once from all addresses (default 2; at most 100): each keeps the "
        "generator busy in real time",
    )
    p.add_argument(
        "--max_connections",
        type=int_range(1, 10000),
        default=64,
        help="connections served at once (default 64; more are closed at once); each connection also times out "
        "after 30 s without sending",
    )
    add_detection_arguments(p, tuning=False)
    add_blend_argument(p)
    add_runtime_arguments(p, encoder=False)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build the app and serve it until interrupted."""
    args = get_args_parser().parse_args(argv)
    from emogen.apps.stages import choose_generator
    from emogen.apps.web.live import LiveLimits
    from emogen.apps.web.server import WebConfig, create_app
    from emogen.apps.web.serving import make_web_server
    from emogen.common.errors import SignalPolicy, UserError
    from emogen.inference.detection_cache import default_cache_dir

    checkpoint, notice = choose_generator(args.checkpoint_path)
    app = create_app(
        WebConfig(
            checkpoint,
            args.device,
            args.face_detector,
            args.max_upload_mb,
            args.max_seconds,
            args.keep_minutes,
            args.detection_cache_dir or default_cache_dir(),
            precision=args.precision,
            blend=args.blend,
            detection=args.detection,
            backend=args.backend,
            max_pixels=int(args.max_megapixels * 1e6),
            max_queued=args.max_queued,
            max_per_client=args.max_per_client,
            allowed_hosts=tuple(args.allowed_hosts),
            live=LiveLimits(max_minutes=args.live_max_minutes, max_sessions=args.live_max_sessions),
            notice=notice,
        )
    )
    try:
        server = make_web_server(args.host, args.port, app, max_connections=args.max_connections)
    except OSError as exc:
        app.extensions["emogen_queue"].shutdown()  # its private folder goes too
        raise UserError.about(
            "port",
            f"{args.port} on {args.host}: cannot listen there ({exc.strerror or exc}); pick another --port or --host",
        ) from None
    app.config.update(EMOGEN_HOST=args.host, EMOGEN_PORT=server.server_port)
    # SIGTERM and Ctrl-C both stop the server (run_cli's SignalPolicy), so users' uploads and partial results are
    # deleted either way, and a second signal while the queue shuts down is ignored. werkzeug's serve_forever
    # swallows the KeyboardInterrupt, so the policy's record says whether a signal stopped it.
    policy = SignalPolicy.active or SignalPolicy().install()
    print(f"EmoGen web interface on http://{args.host}:{server.server_port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        app.extensions["emogen_queue"].shutdown()
        server.server_close()
    if policy.received is not None:
        raise KeyboardInterrupt  # run_cli: "interrupted", exit status 130
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
