from __future__ import annotations

from pathlib import Path

import pytest

from app.core.matting.batch import expand_inputs, parse_outputs, plan_jobs
from app.core.errors import SettingsError
from app.core.media.writers import write_png
from tests.tiny_models import person_image


def _images(folder: Path, names):
    for name in names:
        write_png(folder / name, person_image(64, 48))


def test_expand_files_folders_and_globs(tmp_path):
    _images(tmp_path, ["b.png", "a.png"])
    (tmp_path / "notes.txt").write_text("skip me")
    sub = tmp_path / "sub"
    sub.mkdir()
    _images(sub, ["c.png"])
    assert [i.path.name for i in expand_inputs([str(tmp_path)])] == ["a.png", "b.png"]
    assert [i.path.name for i in expand_inputs([str(tmp_path)], recursive=True)] == ["a.png", "b.png", "c.png"]
    globbed = expand_inputs([str(tmp_path / "*.png"), str(tmp_path / "a.png")])
    assert [i.path.name for i in globbed] == ["a.png", "b.png"]  # no repeats
    nothing = expand_inputs([str(tmp_path / "*.jpg")])
    assert nothing[0].error is not None


def test_output_names_and_stem_clashes(tmp_path):
    items = expand_inputs([str(tmp_path / "x.png"), str(tmp_path / "x.jpg")])
    jobs = plan_jobs(items, tmp_path / "out", ("alpha", "json"))
    assert jobs[0].outputs["alpha"].name == "x_png.alpha.png"
    assert jobs[1].outputs["json"].name == "x_jpg.json"
    single = plan_jobs(items[:1], tmp_path, ("rgba",))
    assert single[0].outputs["rgba"].name == "x.rgba.png"


def test_parse_outputs():
    assert parse_outputs("alpha, rgba") == ("alpha", "rgba")
    assert parse_outputs("all") == ("alpha", "rgba", "composite", "json")
    with pytest.raises(SettingsError):
        parse_outputs("alpha,mask")


def test_same_stem_in_different_folders_gets_one_result_set_each(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        _images(tmp_path / folder, ["shot.png"])
    _images(tmp_path / "a", ["shot.jpg"])  # same folder, other format: the extension tells them apart
    items = expand_inputs([str(tmp_path / "a" / "shot.png"), str(tmp_path / "b" / "shot.png"), str(tmp_path / "a" / "shot.jpg")])
    out = tmp_path / "out"
    jobs = plan_jobs(items, out, ("alpha", "json"))
    paths = [p for job in jobs for p in job.outputs.values()]
    assert len(set(paths)) == len(paths)
    assert jobs[0].outputs["alpha"] == out / "a" / "shot_png.alpha.png"
    assert jobs[1].outputs["alpha"] == out / "b" / "shot.alpha.png"
    assert jobs[2].outputs["json"] == out / "a" / "shot_jpg.json"


def test_recursive_folders_keep_their_sub_folders(tmp_path):
    (tmp_path / "in" / "x").mkdir(parents=True)
    _images(tmp_path / "in", ["shot.png"])
    _images(tmp_path / "in" / "x", ["shot.png", "other.png"])
    jobs = plan_jobs(expand_inputs([str(tmp_path / "in")], recursive=True), tmp_path / "out", ("alpha",))
    names = sorted(str(job.outputs["alpha"].relative_to(tmp_path / "out")) for job in jobs)
    assert names == ["shot.alpha.png", "x/other.alpha.png", "x/shot.alpha.png"]
