import math
import os
import subprocess
import sys

import pytest
import torch

import color_syncnet_train
import emotion_disc_train
import train
from emogen.checkpoints import load_weights, read_checkpoint
from emogen.datasets import EmotionDataset, GeneratorDataset, SyncDataset
from emogen.engine_emotion_disc import init_weights
from emogen.engine_generator import Critics, generator_losses, maybe_enable_sync_loss, set_requires_grad, total_loss
from emogen.errors import run_cli
from emogen.perceptual import PerceptualLoss, vgg19_features
from emogen.train_loop import LoopConfig, run_training
from emogen.training import TrainState, cosine_loss, resume
from hparams import hparams
from models import SyncNet_color, Wav2Lip
from models.emo_disc import DISCEMO
from shared_data import REPO_ROOT, seeded_state_dict

TRAIN = ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_SAD_LO"]


def common(tiny_dataset, *extra):
    return ["--filelist_dir", str(tiny_dataset / "filelists"), "--num_workers", "0", "--no_progress", *extra]


def fixed_batch(dataset, n):
    return [torch.stack(t) for t in zip(*[dataset[i] for i in range(n)])]


def all_finite(path):
    return all(torch.isfinite(v).all() for v in read_checkpoint(path)["state_dict"].values() if v.is_floating_point())


def test_syncnet_script_runs_refuses_overwrite_and_resumes_exactly(tiny_dataset, tmp_path, capsys):
    ck = tmp_path / "sync"
    argv = ["--data_root", str(tiny_dataset / "pre"), "--checkpoint_dir", str(ck), "--max_steps", "2",
            "--hparams", "syncnet_batch_size=2", "--hparams", "syncnet_eval_interval=1", "--eval_batches", "1",
            *common(tiny_dataset)]
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
    argv = ["-i", str(tiny_dataset / "pre"), "-o", str(out), "--batch-size", "2", "--max_steps", "2",
            "--save_interval", "1", *common(tiny_dataset)]
    assert run_cli(emotion_disc_train.main, argv) == 0
    assert (out / "disc_emo_2.pth").exists() and all_finite(out / "disc_emo_2.pth")
    load_weights(DISCEMO(), str(out / "disc_emo_2.pth"), "emotion discriminator")  # loadable as --emotion_disc_path
    assert run_cli(emotion_disc_train.main, argv) == 2
    assert "--resume" in capsys.readouterr().err and (out / "disc_emo_1.pth").exists()
    argv[argv.index("--max_steps") + 1] = "3"
    assert run_cli(emotion_disc_train.main, argv + ["--resume"]) == 0
    ckpt = read_checkpoint(str(out / "disc_emo_3.pth"))
    assert ckpt["global_step"] == 3 and ckpt["scheduler"]["last_epoch"] >= 1


@pytest.fixture(scope="module")
def critic_files(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("critics")
    torch.save({"state_dict": {"module." + k: v for k, v in seeded_state_dict("syncnet_color").items()}},
               d / "expert.pth")
    torch.save(seeded_state_dict("emotion_disc"), d / "disc.pth")
    return d


def test_generator_script_switches_sync_loss_and_resumes(tiny_dataset, critic_files, tmp_path, monkeypatch, capsys):
    import emogen.engine_generator as engine

    monkeypatch.setattr(engine, "evaluate_generator", lambda *a, **k: {"sync": 0.5, "l1": 0.1})
    ck = tmp_path / "gen"
    argv = ["--data_root", str(tiny_dataset / "pre"), "--checkpoint_dir", str(ck), "--syncnet_checkpoint_path",
            str(critic_files / "expert.pth"), "--emotion_disc_path", str(critic_files / "disc.pth"),
            "--random_vgg", "--max_steps", "2", "--hparams", "batch_size=2", "--eval_batches", "1",
            *common(tiny_dataset)]
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
    torch.save({("features." + k): v for k, v in vgg19_features().state_dict().items()},
               tmp_path / "vgg.pth")
    assert PerceptualLoss(str(tmp_path / "vgg.pth")).pretrained
    assert [i for i, m in enumerate(vgg19_features()) if isinstance(m, torch.nn.MaxPool2d)] == [4, 9, 18, 27, 36]


def test_sync_switch_rule():
    hp = hparams.copy()
    assert not maybe_enable_sync_loss(hp, 0.9) and hp.syncnet_wt == 0.0
    assert maybe_enable_sync_loss(hp, 0.74) and hp.syncnet_wt == 0.03


def test_models_overfit_a_fixed_batch(tiny_dataset):
    torch.manual_seed(0)
    root = str(tiny_dataset / "pre")
    batch = fixed_batch(SyncDataset(root, TRAIN, augment=False, seed=0), 8)
    model = SyncNet_color()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(12):
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
    for _ in range(20):
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
    for _ in range(8):
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
        run_training([0] * 5, state, LoopConfig(nepochs=1, progress=False), step, lambda losses: None,
                     lambda means, n: None, saved.append)
    assert saved == ["interrupted"] and state.global_step == 2


def test_torchrun_two_processes_gloo(tiny_dataset, tmp_path):
    ck = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO_ROOT / "color_syncnet_train.py"), "--data_root", str(tiny_dataset / "pre"), "--checkpoint_dir",
           str(ck), "--max_steps", "2", "--device", "cpu", "--hparams", "syncnet_batch_size=2",
           "--hparams", "syncnet_eval_interval=1", "--eval_batches", "1", *common(tiny_dataset)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = sorted(os.listdir(ck))
    assert "checkpoint_step000000002.pth" in files
    ckpt = load_weights(SyncNet_color(), str(ck / "checkpoint_step000000002.pth"), "expert")
    assert ckpt["global_step"] == 2
    assert proc.stdout.count("saved checkpoint") == 2  # rank 0 only: steps 1 and 2
