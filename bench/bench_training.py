"""Training samples per second of the three networks per precision, on batches from the shared videos.

    python bench/bench_training.py [--device cpu|cuda] [--steps 8] [--batch 4]

Each row times full optimizer steps (forward, loss, backward, Adam) on one fixed batch drawn from a small
CREMA-D-style set preprocessed from four shared videos (the data values do not change the speed). Precisions
the device does not run natively are skipped with the reason. The generator is timed with the paper's losses
(VGG19 randomly initialised: its speed does not depend on the weights) and with L1 alone (the demo's recipe).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import torch

from common import machine_line  # isort: skip  (first: it puts the checkout on sys.path)
from bench_datasets import build
from torch import nn

from emogen.common.errors import UserError
from emogen.common.precision import cpu_has_native_bf16, resolve_training_precision
from emogen.data.datasets import EmotionDataset, GeneratorDataset, SyncDataset
from emogen.training.engine_generator import Critics, generator_losses
from emogen.training.losses import PerceptualLoss, cosine_loss, total_loss
from emogen.training.mixed_precision import MixedPrecision
from hparams import hparams
from models import DISCEMO, SyncNet_color, Wav2Lip


def batch_of(dataset, size: int):
    """One collated batch."""
    return torch.utils.data.default_collate([dataset[i] for i in range(size)])


def time_steps(step, steps: int) -> float:
    """Seconds per step after two warm-up steps."""
    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per row")
    parser.add_argument("--batch", type=int, default=4, help="samples per step (windows of 5 frames)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"{machine_line(device)}; device {device}; CPU native bf16: {cpu_has_native_bf16()}; batch {args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        root, names = build(tmp)
        gen_batch = [t.to(device) for t in batch_of(GeneratorDataset(root, names, seed=0), args.batch)]
        sync_batch = [t.to(device) for t in batch_of(SyncDataset(root, names, seed=0), args.batch)]
        emo_batch = [t.to(device) for t in batch_of(EmotionDataset(root, names, seed=0), args.batch)]
    print("| network | precision | channels_last | s/step | samples/s |")
    print("|---|---|---|---|---|")
    for name in ("fp32", "bf16", "fp16"):
        try:
            precision = resolve_training_precision(name, device)
        except UserError as exc:
            print(f"| all | {name} | - | skipped: {exc} | |")
            continue
        for layout in (False, True) if precision.dtype is not None else (False,):
            amp = MixedPrecision(dataclasses.replace(precision, channels_last=layout), device)
            for network, make_step, batch in (
                ("generator, L1 only (demo.py)", generator_l1, gen_batch),
                ("generator, L1 only, emotion_film (demo.py --dataset)", generator_l1_film, gen_batch),
                ("generator, L1 + emotion (demo.py --dataset --emo_wt 0.01)", generator_emotion, gen_batch),
                ("generator, paper's losses", generator_full, gen_batch),
                ("lip-sync expert", expert, sync_batch),
                ("emotion discriminator", emotion_disc, emo_batch),
            ):
                seconds = time_steps(make_step(amp, batch, device), args.steps)
                print(
                    f"| {network} | {precision.name} | {'yes' if layout else 'no'} | {seconds:.3f} | "
                    f"{args.batch / seconds:.1f} |",
                    flush=True,
                )


def generator_step(amp: MixedPrecision, batch, device, hp, critics: Critics, model, lr: float):
    """One generator step of ``hp``'s recipe, then the discriminator's step when ``critics`` has its optimizer."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))
    disc_amp = MixedPrecision(amp.precision, device)

    def step() -> None:
        optimizer.zero_grad()
        with amp.forward():
            _, gt, _, labels, terms = generator_losses(
                model, critics, batch, hp, device, hp.syncnet_wt > 0, weighted_only=True
            )
            loss = total_loss(terms, hp)
        amp.step(loss, optimizer)
        if critics.disc_optimizer is not None:
            critics.disc_optimizer.zero_grad()
            with disc_amp.forward():
                real = nn.functional.cross_entropy(critics.disc_emo(gt), labels)
            disc_amp.step(real, critics.disc_optimizer)

    return step


def generator_l1(amp: MixedPrecision, batch, device, emotion_film: bool = False):
    """A step of the demo's recipe: L1 only, no discriminator."""
    model = Wav2Lip(emotion_film=emotion_film).to(device)
    amp.prepare(model)
    hp = hparams.copy()
    for key in ("syncnet_wt", "pl_wt", "emo_wt"):
        hp.set_hparam(key, 0.0)
    return generator_step(amp, batch, device, hp, Critics(nn.Identity(), None, None, None), model, 1e-3)


def generator_l1_film(amp: MixedPrecision, batch, device):
    """A step of the dataset demo's recipe: L1 only with the per-scale emotion layers, no discriminator."""
    return generator_l1(amp, batch, device, emotion_film=True)


def generator_emotion(amp: MixedPrecision, batch, device):
    """A step of the emotion demo's recipe: L1 and the emotion term (no VGG weights, no sync term), and the
    emotion discriminator's update."""
    model, disc = Wav2Lip().to(device), DISCEMO().to(device)
    amp.prepare(model)
    disc_optimizer = torch.optim.Adam(disc.parameters(), lr=1e-6, betas=(0.5, 0.999))
    hp = hparams.copy()
    for key, value in (("syncnet_wt", 0.0), ("pl_wt", 0.0), ("emo_wt", 0.01)):
        hp.set_hparam(key, value)
    return generator_step(amp, batch, device, hp, Critics(nn.Identity(), disc, disc_optimizer, None), model, 1e-3)


def generator_full(amp: MixedPrecision, batch, device):
    """A step of the paper's recipe: L1 + perceptual + emotion + sync, and the discriminator's update."""
    model, syncnet, disc = Wav2Lip().to(device), SyncNet_color().to(device), DISCEMO().to(device)
    perceptual = PerceptualLoss(allow_random=True).to(device)
    amp.prepare(model, syncnet, perceptual)  # not DISCEMO: its plain view needs the default layout
    for p in syncnet.parameters():
        p.requires_grad_(False)
    disc_optimizer = torch.optim.Adam(disc.parameters(), lr=1e-6, betas=(0.5, 0.999))
    hp = hparams.copy()
    hp.set_hparam("syncnet_wt", 0.03)
    return generator_step(amp, batch, device, hp, Critics(syncnet, disc, disc_optimizer, perceptual), model, 1e-4)


def expert(amp: MixedPrecision, batch, device):
    """A step of the lip-sync expert."""
    model = SyncNet_color().to(device)
    amp.prepare(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.999))
    x, mel, y = batch

    def step() -> None:
        optimizer.zero_grad()
        with amp.forward():
            a, v = model(mel, x)
        amp.step(cosine_loss(a, v, y), optimizer)

    return step


def emotion_disc(amp: MixedPrecision, batch, device):
    """A step of the emotion discriminator."""
    model = DISCEMO().to(device)  # default layout always: its plain view needs it
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6, betas=(0.5, 0.999))
    video, emotion = batch

    def step() -> None:
        optimizer.zero_grad()
        with amp.forward():
            loss = nn.functional.cross_entropy(model(video), emotion.argmax(dim=1))
        amp.step(loss, optimizer)

    return step


if __name__ == "__main__":
    main()
