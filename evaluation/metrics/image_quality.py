"""PSNR, SSIM and CPBD between paired real and generated frames (grayscale, as the original's img_eval.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from .cpbd import cpbd


def psnr(real: np.ndarray, generated: np.ndarray, uint8_wraparound: bool = False) -> float:
    """20 log10(255 / RMSE); ``uint8_wraparound`` reproduces the original script's uint8 subtraction (a bug that
    wraps negative differences to 256 - d), for comparing with numbers made with it."""
    if uint8_wraparound:
        diff = (real.astype(np.uint8) - generated.astype(np.uint8)).astype(np.float64)
    else:
        diff = real.astype(np.float64) - generated.astype(np.float64)
    mse = float(np.mean(diff**2))
    return math.inf if mse == 0 else 20 * math.log10(255.0 / math.sqrt(mse))


def ssim(real: np.ndarray, generated: np.ndarray) -> float:
    """scikit-image SSIM of two grayscale uint8 images (7x7 window, data range 255)."""
    return float(structural_similarity(real, generated, data_range=255))


@dataclass
class PairMetrics:
    """Running sums of the three metrics over frame pairs."""

    frames: int = 0
    psnr_sum: float = 0.0
    ssim_sum: float = 0.0
    cpbd_sum: float = 0.0
    infinite_psnr: int = 0

    def add(self, real_bgr: np.ndarray, generated_bgr: np.ndarray, uint8_wraparound: bool = False) -> None:
        """Score one pair of BGR frames (the generated one is resized to the real one if needed)."""
        g1 = cv2.cvtColor(real_bgr, cv2.COLOR_BGR2GRAY)
        g2 = cv2.cvtColor(generated_bgr, cv2.COLOR_BGR2GRAY)
        if g2.shape != g1.shape:
            g2 = cv2.resize(g2, (g1.shape[1], g1.shape[0]))
        value = psnr(g1, g2, uint8_wraparound)
        if math.isinf(value):
            self.infinite_psnr += 1
        else:
            self.psnr_sum += value
        self.ssim_sum += ssim(g1, g2)
        self.cpbd_sum += cpbd(g2)
        self.frames += 1

    def merge(self, other: PairMetrics) -> None:
        """Add another set of sums (a video's) to these (the whole run's) without scoring its frames again."""
        self.frames += other.frames
        self.psnr_sum += other.psnr_sum
        self.ssim_sum += other.ssim_sum
        self.cpbd_sum += other.cpbd_sum
        self.infinite_psnr += other.infinite_psnr

    def means(self) -> dict[str, float]:
        """Mean PSNR (identical frames excluded), SSIM and CPBD."""
        n = max(1, self.frames)
        finite = self.frames - self.infinite_psnr
        mean_psnr = self.psnr_sum / finite if finite else math.inf  # every pair identical
        return {"PSNR": mean_psnr, "SSIM": self.ssim_sum / n, "CPBD": self.cpbd_sum / n}
