"""The web server's settings (all from app.py's command line) and its bundled examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from emogen.inference.blending import DEFAULT_BLEND
from emogen.inference.options import MAX_PIXELS

from .live import LiveLimits

EXAMPLES = {
    "face": {"example face (video)": EXAMPLE_FACE},
    "audio": {"example speech (English)": EXAMPLE_SPEECH},
}


@dataclass
class WebConfig:
    """Server settings (all from the command line)."""

    checkpoint_path: str
    device: Optional[str] = None
    face_detector: str = "auto"
    max_upload_mb: float = 50.0
    max_seconds: float = 60.0
    keep_minutes: float = 30.0
    cache_dir: Optional[str] = None
    work_root: Optional[str] = None
    examples: dict = field(default_factory=lambda: EXAMPLES)
    precision: str = "auto"
    backend: str = "auto"
    max_pixels: int = MAX_PIXELS  # largest face frame (width x height), checked before decoding
    max_queued: int = 20  # jobs waiting in all
    max_per_client: int = 3  # jobs waiting or running per client address
    allowed_hosts: tuple = ()  # extra Host names accepted (besides the address it listens on)
    notice: str = ""  # a line the page shows above everything (e.g. which generator this is)
    live: LiveLimits = field(default_factory=LiveLimits)
    blend: str = DEFAULT_BLEND  # how faces go back into frames (videos and the Live tab)
    detection: str = "auto"  # face detection: auto (fast on a CPU, exact on a GPU), exact (the original), fast
