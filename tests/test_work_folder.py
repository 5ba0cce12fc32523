"""A demo's work folder remembers what it was made from (emogen.apps.work_folder): the same run resumes, a run
from other inputs, another recipe or fewer steps is refused in one line, and two demos never share it at once."""

import json

import pytest

import demo
from emogen.apps.emotion_demo import DatasetDemoConfig, start
from emogen.apps.work_folder import MANIFEST, claim_work_folder
from emogen.common.errors import UserError, run_cli


def test_the_same_run_resumes_and_its_steps_may_grow(tmp_path):
    first = claim_work_folder(str(tmp_path), "--work_dir", {"data": "A", "recipe": 1}, {"generator": 100})
    first.release()
    again = claim_work_folder(str(tmp_path), "--work_dir", {"data": "A", "recipe": 1}, {"generator": 300})
    assert again.earlier_steps == {"generator": 100}
    again.release()
    assert json.loads((tmp_path / MANIFEST).read_text())["steps"] == {"generator": 300}


@pytest.mark.parametrize(
    "identity, steps, expected",
    [
        ({"data": "B", "recipe": 1}, {"generator": 100}, "made with another data"),
        ({"data": "A", "recipe": 2}, {"generator": 100}, "made with another recipe"),
        ({"data": "A", "recipe": 1}, {"generator": 50}, "already trained more steps than asked (generator 50 < 100)"),
    ],
)
def test_another_run_in_the_folder_is_refused(tmp_path, identity, steps, expected):
    claim_work_folder(str(tmp_path), "--work_dir", {"data": "A", "recipe": 1}, {"generator": 100}).release()
    before = (tmp_path / MANIFEST).read_text()
    with pytest.raises(UserError, match="--work_dir") as refused:
        claim_work_folder(str(tmp_path), "--work_dir", identity, steps)
    assert expected in str(refused.value)
    assert (tmp_path / MANIFEST).read_text() == before  # nothing changed


def test_two_demos_never_share_a_folder_at_once(tmp_path):
    held = claim_work_folder(str(tmp_path), "--work_dir", {"data": "A"}, {})
    with pytest.raises(UserError, match="another demo is running in this folder"):
        claim_work_folder(str(tmp_path), "--work_dir", {"data": "A"}, {})
    held.release()
    claim_work_folder(str(tmp_path), "--work_dir", {"data": "A"}, {}).release()


def test_the_dataset_demo_refuses_a_folder_trained_on_other_clips(shared, tmp_path, capsys):
    """demo.py --dataset A --work_dir W, then --dataset B --work_dir W: one line, exit 2, before any stage."""
    import shutil

    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(shared / "data/crema-d", a)
    shutil.copytree(shared / "data/crema-d", b)
    (b / "1001_DFA_HAP_XX.flv").unlink()
    shutil.copy(shared / "data/crema-d/1001_DFA_SAD_XX.flv", b / "1001_DFA_HAP_XX.flv")
    work = tmp_path / "work"
    start(DatasetDemoConfig(str(a), work_dir=str(work))).folder.release()
    assert run_cli(demo.main, ["--dataset", str(b), "--work_dir", str(work)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run made with another clips" in err[0]
    assert not (work / "fps25").exists()  # no stage ran
