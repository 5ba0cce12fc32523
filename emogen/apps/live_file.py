"""live.py's work: a speech file fed through the live core at the pace a microphone delivers it, the frames it
makes written as a video (with the speech), and a report of the delays, the sustained frame rate and the drops."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

import audio
from emogen.common.atomic import atomic_path, ensure_writable_dir, owned_temp_prefix
from emogen.common.contract import parse_emotions
from emogen.common.device import peak_rss_mib
from emogen.common.errors import UserError, interrupts_held
from emogen.common.media import VideoWriter, extract_audio, nonfinite_audio
from emogen.common.paths import refuse_overwriting_inputs
from emogen.inference.generator import precision_label
from emogen.inference.options import InferenceOptions
from emogen.inference.pipeline import generator_for
from emogen.inference.plan import RUN_TEMP, prepare
from emogen.inference.streaming import SAMPLE_RATE, LiveFace, LiveSession, LiveSettings


@dataclass
class LiveFileOptions:
    """What live.py was asked: the inference options (face, speech, emotion, output...) and the feeding."""

    inference: InferenceOptions
    report: Optional[str] = None
    chunk_ms: float = 20.0  # the size of each piece of speech pushed, as a microphone delivers it
    pace: float = 1.0  # 1 = real time; 0 = as fast as the generator goes (no waiting)
    max_batch: int = 8
    max_waiting: int = 10


def percentile_ms(values: list[float], q: float) -> Optional[float]:
    """The q-th percentile of ``values`` (seconds) in milliseconds, or None when there are none."""
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


def _feed(session: LiveSession, wav: np.ndarray, chunk: int, pace: float, stop: threading.Event) -> None:
    start = time.perf_counter()
    for first in range(0, len(wav), chunk):
        piece = wav[first : first + chunk]
        if pace > 0:  # a microphone hands over each piece once all of its samples were spoken
            due = start + (first + len(piece)) / SAMPLE_RATE / pace
            while not stop.is_set() and time.perf_counter() < due:
                time.sleep(min(0.005, max(0.0, due - time.perf_counter())))
        if stop.is_set():
            return
        session.push(piece)
    session.finish()


def run_live_file(opts: LiveFileOptions) -> dict:
    """Run the file through the live core; write the video and the report; return the report."""
    inf = opts.inference
    if inf.emotion and len(parse_emotions(inf.emotion)) != 1:
        raise UserError.about(
            "emotion", "live mode speaks one emotion at a time (the web page's Live tab switches it while you speak)"
        )
    plan = prepare(inf)
    [emotion] = plan.emotions
    if nonfinite_audio(inf.audio):
        raise UserError.about("audio", f"{inf.audio} holds NaN or infinite samples; re-export the recording")
    if opts.report:
        if os.path.isdir(opts.report):
            raise UserError.about("report", f"{opts.report} is a folder; give a file name for the JSON report")
        refuse_overwriting_inputs("report", opts.report, {"face": inf.face, "audio": inf.audio, "outfile": inf.outfile})
        ensure_writable_dir(os.path.dirname(os.path.abspath(opts.report)), f"--report {opts.report}")
    device, precision, backend = plan.runtime.device, plan.runtime.precision, plan.runtime.backend
    generator = generator_for(inf.checkpoint_path, plan.runtime)
    face = LiveFace.from_options(inf, plan.faces)
    encoder = plan.encoder
    with tempfile.TemporaryDirectory(prefix=owned_temp_prefix(RUN_TEMP)) as workdir:
        wav_path = os.path.join(workdir, "speech_16k.wav")
        extract_audio(inf.audio, wav_path, SAMPLE_RATE)
        wav = audio.load_wav(wav_path, SAMPLE_RATE)
        if len(wav) < SAMPLE_RATE * 0.2125:
            raise UserError(f"--audio {inf.audio} is shorter than one frame's speech window (0.2 s)")
        # Without pacing nothing is late: every window waits its turn (the frames only, no delay measure).
        waiting = opts.max_waiting if opts.pace > 0 else 10**9
        settings = LiveSettings(device, precision.dtype, opts.max_batch, waiting, max_ready=10**9, blend=inf.blend)
        session = LiveSession(generator, face, emotion, settings)
        stop = threading.Event()
        feeder = threading.Thread(
            target=_feed,
            args=(session, wav, max(1, int(SAMPLE_RATE * opts.chunk_ms / 1000)), opts.pace, stop),
            name="emogen-live-feed",
            daemon=True,
        )
        delays, window_delays, sent = [], [], []
        written = 0
        try:
            with atomic_path(inf.outfile, suffix=".mp4") as tmp:
                writer = None
                try:
                    with interrupts_held():  # started and recorded together, so an interrupt always stops it
                        writer = VideoWriter(
                            tmp, face.width, face.height, face.fps, audio_path=wav_path, encoder=encoder
                        )
                    feeder.start()
                    last = None
                    for frame in session.frames():
                        now = time.perf_counter()
                        delays.append(now - frame.speech_arrived)
                        window_delays.append(now - frame.window_ready)
                        sent.append(now)
                        while written < frame.index:  # a dropped frame shows the one before it
                            writer.write(last if last is not None else face.first)
                            written += 1
                        writer.write(frame.image)
                        written += 1
                        last = frame.image
                    while written < session.windows and last is not None:  # drops at the very end
                        writer.write(last)
                        written += 1
                    writer.close()
                except BaseException:
                    if writer is not None:
                        writer.abort()
                    raise
        finally:
            stop.set()
            session.close()
            feeder.join(timeout=5)
    seconds = len(wav) / SAMPLE_RATE
    span = sent[-1] - sent[0] if len(sent) > 1 else 0.0
    report = {
        "frames": written,
        "produced_frames": session.stats.produced,
        "dropped_frames": session.stats.dropped,
        "median_delay_ms": percentile_ms(delays, 50),
        "p95_delay_ms": percentile_ms(delays, 95),
        "median_generation_delay_ms": percentile_ms(window_delays, 50),
        "fps": round((len(sent) - 1) / span, 2) if span > 0 else None,
        "face_fps": face.fps,
        "speech_seconds": round(seconds, 3),
        "pace": opts.pace,
        "chunk_ms": opts.chunk_ms,
        "precision": precision_label(generator, precision),
        "backend": backend,
        "device": str(device),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "outfile": inf.outfile,
    }
    if opts.report:
        with atomic_path(opts.report, suffix=".json") as tmp:
            with open(tmp, "w") as handle:
                json.dump(report, handle, indent=2)
    return report
