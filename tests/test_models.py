import numpy as np
import pytest
import torch
from shared_data import manifest, seeded_state_dict, seeded_weights

from models import DISCEMO, SyncNet_color, Wav2Lip, Wav2Lip_disc_qual

MODELS = {
    "emogen_generator": Wav2Lip,
    "syncnet_color": SyncNet_color,
    "emotion_disc": DISCEMO,
    "wav2lip_disc_qual": Wav2Lip_disc_qual,
}


def seeded(name):
    model = MODELS[name]()
    model.load_state_dict(seeded_state_dict(name), strict=True)
    return model.eval()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_dict_matches_manifest(shared, name):
    sd = MODELS[name]().state_dict()
    entry = manifest()[name]
    assert list(sd) == list(entry)
    for key, tensor in sd.items():
        assert list(tensor.shape) == entry[key]["shape"], key
        assert str(tensor.dtype).replace("torch.", "") == entry[key]["dtype"], key


def test_generator_parity_both_paths(shared, parity):
    model = seeded("emogen_generator")
    x = seeded_weights().seeded_inputs("emogen_generator", 11)
    with torch.inference_mode():
        video = model(x["audio_sequences"], x["face_sequences"], x["emotion"])
        frames = model(x["frame_mels"], x["frame_faces"], x["frame_emotion"])
    assert video.shape == (2, 3, 5, 96, 96) and frames.shape == (3, 3, 96, 96)
    np.testing.assert_allclose(video.numpy(), parity["emogen_generator.video"], atol=1e-4)
    np.testing.assert_allclose(frames.numpy(), parity["emogen_generator.frames"], atol=1e-4)


def test_generator_training_path_is_time_major_per_frame(shared):
    """Frame t of item b in the training path equals the inference path on that frame alone."""
    model = seeded("emogen_generator")
    x = seeded_weights().seeded_inputs("emogen_generator", 11)
    with torch.inference_mode():
        video = model(x["audio_sequences"], x["face_sequences"], x["emotion"])
        b, t = 1, 3
        single = model(
            x["audio_sequences"][b : b + 1, t], x["face_sequences"][b : b + 1, :, t], x["emotion"][b : b + 1]
        )
    np.testing.assert_allclose(video[b, :, t].numpy(), single[0].numpy(), atol=1e-5)


def test_emotion_changes_the_output(shared):
    model = seeded("emogen_generator")
    x = seeded_weights().seeded_inputs("emogen_generator", 11)
    eye = torch.eye(6)
    with torch.inference_mode():
        a = model(x["frame_mels"][:1], x["frame_faces"][:1], eye[0:1])
        b = model(x["frame_mels"][:1], x["frame_faces"][:1], eye[3:4])
    assert (a - b).abs().max() > 1e-3


def film_generator():
    """The seeded EmoGen generator with the emotion_film layers added (at their zero start)."""
    model = Wav2Lip(emotion_film=True)
    missing = model.load_state_dict(seeded_state_dict("emogen_generator"), strict=False).missing_keys
    assert missing and all(k.startswith("emotion_film.") for k in missing)
    return model.eval()


def test_emotion_film_starts_as_the_released_generator(shared, parity):
    """At their zero start the per-scale emotion layers leave the released layout's output unchanged."""
    model = film_generator()
    x = seeded_weights().seeded_inputs("emogen_generator", 11)
    with torch.inference_mode():
        video = model(x["audio_sequences"], x["face_sequences"], x["emotion"])
        frames = model(x["frame_mels"], x["frame_faces"], x["frame_emotion"])
    np.testing.assert_allclose(video.numpy(), parity["emogen_generator.video"], atol=1e-4)
    np.testing.assert_allclose(frames.numpy(), parity["emogen_generator.frames"], atol=1e-4)


def test_emotion_film_acts_on_every_decoder_scale_and_keeps_paths_equal(shared):
    """Each scale's layer alone moves the output for its own label only; the training (window) path still
    equals the per-frame path frame by frame."""
    x = seeded_weights().seeded_inputs("emogen_generator", 11)
    eye = torch.eye(6)
    mels, faces = x["frame_mels"][:1], x["frame_faces"][:1]
    model = film_generator()
    with torch.inference_mode():
        base_fea, base_sad = model(mels, faces, eye[[2]]), model(mels, faces, eye[[4]])
    for scale in range(7):
        with torch.no_grad():
            for i, layer in enumerate(model.emotion_film):
                layer.weight.zero_()
                if i == scale:
                    layer.weight[:, 2] = 0.5  # only the FEA column
        with torch.inference_mode():
            moved, other = model(mels, faces, eye[[2]]), model(mels, faces, eye[[4]])
        assert (moved - base_fea).abs().max() > 1e-3, scale
        assert torch.equal(other, base_sad), scale
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in model.emotion_film:
            layer.weight.normal_(0, 0.1)
    with torch.inference_mode():
        video = model(x["audio_sequences"], x["face_sequences"], x["emotion"])
        single = model(x["audio_sequences"][1:2, 3], x["face_sequences"][1:2, :, 3], x["emotion"][1:2])
    np.testing.assert_allclose(video[1, :, 3].numpy(), single[0].numpy(), atol=1e-5)


def test_emotion_film_leaves_the_other_weights_of_a_seed_alone():
    """A seed builds the same released-layout weights with or without the option (runs compare like for like)."""
    torch.manual_seed(3)
    plain = Wav2Lip().state_dict()
    torch.manual_seed(3)
    film = Wav2Lip(emotion_film=True).state_dict()
    assert len(film) == len(plain) + 14
    assert all(torch.equal(film[k], v) for k, v in plain.items())
    with pytest.raises(ValueError, match="emotion encoder"):
        Wav2Lip(emotion=False, emotion_film=True)


def test_syncnet_parity(shared, parity):
    model = seeded("syncnet_color")
    x = seeded_weights().seeded_inputs("syncnet_color", 11)
    with torch.inference_mode():
        a, f = model(x["mel"], x["lower_faces"])
    np.testing.assert_allclose(a.numpy(), parity["syncnet_color.audio_embedding"], atol=1e-4)
    np.testing.assert_allclose(f.numpy(), parity["syncnet_color.face_embedding"], atol=1e-4)
    assert torch.allclose(a.norm(dim=1), torch.ones(2), atol=1e-5)


def test_emotion_disc_parity(shared, parity):
    model = seeded("emotion_disc")
    x = seeded_weights().seeded_inputs("emotion_disc", 11)
    with torch.inference_mode():
        logits = model(x["video"])
    assert logits.shape == (2, 6)
    np.testing.assert_allclose(logits.numpy(), parity["emotion_disc.logits"], atol=1e-4)
    model.enableGrad(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_quality_disc_parity(shared, parity):
    model = seeded("wav2lip_disc_qual")
    x = seeded_weights().seeded_inputs("wav2lip_disc_qual", 11)
    with torch.inference_mode():
        prob = model(x["video"])
        loss = model.perceptual_forward(x["video"])
    np.testing.assert_allclose(prob.numpy(), parity["wav2lip_disc_qual.prob"], atol=1e-4)
    expected = -np.log(np.clip(parity["wav2lip_disc_qual.prob"], 1e-12, 1)).mean()
    assert float(loss) == pytest.approx(expected, rel=1e-4)


def test_generator_trains_on_cpu():
    torch.manual_seed(0)
    model = Wav2Lip().train()
    out = model(torch.randn(2, 5, 1, 80, 16), torch.rand(2, 6, 5, 96, 96), torch.eye(6)[:2])
    out.mean().backward()
    assert model.emotion_encoder[0].weight.grad.abs().sum() > 0
