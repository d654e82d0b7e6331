from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import OutputExistsError
from app.core.media.writers import atomic_write_bytes, encode_png, write_png


def test_never_overwrites_without_permission(tmp_path):
    path = tmp_path / "user.png"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"precious"
    atomic_write_bytes(path, b"new", overwrite=True)
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["user.png"]  # no temp files left behind


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import app.core.media.writers as writers

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.os, "link", boom)
    monkeypatch.setattr(writers.os, "replace", boom)
    with pytest.raises(writers.ExportError):
        atomic_write_bytes(tmp_path / "x.png", b"data")
    assert list(tmp_path.iterdir()) == []


def test_png_round_trip_keeps_channels(tmp_path):
    rgba = np.zeros((6, 7, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    write_png(tmp_path / "a.png", rgba)
    back = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert back.shape == (6, 7, 4) and (back[..., 2] == 255).all() and (back[..., 3] == 128).all()
    gray = cv2.imdecode(np.frombuffer(encode_png(np.full((3, 3), 7, np.uint8)), np.uint8), cv2.IMREAD_UNCHANGED)
    assert gray.ndim == 2 and (gray == 7).all()


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        fresh = write_png(tmp_path / "sub" / "new.png", np.zeros((4, 4), np.uint8))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not tempfile's 0600
        assert stat.S_IMODE((tmp_path / "sub").stat().st_mode) == 0o755
        os.umask(0o027)
        other = atomic_write_bytes(tmp_path / "other.bin", b"x")
        assert stat.S_IMODE(other.stat().st_mode) == 0o640
        kept = tmp_path / "kept.bin"
        kept.write_bytes(b"old")
        kept.chmod(0o664)
        atomic_write_bytes(kept, b"new", overwrite=True)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o664 and kept.read_bytes() == b"new"
    finally:
        os.umask(old)


def test_a_result_set_is_all_or_nothing_on_a_full_disk(tmp_path, monkeypatch):
    from app.core.errors import DiskFullError
    from app.core.media.writers import write_set

    from tests.hostile import fill_disk_after

    fill_disk_after(monkeypatch, writes_allowed=2)
    files = {tmp_path / f"img.{k}.png": b"x" * 1000 for k in ("alpha", "rgba", "composite")}
    files[tmp_path / "img.json"] = b"{}"
    with pytest.raises(DiskFullError) as info:
        write_set(files)
    assert list(tmp_path.iterdir()) == []  # no half set, no temporaries
    assert "disk is full" in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 11


def test_a_failing_rename_takes_back_the_renamed_part_of_the_set(tmp_path, monkeypatch):
    import app.core.media.writers as writers
    from app.core.media.writers import write_set

    real_link = writers.os.link
    calls = []

    def link_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_link(src, dst)

    monkeypatch.setattr(writers.os, "link", link_then_fail)
    with pytest.raises(writers.DiskFullError):
        write_set({tmp_path / "a.png": b"1", tmp_path / "b.png": b"2", tmp_path / "c.json": b"3"})
    assert list(tmp_path.iterdir()) == []


def test_an_output_under_a_file_says_which_file_is_in_the_way(tmp_path):
    from app.core.errors import ExportError

    (tmp_path / "notes").write_text("mine")
    with pytest.raises(ExportError) as info:
        atomic_write_bytes(tmp_path / "notes" / "out" / "x.png", b"x")
    assert f"{tmp_path / 'notes'} is a file" in str(info.value)
    assert (tmp_path / "notes").read_text() == "mine"
