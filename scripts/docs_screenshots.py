"""Redraw the documentation's screenshots of the web page (docs/web_result.png, docs/web_live.png).

    python3 scripts/docs_screenshots.py [--checkpoint_path demo_run/checkpoints/generator/<newest>.pth]

Starts app.py on a free local port with the given generator (default: the newest one demo.py trained), drives
Debian's Chromium through Playwright with a fake microphone playing the example speech, and saves the "Make a
video" tab once the example face is generated and playing, and the Live tab once 60 frames have arrived. The page
uses the server's defaults (blend, precision), so the pictures show what a user sees.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from emogen.common.examples import EXAMPLE_SPEECH
    from emogen.training.checkpoint_files import latest_checkpoint

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint_path", default=None, help="generator to show (default: the demo's newest)")
    parser.add_argument("--out_dir", default=str(ROOT / "docs"), help="where the PNGs go (default docs/)")
    args = parser.parse_args()
    checkpoint = args.checkpoint_path or latest_checkpoint(str(ROOT / "demo_run" / "checkpoints" / "generator"))
    if not checkpoint:
        print("error: no generator: run python3 demo.py first or pass --checkpoint_path", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        mic = os.path.join(work, "mic.wav")
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", EXAMPLE_SPEECH, "-ar", "48000", "-ac", "1", mic], check=True
        )
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--checkpoint_path", checkpoint, "--port", str(port)],
            env=dict(os.environ, TMPDIR=work),
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            for _ in range(300):
                try:
                    urllib.request.urlopen(url + "api/config", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--use-fake-ui-for-media-stream",
                        "--use-fake-device-for-media-stream",
                        f"--use-file-for-fake-audio-capture={mic}",
                        "--autoplay-policy=no-user-gesture-required",
                    ],
                )
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.goto(url)
                page.click("#generate")
                page.wait_for_function(
                    "document.querySelector('#status').textContent.startsWith('done')", timeout=600_000
                )
                page.wait_for_function(
                    "(() => { const v = document.querySelector('#results video'); return v && v.currentTime > 1.5; })()",
                    timeout=60_000,
                )
                page.screenshot(path=os.path.join(args.out_dir, "web_result.png"), full_page=True)
                page.click("#tab_live_button")
                page.click("#live_start")
                page.wait_for_function("window.emogenLive.frames >= 60", timeout=120_000)
                page.screenshot(path=os.path.join(args.out_dir, "web_live.png"), full_page=True)
                page.click("#live_stop")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"wrote {args.out_dir}/web_result.png and {args.out_dir}/web_live.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
