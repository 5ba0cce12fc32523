import json
import math
import os
import subprocess
import sys

import pytest
import torch
from shared_data import REPO_ROOT, seeded_state_dict

import color_syncnet_train
import emotion_disc_train
import train
from emogen.common.checkpoint_io import load_weights, read_checkpoint, state_dict_from_checkpoint
from emogen.common.errors import run_cli
from emogen.data.datasets import EmotionDataset, GeneratorDataset, SyncDataset
from emogen.training.checkpoint_files import resume
from emogen.training.engine_emotion_disc import init_weights
from emogen.training.engine_generator import (
    Critics,
    generator_losses,
    maybe_enable_sync_loss,
    set_requires_grad,
    swapped_label_loss,
)
from emogen.training.loop import LoopConfig, TrainSummary, run_training
from emogen.training.losses import PerceptualLoss, cosine_loss, total_loss, vgg19_features
from emogen.training.state import TrainState
from hparams import hparams
from models import SyncNet_color, Wav2Lip
from models.emo_disc import DISCEMO

TRAIN = ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_SAD_LO"]


def common(tiny_dataset, *extra):
    return ["--filelist_dir", str(tiny_dataset / "filelists"), "--num_workers", "0", "--no_progress", *extra]


def fixed_batch(dataset, n):
    return [torch.stack(t) for t in zip(*[dataset[i] for i in range(n)])]


def all_finite(path):
    weights = state_dict_from_checkpoint(read_checkpoint(path))
    return all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_syncnet_script_runs_refuses_overwrite_and_resumes_exactly(tiny_dataset, tmp_path, capsys):
    ck = tmp_path / "sync"
    argv = [
        "--data_root",
        str(tiny_dataset / "pre"),
        "--checkpoint_dir",
        str(ck),
        "--max_steps",
        "2",
        "--hparams",
        "syncnet_batch_size=2",
        "--hparams",
        "syncnet_eval_interval=1",
        "--eval_batches",
        "1",
        "--schedule",
        "wav2lip",
        *common(tiny_dataset),
    ]
    assert run_cli(color_syncnet_train.main, argv) == 0
    out = capsys.readouterr().out
    assert "step 1: validation loss" in out
    step2 = ck / "checkpoint_step000000002.pth"
    assert (ck / "checkpoint_step000000001.pth").exists() and step2.exists() and all_finite(step2)
    assert any((ck / "runs").iterdir())

    assert run_cli(color_syncnet_train.main, argv) == 2
    assert "already holds checkpoints" in capsys.readouterr().err

    saved = read_checkpoint(str(step2))
    model, state = SyncNet_color(), TrainState()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    resume(str(step2), model, opt, state, "expert", "cpu")
    assert (state.global_step, state.global_epoch) == (2, saved["global_epoch"])
    for key, value in saved["optimizer"]["state"].items():
        assert torch.equal(opt.state_dict()["state"][key]["exp_avg"], value["exp_avg"])

    argv[argv.index("2")] = "3"
    assert run_cli(color_syncnet_train.main, argv + ["--checkpoint_path", "latest"]) == 0
    assert read_checkpoint(str(ck / "checkpoint_step000000003.pth"))["global_step"] == 3


def test_emotion_disc_script_never_wipes_and_resumes(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "emo"
    argv = [
        "-i",
        str(tiny_dataset / "pre"),
        "-o",
        str(out),
        "--batch-size",
        "2",
        "--max_steps",
        "2",
        "--save_interval",
        "1",
        *common(tiny_dataset),
    ]
    assert run_cli(emotion_disc_train.main, argv) == 0
    # The original's names: its counter is tested before the increment, so the first file is disc_emo_0.pth.
    assert sorted(f for f in os.listdir(out) if f.endswith(".pth")) == [
        "disc_emo_0.pth",
        "disc_emo_0.state.pth",
        "disc_emo_1.pth",
        "disc_emo_1.state.pth",
    ]
    # A bare state_dict, as the original writes it and as its train.py reads --emotion_disc_path.
    bare = torch.load(out / "disc_emo_1.pth", weights_only=True)
    assert set(bare) == set(DISCEMO().state_dict())
    DISCEMO().load_state_dict(bare)
    assert all_finite(out / "disc_emo_1.pth")
    load_weights(DISCEMO(), str(out / "disc_emo_1.pth"), "emotion discriminator")  # loadable as --emotion_disc_path
    extra = read_checkpoint(str(out / "disc_emo_1.state.pth"))
    assert extra["global_step"] == 2
    assert extra["optimizer"]["param_groups"][0]["lr"] == 1e-6
    assert extra["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.999)

    assert run_cli(emotion_disc_train.main, argv) == 2
    assert "--resume" in capsys.readouterr().err and (out / "disc_emo_1.pth").exists()
    argv[argv.index("--max_steps") + 1] = "3"
    assert run_cli(emotion_disc_train.main, argv + ["--resume"]) == 0
    assert "at step 2" in capsys.readouterr().out
    ckpt = read_checkpoint(str(out / "disc_emo_2.state.pth"))
    assert ckpt["global_step"] == 3 and ckpt["scheduler"]["last_epoch"] >= 1
    for key, value in extra["optimizer"]["state"].items():  # the optimizer moved on from the resumed state
        assert not torch.equal(ckpt["optimizer"]["state"][key]["exp_avg"], value["exp_avg"])


def test_adversarial_frames_stay_within_the_budget_and_raise_the_loss():
    """One signed-gradient step from a random start: never more than eps from the frames, within 0-1, and the
    classifier's loss on them is higher than on the frames themselves."""
    from emogen.training.engine_emotion_disc import adversarial_frames
    from emogen.training.mixed_precision import FP32, MixedPrecision

    torch.manual_seed(0)
    disc = DISCEMO().eval()
    disc.apply(init_weights)
    video = torch.rand(2, 3, 5, 96, 96)
    labels = torch.tensor([1, 4])
    eps = 8 / 255
    moved = adversarial_frames(disc, video, labels, eps, MixedPrecision(FP32, torch.device("cpu")))
    assert (moved - video).abs().max() <= eps + 1e-6 and moved.min() >= 0 and moved.max() <= 1
    assert (moved - video).abs().mean() > eps / 2  # moved, not left in place
    with torch.no_grad():
        clean, attacked = (torch.nn.functional.cross_entropy(disc(v), labels).item() for v in (video, moved))
    assert attacked > clean


def test_emotion_disc_script_trains_on_perturbed_frames_with_adv_eps(tiny_dataset, tmp_path, monkeypatch):
    """--adv_eps 8 reaches the engine as 8/255 and the perturbed frames are what the step trains on."""
    import emogen.training.engine_emotion_disc as engine

    seen = []
    original = engine.adversarial_frames

    def spy(model, video, labels, eps, amp):
        seen.append(eps)
        return original(model, video, labels, eps, amp)

    monkeypatch.setattr(engine, "adversarial_frames", spy)
    argv = ["-i", str(tiny_dataset / "pre"), "-o", str(tmp_path / "emo"), "--batch-size", "2", "--max_steps", "2"]
    assert run_cli(emotion_disc_train.main, [*argv, *common(tiny_dataset), "--adv_eps", "8"]) == 0
    assert seen == [pytest.approx(8 / 255)] * 2
    argv[3] = str(tmp_path / "emo_off")
    assert run_cli(emotion_disc_train.main, [*argv, *common(tiny_dataset)]) == 0
    assert len(seen) == 2  # off by default: the original's training


def test_emotion_disc_resumes_an_original_bare_file(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "emo"
    out.mkdir()
    torch.save(DISCEMO().state_dict(), out / "disc_emo_4.pth")  # what the original writes: weights only
    argv = [
        "-i",
        str(tiny_dataset / "pre"),
        "-o",
        str(out),
        "--batch-size",
        "2",
        "--max_steps",
        "6",
        "--save_interval",
        "1000",
        "--resume",
        *common(tiny_dataset),
    ]
    assert run_cli(emotion_disc_train.main, argv) == 0
    assert "weights only" in capsys.readouterr().out
    assert read_checkpoint(str(out / "disc_emo_5.state.pth"))["global_step"] == 6


@pytest.fixture(scope="module")
def critic_files(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("critics")
    torch.save(
        {"state_dict": {"module." + k: v for k, v in seeded_state_dict("syncnet_color").items()}}, d / "expert.pth"
    )
    torch.save(seeded_state_dict("emotion_disc"), d / "disc.pth")
    return d


@pytest.mark.slow
def test_generator_script_switches_sync_loss_and_resumes(tiny_dataset, critic_files, tmp_path, monkeypatch, capsys):
    import emogen.training.engine_generator as engine

    monkeypatch.setattr(engine, "evaluate_generator", lambda *a, **k: {"sync": 0.5, "l1": 0.1})
    ck = tmp_path / "gen"
    argv = [
        "--data_root",
        str(tiny_dataset / "pre"),
        "--checkpoint_dir",
        str(ck),
        "--syncnet_checkpoint_path",
        str(critic_files / "expert.pth"),
        "--emotion_disc_path",
        str(critic_files / "disc.pth"),
        "--random_vgg",
        "--max_steps",
        "2",
        "--hparams",
        "batch_size=2",
        "--eval_batches",
        "1",
        *common(tiny_dataset),
    ]
    assert run_cli(train.main, argv) == 0
    out = capsys.readouterr().out
    assert "sync loss on (syncnet_wt 0.03)" in out
    # Step 1 is saved before its evaluation switches the weight on; step 2 carries it.
    assert read_checkpoint(str(ck / "checkpoint_step000000001.pth"))["syncnet_wt"] == 0.0
    assert read_checkpoint(str(ck / "checkpoint_step000000002.pth"))["syncnet_wt"] == pytest.approx(0.03)
    assert all_finite(ck / "checkpoint_step000000002.pth")
    assert (ck / "disc_emo_checkpoint_step000000002.pth").exists()
    assert sorted(os.listdir(ck / "samples_step000000002"))[:2] == ["0_0.jpg", "0_1.jpg"]
    argv[argv.index("--max_steps") + 1] = "3"
    assert run_cli(train.main, argv + ["--checkpoint_path", "latest"]) == 0
    assert read_checkpoint(str(ck / "checkpoint_step000000003.pth"))["global_step"] == 3
    assert "resumed from" in capsys.readouterr().out


def test_generator_needs_vgg_weights_unless_told(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(Exception, match="VGG19 ImageNet weights not found.*--random_vgg"):
        PerceptualLoss()
    torch.save({("features." + k): v for k, v in vgg19_features().state_dict().items()}, tmp_path / "vgg.pth")
    assert PerceptualLoss(str(tmp_path / "vgg.pth")).pretrained
    assert [i for i, m in enumerate(vgg19_features()) if isinstance(m, torch.nn.MaxPool2d)] == [4, 9, 18, 27, 36]


@pytest.mark.slow
def test_without_vgg_weights_train_py_leaves_the_perceptual_term_out(
    tiny_dataset, critic_files, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_home"))
    ck = tmp_path / "gen"
    argv = ["--data_root", str(tiny_dataset / "pre"), "--checkpoint_dir", str(ck), "--max_steps", "1"]
    argv += ["--syncnet_checkpoint_path", str(critic_files / "expert.pth")]
    argv += ["--emotion_disc_path", str(critic_files / "disc.pth"), "--hparams", "batch_size=2"]
    argv += ["--hparams", "emo_swap_wt=0.05", "--reference", "other_emotion", "--eval_batches", "1"]
    assert run_cli(train.main, [*argv, *common(tiny_dataset)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if "perceptual term" in line]
    assert len(notes) == 1 and "vgg19-dcbfe244.pth" in notes[0] and "--vgg_path" in notes[0]
    losses = json.loads((ck / "train_summary.json").read_text())["last_losses"]
    assert "perceptual" not in losses and {"l1", "emotion", "emotion_swap"} <= set(losses)
    assert all(math.isfinite(losses[k]) for k in ("l1", "emotion", "emotion_swap"))


def test_swapped_label_term_judges_another_label(monkeypatch):
    torch.manual_seed(0)
    gen, disc = Wav2Lip(), DISCEMO()
    x, mels = torch.rand(3, 6, 5, 96, 96), torch.randn(3, 5, 1, 80, 16)
    labels = torch.tensor([0, 3, 5])
    judged, targets = [], []
    real_forward, real_ce = disc.forward, torch.nn.functional.cross_entropy
    monkeypatch.setattr(disc, "forward", lambda video: judged.append(video.detach()) or real_forward(video))
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", lambda z, t: targets.append(t) or real_ce(z, t))
    loss = swapped_label_loss(gen, disc, mels, x, labels)
    drawn = targets[0]
    assert (drawn != labels).all() and ((0 <= drawn) & (drawn < 6)).all()
    # The face judged is the generator's for the drawn label, not for the true one.
    with torch.no_grad():
        assert torch.allclose(judged[0], gen(mels, x, torch.nn.functional.one_hot(drawn, 6).float()), atol=1e-6)
        assert not torch.allclose(judged[0], gen(mels, x, torch.nn.functional.one_hot(labels, 6).float()))
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gen.emotion_encoder.parameters())
    hp = hparams.copy()
    hp.set_hparam("emo_swap_wt", 0.5)
    terms = {"l1": torch.tensor(0.2), "sync": torch.tensor(0.0), "emotion": torch.tensor(1.0)}
    hp.set_hparam("pl_wt", 0.0)
    with_swap = total_loss({**terms, "emotion_swap": torch.tensor(2.0)}, hp)
    assert float(with_swap - total_loss(terms, hp)) == pytest.approx(1.0)  # 0.5 * 2.0; L1's share unchanged


def test_sync_switch_rule():
    hp = hparams.copy()
    assert not maybe_enable_sync_loss(hp, 0.9) and hp.syncnet_wt == 0.0
    assert maybe_enable_sync_loss(hp, 0.74) and hp.syncnet_wt == 0.03


@pytest.mark.slow
def test_models_overfit_a_fixed_batch(tiny_dataset):
    # Step counts: each loss ends about 2x below its threshold (measured).
    torch.manual_seed(0)
    root = str(tiny_dataset / "pre")
    batch = fixed_batch(SyncDataset(root, TRAIN, augment=False, seed=0), 8)
    model = SyncNet_color()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        a, v = model(batch[1], batch[0])
        loss = cosine_loss(a, v, batch[2])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(x) for x in losses) and losses[-1] < 0.3 * losses[0]

    video, emotion = fixed_batch(EmotionDataset(root, TRAIN, augment=False, seed=0), 6)
    torch.manual_seed(0)
    disc = DISCEMO()
    disc.apply(init_weights)  # as emotion_disc_train.py does
    opt = torch.optim.Adam(disc.parameters(), lr=1e-4, betas=(0.5, 0.999))
    losses = []
    for _ in range(14):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(disc(video), emotion.argmax(1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]

    batch = fixed_batch(GeneratorDataset(root, TRAIN, augment=False, seed=0), 2)
    gen, expert, disc = Wav2Lip(), SyncNet_color().eval(), DISCEMO()
    set_requires_grad(expert, False)
    critics = Critics(expert, disc, torch.optim.Adam(disc.parameters(), 1e-6), PerceptualLoss(allow_random=True))
    opt = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.999))
    l1 = []
    for _ in range(6):
        set_requires_grad(disc, False)
        opt.zero_grad()
        _, _, _, _, terms = generator_losses(gen, critics, batch, hparams, torch.device("cpu"), with_sync=True)
        total_loss(terms, hparams).backward()
        opt.step()
        l1.append(terms["l1"].item())
    assert all(math.isfinite(x) for x in l1) and l1[-1] < 0.6 * l1[0]


def test_ctrl_c_saves_a_checkpoint():
    saved = []
    state = TrainState()

    def step(batch):
        if state.global_step == 2:
            raise KeyboardInterrupt
        return {"loss": 1.0}

    with pytest.raises(KeyboardInterrupt):
        run_training(
            [0] * 5,
            state,
            LoopConfig(nepochs=1, progress=False),
            step,
            lambda losses: None,
            lambda means, n: None,
            saved.append,
        )
    assert saved == ["interrupted"] and state.global_step == 2


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tiny_dataset, tmp_path):
    ck = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(REPO_ROOT / "color_syncnet_train.py"),
        "--data_root",
        str(tiny_dataset / "pre"),
        "--checkpoint_dir",
        str(ck),
        "--max_steps",
        "2",
        "--device",
        "cpu",
        "--hparams",
        "syncnet_batch_size=2",
        "--hparams",
        "syncnet_eval_interval=1",
        "--eval_batches",
        "1",
        *common(tiny_dataset),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = sorted(os.listdir(ck))
    assert "checkpoint_step000000002.pth" in files
    ckpt = load_weights(SyncNet_color(), str(ck / "checkpoint_step000000002.pth"), "expert")
    assert ckpt["global_step"] == 2
    assert proc.stdout.count("saved checkpoint") == 2  # rank 0 only: steps 1 and 2
    # A time budget under torchrun: the ranks agree on the step to stop at (an all-reduce), then rank 0 saves.
    timed = [str(tmp_path / "timed") if c == str(ck) else c for c in cmd] + [
        "--max_minutes",
        "0.0001",
        "--max_steps",
        "50",
    ]
    proc = subprocess.run(timed, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("time limit") == 1 and (tmp_path / "timed" / "checkpoint_step000000001.pth").exists()


def test_expert_emogen_schedule_evaluates_per_epoch_and_keeps_partial_batches(tiny_dataset, tmp_path, capsys):
    ck = tmp_path / "sync"
    argv = [
        "--data_root",
        str(tiny_dataset / "pre"),
        "--checkpoint_dir",
        str(ck),
        "--max_steps",
        "3",
        "--hparams",
        "syncnet_batch_size=2",
        "--eval_batches",
        "1",
        *common(tiny_dataset),
    ]
    assert run_cli(color_syncnet_train.main, argv) == 0
    out = capsys.readouterr().out
    # 3 training clips in batches of 2: the lone last sample is dropped, so one step per epoch. Every epoch
    # ends with an evaluation; epoch 0 is saved (a multiple of 50), epoch 1 is not; step 3 is the limit's save.
    assert "step 1: validation loss" in out and "step 2: validation loss" in out
    assert out.count("validation loss") == 2
    assert sorted(f for f in os.listdir(ck) if f.endswith(".pth")) == [
        "checkpoint_step000000001.pth",
        "checkpoint_step000000003.pth",
    ]
    saved = read_checkpoint(str(ck / "checkpoint_step000000003.pth"))
    assert saved["global_epoch"] == 2
    group = saved["optimizer"]["param_groups"][0]
    assert group["lr"] == hparams.syncnet_lr and group["betas"] == (0.5, 0.999)  # EmoGen's expert optimizer


def test_generator_optimizers_and_original_style_loading(tiny_dataset, critic_files, tmp_path):
    ck = tmp_path / "gen"
    argv = [
        "--data_root",
        str(tiny_dataset / "pre"),
        "--checkpoint_dir",
        str(ck),
        "--syncnet_checkpoint_path",
        str(critic_files / "expert.pth"),
        "--emotion_disc_path",
        str(critic_files / "disc.pth"),
        "--random_vgg",
        "--max_steps",
        "1",
        "--hparams",
        "batch_size=2",
        "--eval_batches",
        "1",
        *common(tiny_dataset),
    ]
    assert run_cli(train.main, argv) == 0
    gen = read_checkpoint(str(ck / "checkpoint_step000000001.pth"))
    assert gen["optimizer"]["param_groups"][0]["lr"] == hparams.initial_learning_rate
    assert gen["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.999)
    disc = read_checkpoint(str(ck / "disc_emo_checkpoint_step000000001.pth"))
    assert disc["optimizer"]["param_groups"][0]["lr"] == 1e-6
    assert disc["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.999)
    # The original inference.py: torch.load, take "state_dict", drop "module.", load_state_dict.
    checkpoint = torch.load(ck / "checkpoint_step000000001.pth", map_location="cpu")
    model = Wav2Lip()
    model.load_state_dict({k.replace("module.", ""): v for k, v in checkpoint["state_dict"].items()})
    assert torch.equal(model.state_dict()["output_block.1.weight"], gen["state_dict"]["output_block.1.weight"])


def _expert_in_mode(mode):
    expert = SyncNet_color()
    expert.load_state_dict(seeded_state_dict("syncnet_color"))
    set_requires_grad(expert, False)
    return expert.train(mode == "train")


def _hand_sync_loss(expert, mel, g):
    """-log(cos(a, v)) averaged over the batch, with the expert's BatchNorm in the mode it is in."""
    lower = g[:, :, :, g.size(3) // 2 :]
    faces = torch.cat([lower[:, :, t] for t in range(lower.size(2))], dim=1)
    a, v = expert(mel, faces)
    cos = (a * v).sum(1) / (a.norm(dim=1) * v.norm(dim=1))
    return -torch.log(cos.clamp(1e-12, 1.0)).mean()


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_frozen_expert_batchnorm_mode_in_a_generator_step(tiny_dataset, shared, mode):
    root = str(tiny_dataset / "pre")
    batch = fixed_batch(GeneratorDataset(root, TRAIN, augment=False, seed=0), 2)
    torch.manual_seed(0)
    gen, disc = Wav2Lip(), DISCEMO()
    expert = _expert_in_mode(mode)
    before = {k: v.clone() for k, v in expert.state_dict().items() if "running_mean" in k}
    critics = Critics(expert, disc, torch.optim.Adam(disc.parameters(), 1e-6), PerceptualLoss(allow_random=True))
    opt = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt.zero_grad()
    g, _, _, _, terms = generator_losses(gen, critics, batch, hparams, torch.device("cpu"), with_sync=True)
    total_loss(terms, hparams).backward()
    opt.step()

    moved = [k for k, v in before.items() if not torch.equal(v, expert.state_dict()[k])]
    if mode == "train":  # the original: batch statistics, and the running averages keep moving
        assert len(moved) == len(before)
    else:
        assert moved == []
    # The sync loss equals a hand computation with a fresh expert in the same mode.
    expected = _hand_sync_loss(_expert_in_mode(mode), batch[2], g.detach())
    assert float(terms["sync"]) == pytest.approx(float(expected), rel=1e-5)
    other = _hand_sync_loss(_expert_in_mode("eval" if mode == "train" else "train"), batch[2], g.detach())
    assert abs(float(other) - float(expected)) > 1e-4  # the mode really changes the loss


def test_train_script_sets_the_expert_mode(tiny_dataset, critic_files, tmp_path, monkeypatch):
    import emogen.training.runs as runs

    seen = {}
    monkeypatch.setattr(
        runs,
        "train_generator",
        lambda model, opt, critics, *a, **k: (
            seen.update(
                training=critics.syncnet.training, grads=any(p.requires_grad for p in critics.syncnet.parameters())
            )
            or TrainSummary(0, "mocked")
        ),
    )
    base = [
        "--data_root",
        str(tiny_dataset / "pre"),
        "--syncnet_checkpoint_path",
        str(critic_files / "expert.pth"),
        "--emotion_disc_path",
        str(critic_files / "disc.pth"),
        "--random_vgg",
        *common(tiny_dataset),
    ]
    assert run_cli(train.main, base + ["--checkpoint_dir", str(tmp_path / "a")]) == 0
    assert seen == {"training": True, "grads": False}
    assert run_cli(train.main, base + ["--checkpoint_dir", str(tmp_path / "b"), "--expert_bn", "eval"]) == 0
    assert seen == {"training": False, "grads": False}


def test_loaders_keep_or_drop_the_last_batch_as_the_original(tiny_dataset):
    from emogen.training.distributed import DistInfo
    from emogen.training.loaders import make_loader

    root = str(tiny_dataset / "pre")
    info = DistInfo(device=torch.device("cpu"))

    def batches(cls, length, batch_size, **kw):
        return len(make_loader(cls(root, TRAIN, augment=False, length=length), batch_size, 0, info, **kw))

    assert batches(SyncDataset, 5, 3) == 2  # expert and generator: the last partial batch is kept
    assert batches(EmotionDataset, 5, 3, drop_last=True) == 1  # the emotion discriminator drops it
    assert batches(SyncDataset, 7, 3) == 2  # except a last batch of one sample, which BatchNorm cannot train on


def test_random_split_draws_from_every_clip_with_augmented_evaluation(tiny_dataset):
    from emogen.training.loaders import load_split_datasets

    root = str(tiny_dataset / "pre")
    train_set, val_set = load_split_datasets(SyncDataset, root, "unused", hparams, True, 0, split="random")
    names = sorted(os.listdir(root))
    names = [n for n in names if os.path.isdir(os.path.join(root, n))]
    assert len(names) == 4
    assert sorted(c.name for c in train_set.clips) == names and sorted(c.name for c in val_set.clips) == names
    assert (len(train_set), len(val_set)) == (int(0.95 * 4), 4 - int(0.95 * 4))
    assert val_set.augment is not None and val_set.augment.p_noise == 0.25  # EmoGen's expert noise probability
    _, val_plain = load_split_datasets(
        SyncDataset, root, "unused", hparams, True, 0, split="random", eval_augment=False
    )
    assert val_plain.augment is None


def test_generator_evaluation_cycles_the_loader():
    from emogen.training.engine_generator import cycle_batches

    assert list(cycle_batches([1, 2], 5)) == [1, 2, 1, 2, 1]
    assert list(cycle_batches([], 3)) == []


def test_time_budget_stops_and_saves_with_a_loss_summary(capsys):
    import time

    saved = []
    state = TrainState()

    def step(batch):
        time.sleep(0.02)
        return {"l1": 1.0 / (state.global_step + 1)}

    run_training(
        [0] * 10_000,
        state,
        LoopConfig(nepochs=1, progress=False, max_minutes=0.005),
        step,
        lambda losses: None,
        lambda means, n: None,
        saved.append,
    )
    assert saved == ["time limit"] and 5 < state.global_step < 10_000
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"stopped at step {state.global_step}: time limit; losses, first 10 steps -> last 10")
    first, last = map(float, line.split("l1 ")[1].split(" -> "))
    assert first == pytest.approx(sum(1 / (k + 1) for k in range(10)) / 10, abs=1e-4) and last < first


def test_a_step_limit_shows_one_bar_over_the_steps_across_epochs(capsys):
    """Epochs of one batch (a six-clip set) would each draw a bar of 1/1; with a step limit one bar counts the
    steps to it, starting from a resumed run's step."""
    state = TrainState(global_step=2, global_epoch=2, saved_step=2)
    run_training(
        [0],
        state,
        LoopConfig(nepochs=100, max_steps=6, desc="generator"),
        lambda batch: {"l1": 0.5},
        lambda losses: None,
        lambda means, n: None,
        lambda reason: None,
    )
    err = capsys.readouterr().err
    assert state.global_step == 6 and "epoch" not in err
    assert "generator:" in err and "6/6" in err and "l1=0.5000" in err and "1/6" not in err


def test_a_resumed_run_at_its_step_limit_trains_nothing(capsys):
    state = TrainState(global_step=4, global_epoch=2, saved_step=4)
    calls, saved = [], []
    run_training(
        [0] * 5,
        state,
        LoopConfig(nepochs=10, progress=False, max_steps=4),
        calls.append,
        lambda losses: None,
        lambda means, n: None,
        saved.append,
    )
    assert calls == [] and saved == [] and (state.global_step, state.global_epoch) == (4, 2)
    assert capsys.readouterr().out.strip() == (
        "stopped at step 4: step limit (4) reached before this run; nothing trained"
    )
    # One step short of the limit: exactly one more step, then a save.
    state = TrainState(global_step=3, saved_step=3)
    run_training(
        [0] * 5,
        state,
        LoopConfig(nepochs=10, progress=False, max_steps=4),
        lambda batch: calls.append(batch) or {"l1": 0.5},
        lambda losses: None,
        lambda means, n: None,
        saved.append,
    )
    assert len(calls) == 1 and saved == ["step limit"] and state.global_step == 4


def test_generator_trains_in_bf16_where_native_and_is_refused_elsewhere(
    tiny_dataset, critic_files, tmp_path, monkeypatch, capsys
):
    import emogen.common.precision as precision

    argv = [
        "--data_root",
        str(tiny_dataset / "pre"),
        "--syncnet_checkpoint_path",
        str(critic_files / "expert.pth"),
        "--emotion_disc_path",
        str(critic_files / "disc.pth"),
        "--random_vgg",
        "--max_steps",
        "1",
        "--hparams",
        "batch_size=2",
        "--eval_batches",
        "1",
        "--precision",
        "bf16",
        *common(tiny_dataset),
    ]
    if precision.cpu_has_native_bf16():
        assert run_cli(train.main, ["--checkpoint_dir", str(tmp_path / "bf16"), *argv]) == 0
        out = capsys.readouterr().out
        assert ", bf16" in out and "stopped at step 1: step limit" in out
        assert all_finite(str(tmp_path / "bf16" / "checkpoint_step000000001.pth"))
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)  # an AVX2-only CPU
    assert run_cli(train.main, ["--checkpoint_dir", str(tmp_path / "refused"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not run bfloat16 natively" in err[0] and "--precision fp32" in err[0]
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").glob("*.pth"))
    for script in (color_syncnet_train, emotion_disc_train):  # the other trainers share the option and the check
        action = next(a for a in script.get_args_parser()._actions if a.dest == "precision")
        assert action.default == "fp32" and set(action.choices) == {"auto", "fp32", "bf16", "fp16"}


def one_step_from(start, ck, tiny_dataset, critic_files) -> list:
    """train.py's arguments for one step at learning rate 0 from the generator weights ``start``."""
    return [
        "--data_root",
        str(tiny_dataset / "pre"),
        "--checkpoint_dir",
        str(ck),
        "--syncnet_checkpoint_path",
        str(critic_files / "expert.pth"),
        "--emotion_disc_path",
        str(critic_files / "disc.pth"),
        "--random_vgg",
        "--max_steps",
        "1",
        "--hparams",
        "batch_size=2",
        "--hparams",
        "initial_learning_rate=0",
        "--eval_batches",
        "1",
        "--init_from",
        str(start),
        *common(tiny_dataset),
    ]


def test_fine_tune_starts_from_given_weights(tiny_dataset, critic_files, tmp_path, capsys):
    start = tmp_path / "released.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, start)
    ck = tmp_path / "ft"
    argv = [*one_step_from(start, ck, tiny_dataset, critic_files), "--freeze_emotion_disc"]
    assert run_cli(train.main, argv) == 0
    assert f"starting from {start}" in capsys.readouterr().out
    saved = state_dict_from_checkpoint(read_checkpoint(str(ck / "checkpoint_step000000001.pth")))
    reference = seeded_state_dict("emogen_generator")
    # lr 0: the convolution weights are the given ones (BatchNorm statistics moved in the one training step).
    assert all(torch.equal(saved[k], reference[k]) for k in reference if k.endswith("conv_block.0.weight"))
    disc_saved = state_dict_from_checkpoint(read_checkpoint(str(ck / "disc_emo_checkpoint_step000000001.pth")))
    disc_given = state_dict_from_checkpoint(read_checkpoint(str(critic_files / "disc.pth")))
    assert all(torch.equal(disc_saved[k], disc_given[k]) for k in disc_given)  # --freeze_emotion_disc


def test_warm_start_from_a_wav2lip_generator(tiny_dataset, critic_files, tmp_path, capsys):
    start = tmp_path / "wav2lip_gan.pth"
    torch.save({"state_dict": seeded_state_dict("wav2lip_generator")}, start)
    ck = tmp_path / "w2l"
    argv = one_step_from(start, ck, tiny_dataset, critic_files)
    assert run_cli(train.main, argv) == 0
    assert "a Wav2Lip generator: its emotion half starts at zero" in capsys.readouterr().out
    saved = state_dict_from_checkpoint(read_checkpoint(str(ck / "checkpoint_step000000001.pth")))
    given = seeded_state_dict("wav2lip_generator")
    first = "face_decoder_blocks.0.0.conv_block.0.weight"
    assert saved[first].shape[1] == 1024 and torch.equal(saved[first][:, :512], given[first])
    assert not saved[first][:, 512:].any() and any(k.startswith("emotion_encoder.") for k in saved)


def test_emotion_film_trains_from_a_released_generator_and_loads_for_inference(
    tiny_dataset, critic_files, tmp_path, capsys
):
    """hparams emotion_film=True: started from a released-layout EmoGen generator, the per-scale layers start at
    zero; the saved file is still an EmoGen generator, inference builds it with the layers, and a generator
    without them refuses it by name."""
    from emogen.common.checkpoint_io import CheckpointError
    from emogen.common.generator_kind import EMOGEN, generator_layout
    from emogen.common.weights import identify_state_dict
    from emogen.inference.generator import load_generator
    from emogen.training.warm_start import warm_start

    start = tmp_path / "released.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, start)
    ck = tmp_path / "film"
    plain = one_step_from(start, ck, tiny_dataset, critic_files)
    assert run_cli(train.main, [*plain, "--hparams", "emotion_film=True"]) == 0
    saved_path = str(ck / "checkpoint_step000000001.pth")
    saved = state_dict_from_checkpoint(read_checkpoint(saved_path))
    film = [k for k in saved if k.startswith("emotion_film.")]
    assert len(film) == 14 and not any(saved[k].any() for k in film)  # lr 0: still at the zero start
    assert generator_layout(saved_path) == (EMOGEN, True)
    assert generator_layout(str(start)) == (EMOGEN, False)
    model = load_generator(saved_path, torch.device("cpu"))
    assert len(model.emotion_film) == 7
    assert identify_state_dict(saved) == "an EmoGen generator"
    with pytest.raises(CheckpointError, match="emotion_film.0.weight"):
        warm_start(Wav2Lip(), saved_path)
    at = plain.index("--init_from")
    plain[at : at + 2] = ["--checkpoint_path", "latest"]
    capsys.readouterr()
    assert run_cli(train.main, plain) == 2
    assert "was trained with --hparams emotion_film=True; resume it with that option" in capsys.readouterr().err


def test_resume_takes_the_newest_complete_pair_and_clears_partial_saves(tiny_dataset, critic_files, tmp_path, capsys):
    """A kill between the generator's and the discriminator's save, and a SIGKILL during a save, as left on disk:
    resuming 'latest' takes the newest step with both files (saying so), and the hidden partial file goes."""
    start = tmp_path / "start.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, start)
    ck = tmp_path / "ck"
    assert run_cli(train.main, one_step_from(start, ck, tiny_dataset, critic_files)) == 0

    def resumed(steps: int, checkpoint="latest", folder=ck) -> list:
        argv = one_step_from(start, folder, tiny_dataset, critic_files)
        at = argv.index("--init_from")
        argv[at : at + 2] = ["--checkpoint_path", str(checkpoint)]
        argv[argv.index("--max_steps") + 1] = str(steps)
        return argv

    assert run_cli(train.main, resumed(2)) == 0
    names = sorted(p.name for p in ck.glob("*checkpoint_step*.pth"))
    assert names == [f"{p}checkpoint_step00000000{n}.pth" for p in ("", "disc_emo_") for n in (1, 2)]
    # Discriminator first, generator last: the generator file marks a complete pair.
    disc_time = (ck / "disc_emo_checkpoint_step000000002.pth").stat().st_mtime_ns
    assert disc_time <= (ck / "checkpoint_step000000002.pth").stat().st_mtime_ns
    (ck / "disc_emo_checkpoint_step000000002.pth").unlink()
    stale = ck / ".checkpoint_step000000003.pth.k2j_x9q1.tmp"
    stale.write_bytes(b"\0" * (3 << 20))
    capsys.readouterr()
    assert run_cli(train.main, resumed(3)) == 0
    out = capsys.readouterr().out
    assert "removed 3 MiB of partial checkpoints" in out and not stale.exists()
    assert "checkpoint_step000000002.pth has no disc_emo_ twin; resuming the newest complete pair" in out
    assert f"resumed from {ck / 'checkpoint_step000000001.pth'} at step 1" in out
    # Asked for by name, a generator without its twin is used, and a line says the discriminator restarts.
    (ck / "disc_emo_checkpoint_step000000003.pth").unlink()
    assert run_cli(train.main, resumed(4, ck / "checkpoint_step000000003.pth", tmp_path / "other")) == 0
    assert "the emotion discriminator starts again from --emotion_disc_path" in capsys.readouterr().out


def test_without_a_discriminator_train_py_runs_l1_alone_and_refuses_an_emotion_term(
    tiny_dataset, critic_files, tmp_path, capsys
):
    """No --emotion_disc_path: with emo_wt and emo_swap_wt 0 the run trains, evaluates, saves no discriminator
    file and resumes; with the paper's emo_wt it stops in one line before any work."""
    ck = tmp_path / "ck"
    argv = ["--data_root", str(tiny_dataset / "pre"), "--checkpoint_dir", str(ck), "--max_steps", "1"]
    argv += ["--syncnet_checkpoint_path", str(critic_files / "expert.pth"), "--random_vgg", "--eval_batches", "1"]
    argv += ["--hparams", "batch_size=2", *common(tiny_dataset)]
    assert run_cli(train.main, argv) != 0
    assert "the emotion term (emo_wt 0.01) needs a trained discriminator: pass --emotion_disc_path" in (
        capsys.readouterr().err
    )
    assert not ck.exists()
    argv += ["--hparams", "emo_wt=0"]
    assert run_cli(train.main, argv) == 0
    assert sorted(p.name for p in ck.glob("*.pth")) == ["checkpoint_step000000001.pth"]
    losses = json.loads((ck / "train_summary.json").read_text())["last_losses"]
    assert "emotion" not in losses and "emotion_real" not in losses and math.isfinite(losses["l1"])
    argv[argv.index("--max_steps") + 1] = "2"
    assert run_cli(train.main, [*argv, "--checkpoint_path", "latest"]) == 0
    assert read_checkpoint(str(ck / "checkpoint_step000000002.pth"))["global_step"] == 2
    assert not list(ck.glob("disc_emo_*"))


def test_the_emotion_blur_keeps_coarse_changes_and_removes_fine_patterns_from_the_gradient():
    """emo_blur: a constant frame passes unchanged, a pixel-to-pixel alternation all but vanishes, and so does the
    fine part of the gradient that reaches the frames, while a coarse change passes."""
    from emogen.training.engine_generator import blur_frames

    flat = torch.full((1, 3, 5, 16, 16), 0.4)
    assert torch.allclose(blur_frames(flat, 2.0), flat)
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    board = ((yy + xx) % 2).float().expand(1, 3, 5, 16, 16).clone() - 0.5
    assert blur_frames(board, 1.0)[..., 4:-4, 4:-4].abs().max() < 0.02
    frames = torch.rand(1, 3, 5, 16, 16, requires_grad=True)
    (blur_frames(frames, 2.0) * board).sum().backward()  # a judge whose gradient is a checkerboard
    assert frames.grad[..., 6:-6, 6:-6].abs().max() < 1e-3
    ramp = (xx.float() / 15).expand(1, 3, 5, 16, 16)  # a coarse change
    assert torch.allclose(blur_frames(ramp, 2.0)[..., 6:-6, 6:-6], ramp[..., 6:-6, 6:-6], atol=1e-4)
