from emogen.data.filelists import read_filelist, split_by_actor, split_random, write_filelists

NAMES = [f"{actor}_DFA_{emo}_XX" for actor in range(1001, 1021) for emo in ("ANG", "HAP", "SAD")]


def actors(names):
    return {n.split("_")[0] for n in names}


def test_actor_split_is_speaker_disjoint_and_seeded():
    splits = split_by_actor(NAMES, (0.8, 0.1, 0.1), seed=0)
    assert sum(len(v) for v in splits.values()) == len(NAMES)
    a, b, c = (actors(splits[s]) for s in ("train", "val", "test"))
    assert not (a & b or a & c or b & c)
    assert (len(a), len(b), len(c)) == (16, 2, 2)
    assert split_by_actor(NAMES, seed=0) == splits
    assert split_by_actor(NAMES, seed=1) != splits


def test_small_sets_and_random_split(tmp_path):
    three = split_by_actor(["1001_DFA_ANG_XX", "1002_DFA_ANG_XX", "1003_DFA_ANG_XX"])
    assert [len(three[s]) for s in ("train", "val", "test")] == [1, 1, 1]
    rnd = split_random(NAMES, seed=0)
    assert len(rnd["val"]) == 3 and len(rnd["train"]) == 57 and rnd["test"] == []
    paths = write_filelists(str(tmp_path / "fl"), rnd)
    assert read_filelist(paths[0]) == rnd["train"] and read_filelist(paths[2]) == []
