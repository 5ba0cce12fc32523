"""live.py's work: a speech file fed through the live core at the pace a microphone delivers it, the frames it
makes written as a video (with the speech), and a report of the delays, the sustained frame rate and the drops."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
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


@dataclass
class _Recording:
    """What the consumer saw of a session: when each frame left, its delays, and the frames written."""

    delays: list = field(default_factory=list)  # speech arrived -> frame out
    window_delays: list = field(default_factory=list)  # window complete -> frame out
    sent: list = field(default_factory=list)
    written: int = 0


def _check(opts: LiveFileOptions):
    """Every input and output checked before any work; the run's plan."""
    inf = opts.inference
    if inf.emotion and len(parse_emotions(inf.emotion)) != 1:
        raise UserError.about(
            "emotion", "live mode speaks one emotion at a time (the web page's Live tab switches it while you speak)"
        )
    plan = prepare(inf)
    if nonfinite_audio(inf.audio):
        raise UserError.about("audio", f"{inf.audio} holds NaN or infinite samples; re-export the recording")
    if opts.report:
        if os.path.isdir(opts.report):
            raise UserError.about("report", f"{opts.report} is a folder; give a file name for the JSON report")
        refuse_overwriting_inputs("report", opts.report, {"face": inf.face, "audio": inf.audio, "outfile": inf.outfile})
        ensure_writable_dir(os.path.dirname(os.path.abspath(opts.report)), f"--report {opts.report}")
    return plan


def _record(session: LiveSession, face: LiveFace, writer: VideoWriter, start_feeding) -> _Recording:
    """Write the session's frames as they come (a dropped frame shows the one before it)."""
    rec = _Recording()
    start_feeding()
    last = None
    for frame in session.frames():
        now = time.perf_counter()
        rec.delays.append(now - frame.speech_arrived)
        rec.window_delays.append(now - frame.window_ready)
        rec.sent.append(now)
        while rec.written < frame.index:
            writer.write(last if last is not None else face.first)
            rec.written += 1
        writer.write(frame.image)
        rec.written += 1
        last = frame.image
    while rec.written < session.windows and last is not None:  # drops at the very end
        writer.write(last)
        rec.written += 1
    return rec


def run_live_file(opts: LiveFileOptions) -> dict:
    """Run the file through the live core; write the video and the report; return the report."""
    inf = opts.inference
    plan = _check(opts)
    generator = generator_for(inf.checkpoint_path, plan.runtime)
    face = LiveFace.from_options(inf, plan.faces)
    with tempfile.TemporaryDirectory(prefix=owned_temp_prefix(RUN_TEMP)) as workdir:
        wav_path = os.path.join(workdir, "speech_16k.wav")
        extract_audio(inf.audio, wav_path, SAMPLE_RATE)
        wav = audio.load_wav(wav_path, SAMPLE_RATE)
        if len(wav) < SAMPLE_RATE * 0.2125:
            raise UserError(f"--audio {inf.audio} is shorter than one frame's speech window (0.2 s)")
        # Without pacing nothing is late: every window waits its turn (the frames only, no delay measure).
        waiting = opts.max_waiting if opts.pace > 0 else 10**9
        dtype = plan.runtime.precision.dtype
        settings = LiveSettings(plan.runtime.device, dtype, opts.max_batch, waiting, max_ready=10**9, blend=inf.blend)
        session = LiveSession(generator, face, plan.emotions[0], settings)
        stop = threading.Event()
        chunk = max(1, int(SAMPLE_RATE * opts.chunk_ms / 1000))
        feeder = threading.Thread(
            target=_feed, args=(session, wav, chunk, opts.pace, stop), name="emogen-live-feed", daemon=True
        )
        try:
            with atomic_path(inf.outfile, suffix=".mp4") as tmp:
                writer = None
                try:
                    with interrupts_held():  # started and recorded together, so an interrupt always stops it
                        writer = VideoWriter(
                            tmp, face.width, face.height, face.fps, audio_path=wav_path, encoder=plan.encoder
                        )
                    rec = _record(session, face, writer, feeder.start)
                    writer.close()
                except BaseException:
                    if writer is not None:
                        writer.abort()
                    raise
        finally:
            stop.set()
            session.close()
            feeder.join(timeout=5)
    report = _report(opts, plan, rec, session, face, generator, len(wav) / SAMPLE_RATE)
    if opts.report:
        with atomic_path(opts.report, suffix=".json") as tmp:
            with open(tmp, "w") as handle:
                json.dump(report, handle, indent=2)
    return report


def _report(opts: LiveFileOptions, plan, rec: _Recording, session, face, generator, seconds: float) -> dict:
    span = rec.sent[-1] - rec.sent[0] if len(rec.sent) > 1 else 0.0
    return {
        "frames": rec.written,
        "produced_frames": session.stats.produced,
        "dropped_frames": session.stats.dropped,
        "median_delay_ms": percentile_ms(rec.delays, 50),
        "p95_delay_ms": percentile_ms(rec.delays, 95),
        "median_generation_delay_ms": percentile_ms(rec.window_delays, 50),
        "fps": round((len(rec.sent) - 1) / span, 2) if span > 0 else None,
        "face_fps": face.fps,
        "speech_seconds": round(seconds, 3),
        "pace": opts.pace,
        "chunk_ms": opts.chunk_ms,
        "precision": precision_label(generator, plan.runtime.precision),
        "backend": plan.runtime.backend,
        "device": str(plan.runtime.device),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "outfile": opts.inference.outfile,
    }
