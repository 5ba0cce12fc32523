"""Samples per second of the three training datasets on CPU: cached mels against a naive per-sample recompute.

    python bench/bench_datasets.py [--data_root PREPROCESSED --filelist LIST] [--samples 200]

Without --data_root it preprocesses 3-second CREMA-D-named copies of four shared videos into a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

import numpy as np

from common import shared_dir  # isort: skip  (first: it puts the checkout on sys.path)

import audio
from emogen.data.datasets import EmotionDataset, GeneratorDataset, SyncDataset
from emogen.data.filelists import read_filelist
from hparams import hparams

CLIPS = {"1001_DFA_ANG_XX": "face2", "1002_IEO_HAP_HI": "face3", "1003_TIE_SAD_LO": "face5", "1004_DFA_NEU_XX": "face6"}


def naive(cls):
    """The same dataset, but loading audio.wav and recomputing the mel for every sample (the original's way)."""

    class Naive(cls):
        def mel(self, clip):
            wav = audio.load_wav(os.path.join(clip.folder, "audio.wav"), hparams.sample_rate)
            return audio.melspectrogram(wav).astype(np.float32)

    return Naive


def rate(dataset, n: int) -> float:
    dataset[0]
    start = time.perf_counter()
    for i in range(n):
        dataset[i]
    return n / (time.perf_counter() - start)


def build(tmp: str) -> tuple[str, list[str]]:
    from emogen.data.preprocess import preprocess_video
    from face_detection.registry import create_detector, download_free_detector

    det = create_detector(download_free_detector(), device="cpu")  # dlib, or Haar where dlib is missing
    for name, src in CLIPS.items():
        video = os.path.join(tmp, name + ".mp4")
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared_dir() / f"data/video/{src}.mp4"), "-t", "3", video],
            check=True,
        )
        preprocess_video(video, os.path.join(tmp, "pre", name), det)
    return os.path.join(tmp, "pre"), list(CLIPS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", default=None, help="preprocessed dataset (default: build a small one)")
    parser.add_argument("--filelist", default=None, help="clip names to use (default: every clip of CLIPS)")
    parser.add_argument("--samples", type=int, default=200, help="samples drawn per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, names = (args.data_root, read_filelist(args.filelist)) if args.data_root else build(tmp)
        print(f"{'dataset':18} {'cached mel':>12} {'recomputed':>12} {'speed-up':>9}   (samples/s, 1 process, CPU)")
        for cls in (SyncDataset, EmotionDataset, GeneratorDataset):
            fast = rate(cls(root, names, seed=0), args.samples)
            slow = rate(naive(cls)(root, names, seed=0), args.samples)
            print(f"{cls.__name__:18} {fast:12.1f} {slow:12.1f} {fast / slow:8.1f}x")


if __name__ == "__main__":
    main()
