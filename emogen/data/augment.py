"""The original's colour augmentation, applied with the same random parameters to every frame of a window.

The original used albumentations (treating OpenCV's BGR frames as RGB); the same operations and default
ranges are written here with OpenCV and NumPy, so no extra dependency is needed:
brightness/contrast (+-0.2), gamma (0.8-1.2), CLAHE (clip 1-4, 8x8 tiles), hue/saturation/value shift
(+-20/+-50/+-50), channel shuffle, RGB shift (+-20), brightness only, contrast only, Gaussian noise
(variance 10-50, one noise image shared by all frames). Each op fires with its own probability and the whole
set with probability 0.8.
"""

from __future__ import annotations

import random
from typing import Callable, Optional

import cv2
import numpy as np

Op = Callable[[np.ndarray], np.ndarray]  # (T,H,W,3) uint8 -> (T,H,W,3) uint8


def _linear(frames: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return np.clip(frames.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def _brightness_contrast(rng: random.Random, brightness: bool, contrast: bool) -> Op:
    alpha = 1.0 + rng.uniform(-0.2, 0.2) if contrast else 1.0
    beta = rng.uniform(-0.2, 0.2) * 255 if brightness else 0.0
    return lambda f: _linear(f, alpha, beta)


def _gamma(rng: random.Random) -> Op:
    gamma = rng.uniform(80, 120) / 100.0
    table = np.clip(np.power(np.arange(256) / 255.0, gamma) * 255, 0, 255).astype(np.uint8)
    return lambda f: table[f]


def _clahe(rng: random.Random) -> Op:
    clahe = cv2.createCLAHE(clipLimit=rng.uniform(1, 4), tileGridSize=(8, 8))

    def op(frames: np.ndarray) -> np.ndarray:
        out = np.empty_like(frames)
        for i, frame in enumerate(frames):
            lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
            lab[:, :, 0] = clahe.apply(lab[:, :, 0])
            out[i] = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        return out

    return op


def _hsv(rng: random.Random) -> Op:
    dh, ds, dv = rng.uniform(-20, 20), rng.uniform(-50, 50), rng.uniform(-50, 50)
    x = np.arange(256)
    lut_h = np.mod(x + dh, 180).astype(np.uint8)
    lut_s = np.clip(x + ds, 0, 255).astype(np.uint8)
    lut_v = np.clip(x + dv, 0, 255).astype(np.uint8)

    def op(frames: np.ndarray) -> np.ndarray:
        out = np.empty_like(frames)
        for i, frame in enumerate(frames):
            h, s, v = cv2.split(cv2.cvtColor(frame, cv2.COLOR_RGB2HSV))
            out[i] = cv2.cvtColor(cv2.merge([lut_h[h], lut_s[s], lut_v[v]]), cv2.COLOR_HSV2RGB)
        return out

    return op


def _channel_shuffle(rng: random.Random) -> Op:
    order = [0, 1, 2]
    rng.shuffle(order)
    return lambda f: np.ascontiguousarray(f[..., order])


def _rgb_shift(rng: random.Random) -> Op:
    shift = np.array([rng.uniform(-20, 20) for _ in range(3)], dtype=np.float32)
    return lambda f: np.clip(f.astype(np.float32) + shift, 0, 255).astype(np.uint8)


def _noise(rng: random.Random, shape: tuple) -> Op:
    sigma = rng.uniform(10, 50) ** 0.5
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, sigma, shape[1:]).astype(np.float32)
    return lambda f: np.clip(f.astype(np.float32) + noise, 0, 255).astype(np.uint8)


class WindowAugment:
    """Colour augmentation of a (T,H,W,3) uint8 window; ``p`` per op (0.2 discriminators, 0.4 generator)."""

    def __init__(self, p: float, p_noise: Optional[float] = None, p_all: float = 0.8) -> None:
        self.p, self.p_noise, self.p_all = p, p if p_noise is None else p_noise, p_all

    def __call__(self, frames: np.ndarray, rng: random.Random) -> np.ndarray:
        if rng.random() >= self.p_all:
            return frames
        builders = [
            (self.p, lambda: _brightness_contrast(rng, True, True)),
            (self.p, lambda: _gamma(rng)),
            (self.p, lambda: _clahe(rng)),
            (self.p, lambda: _hsv(rng)),
            (self.p, lambda: _channel_shuffle(rng)),
            (self.p, lambda: _rgb_shift(rng)),
            (self.p, lambda: _brightness_contrast(rng, True, False)),
            (self.p, lambda: _brightness_contrast(rng, False, True)),
            (self.p_noise, lambda: _noise(rng, frames.shape)),
        ]
        for prob, build in builders:
            if rng.random() < prob:
                frames = build()(frames)
        return frames
