import pytest

from hparams import HParams, hparams


def test_original_defaults():
    assert (hparams.num_mels, hparams.n_fft, hparams.hop_size, hparams.win_size) == (80, 800, 200, 800)
    assert (hparams.sample_rate, hparams.fmin, hparams.fmax) == (16000, 55, 7600)
    assert (hparams.min_level_db, hparams.ref_level_db, hparams.max_abs_value) == (-100, 20, 4.0)
    assert hparams.preemphasis == 0.97 and hparams.preemphasize and hparams.symmetric_mels
    assert (hparams.img_size, hparams.fps, hparams.batch_size, hparams.syncnet_batch_size) == (96, 25, 16, 128)
    assert (hparams.syncnet_wt, hparams.emo_wt, hparams.pl_wt, hparams.disc_wt) == (0.0, 0.01, 0.01, 0.07)
    assert hparams.frame_shift_ms is None and hparams.nepochs > 10**9


def test_set_hparam_and_copy_are_independent():
    hp = hparams.copy()
    hp.set_hparam("batch_size", 4)
    hp.syncnet_wt = 0.03
    assert hp.batch_size == 4 and hp.syncnet_wt == 0.03
    assert hparams.batch_size == 16 and hparams.syncnet_wt == 0.0
    with pytest.raises(KeyError):
        hp.set_hparam("batchsize", 4)
    with pytest.raises(AttributeError):
        _ = hp.not_a_name


def test_overrides_are_typed():
    hp = hparams.copy().apply_overrides(
        ["batch_size=8", "syncnet_wt=0.03", "rescale=false", "frame_shift_ms=12.5", "nepochs=1e3"]
    )
    assert hp.batch_size == 8 and isinstance(hp.batch_size, int)
    assert hp.syncnet_wt == pytest.approx(0.03)
    assert hp.rescale is False
    assert hp.frame_shift_ms == 12.5
    assert hp.nepochs == 1000
    for bad in ["batch_size", "nosuch=1", "rescale=maybe", "batch_size=eight"]:
        with pytest.raises(ValueError):
            hparams.copy().apply_overrides([bad])


def test_summary_lists_every_value():
    text = HParams(a=1, bb="x").summary()
    assert text.splitlines() == ["a  : 1", "bb : 'x'"]
    full = hparams.summary()
    for key in hparams.values():
        assert key in full
