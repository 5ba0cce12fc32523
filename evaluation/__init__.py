"""Evaluation of generated videos: LSE-D / LSE-C, FID, PSNR / SSIM / CPBD and emotion accuracy."""
