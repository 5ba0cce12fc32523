import pytest

from emogen.data.crema_d import emotion_of, parse_crema_name


def test_parse_and_indices():
    name = parse_crema_name("1001_DFA_ANG_XX")
    assert (name.actor, name.sentence, name.emotion, name.intensity) == ("1001", "DFA", "ANG", "XX")
    assert [parse_crema_name(f"1001_DFA_{e}_HI").emotion_index for e in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]
    assert [parse_crema_name(f"1091_IEO_SAD_{i}").intensity_index for i in ("XX", "LO", "MD", "HI")] == [0, 1, 2, 3]


@pytest.mark.parametrize("bad", ["1001_DFA_JOY_XX", "1001_DFA_ANG", "face2", "101_DFA_ANG_XX", "1001_DFA_ANG_ZZ"])
def test_bad_names(bad):
    assert parse_crema_name(bad) is None


def test_emotion_of_lenient_names():
    assert emotion_of("1001_DFA_SAD_LO") == 5
    assert emotion_of("clip_x_HAP_anything") == 3
    with pytest.raises(ValueError):
        emotion_of("face2")
