"""Hostile inputs and outputs through the real command line (issue 15): nothing lost, nothing half-written.

Every file here is made in code: see tests/hostile.py.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import cv2
import pytest

from app.cli import main
from tests.clips import make_clip, write_frames
from tests.hostile import fill_disk_after, noisy_photo
from tests.tiny_models import person_image


def _photo(path: Path, width: int = 320, height: int = 240) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(person_image(width, height), cv2.COLOR_RGB2BGR))
    return path


def _still(models, *args):
    return main(["still", *args, "--models-dir", str(models), "--no-progress"])


def _video(models, *args):
    return main(["video", *args, "--models-dir", str(models), "--no-progress"])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("hostile_clips") / "in.mp4", 6, audio=False)


# ---------------------------------------------------------------- PNG sequence --overwrite


def test_overwrite_never_deletes_the_users_own_pngs(tiny_models_dir, clip, tmp_path, capsys):
    """A folder of the user's PNGs named as the output survives --overwrite: refused with exit 12."""
    folder = tmp_path / "work" / "holiday_pngs"
    folder.mkdir(parents=True)
    mine = {f"IMG_{i:04d}.png": _photo(folder / f"IMG_{i:04d}.png").read_bytes() for i in range(3)}
    assert _video(tiny_models_dir, str(clip), "-o", str(folder), "--overwrite") == 12
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == mine
    assert "did not write" in capsys.readouterr().err
    assert sorted(p.name for p in folder.parent.iterdir()) == ["holiday_pngs"]  # no temporary left


def test_overwrite_replaces_exactly_a_previous_export(tiny_models_dir, clip, tmp_path):
    folder = tmp_path / "seq"
    assert _video(tiny_models_dir, str(clip), "-o", str(folder)) == 0
    listing = json.loads((folder / "timing.json").read_text())
    assert listing["frames"] == [f"frame_{i:06d}.png" for i in range(1, 7)]
    assert _video(tiny_models_dir, str(clip), "-o", str(folder), "--overwrite") == 0
    (folder / "notes.txt").write_text("mine")  # the user adds a file: the folder is no longer ours alone
    assert _video(tiny_models_dir, str(clip), "-o", str(folder), "--overwrite") == 12
    assert (folder / "notes.txt").read_text() == "mine" and len(list(folder.glob("frame_*.png"))) == 6


def test_a_timing_json_of_someone_else_does_not_license_deletion(tiny_models_dir, clip, tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    (folder / "timing.json").write_text('{"timestamps": [0.0]}')
    (folder / "frame_000001.png").write_bytes(b"user")
    (folder / "frame_000002.png").write_bytes(b"user too")  # not listed: not ours
    assert _video(tiny_models_dir, str(clip), "-o", str(folder), "--overwrite") == 12
    assert (folder / "frame_000002.png").read_bytes() == b"user too"


# ---------------------------------------------------------------- full disk


def test_full_disk_during_still_is_one_line_exit_11_and_a_rerun_completes(tiny_models_dir, tmp_path, monkeypatch, capsys):
    photo = _photo(tmp_path / "in" / "img.png")
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        fill_disk_after(patch, 1)  # the second file of the set hits the full disk
        assert _still(tiny_models_dir, str(photo), "-o", str(out)) == 11
    err = capsys.readouterr().err
    assert "Traceback" not in err and "disk is full" in err and "done 0, failed 1" in err
    assert not out.exists() or list(out.iterdir()) == []  # all or nothing
    assert _still(tiny_models_dir, str(photo), "-o", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["img.alpha.png", "img.composite.png", "img.json", "img.rgba.png"]


def test_a_partial_set_from_an_older_run_is_completed_not_skipped(tiny_models_dir, tmp_path, capsys):
    photo = _photo(tmp_path / "in" / "img.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "img.alpha.png").write_bytes(b"from before")
    assert _still(tiny_models_dir, str(photo), "-o", str(out)) == 0
    assert (out / "img.alpha.png").read_bytes() == b"from before"  # never overwritten without --overwrite
    assert {p.name for p in out.iterdir()} == {"img.alpha.png", "img.composite.png", "img.json", "img.rgba.png"}
    assert "done 1" in capsys.readouterr().err
    assert _still(tiny_models_dir, str(photo), "-o", str(out)) == 0
    assert "skipped 1" in capsys.readouterr().err  # now the whole set exists


def test_full_disk_during_a_png_sequence_is_exit_11_without_leftovers(tiny_models_dir, clip, tmp_path, monkeypatch, capsys):
    import app.core.video.export as video_export

    calls = {"n": 0}
    real = video_export.encode_png

    def encode_then_fill(image):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(image)

    monkeypatch.setattr(video_export, "encode_png", encode_then_fill)
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "seq")) == 11
    err = capsys.readouterr().err
    assert "Traceback" not in err and "disk is full" in err
    assert [p for p in tmp_path.iterdir() if p.name != "cache"] == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 200 KB filesystem; skipped where mounting is not allowed (not root, containers)."""
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc})")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=30)


def test_a_real_full_disk(tiny_models_dir, small_tmpfs, tmp_path, capsys):
    """still and the PNG sequence on a 200 KB tmpfs: exit 11, one line, only whole result sets, no temporaries."""
    photos = []
    for i in range(6):
        photos.append(tmp_path / "in" / f"p{i}.png")
        photos[-1].parent.mkdir(exist_ok=True)
        cv2.imwrite(str(photos[-1]), noisy_photo(128, 96, i))
    code = _still(tiny_models_dir, *map(str, photos), "-o", str(small_tmpfs / "out"))
    err = capsys.readouterr().err
    assert code == 11 and "Traceback" not in err and "disk is full" in err
    left = [p.name for p in (small_tmpfs / "out").iterdir()]
    assert not [n for n in left if n.endswith(".part")]
    stems = {n.split(".")[0] for n in left}
    for stem in stems:  # every set present is complete
        assert {f"{stem}.alpha.png", f"{stem}.rgba.png", f"{stem}.composite.png", f"{stem}.json"} <= set(left)
    seq_clip = make_clip(tmp_path / "big.mp4", 40, width=320, height=240, audio=False)
    assert _video(tiny_models_dir, str(seq_clip), "-o", str(small_tmpfs / "seq")) == 11
    assert "Traceback" not in capsys.readouterr().err
    big_clip = write_frames(tmp_path / "bigger.mp4", [noisy_photo(640, 480, i) for i in range(30)], audio=False)
    assert _video(tiny_models_dir, str(big_clip), "-o", str(small_tmpfs / "out.mp4"), "--crf", "0") == 11
    assert "disk is full" in capsys.readouterr().err
    assert not [p for p in small_tmpfs.iterdir() if p.name.startswith(".") or p.name == "out.mp4"]


# ---------------------------------------------------------------- same stems, permissions


def test_same_stem_from_two_folders_gives_two_result_sets(tiny_models_dir, tmp_path, capsys):
    a = _photo(tmp_path / "a" / "shot.jpg")
    b = _photo(tmp_path / "b" / "shot.jpg", 200, 160)
    out = tmp_path / "out"
    assert _still(tiny_models_dir, str(a), str(b), "-o", str(out), "--outputs", "alpha,json") == 0
    assert "done 2, failed 0, skipped 0" in capsys.readouterr().err
    assert json.loads((out / "a" / "shot.json").read_text())["width"] == 320
    assert json.loads((out / "b" / "shot.json").read_text())["width"] == 200


def test_outputs_honour_the_umask(tiny_models_dir, clip, tmp_path):
    photo = _photo(tmp_path / "in" / "img.png")
    old = os.umask(0o022)
    try:
        assert _still(tiny_models_dir, str(photo), "-o", str(tmp_path / "out" / "deep")) == 0
        assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "c.mp4")) == 0
        assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "seq")) == 0
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert {mode(p) for p in (tmp_path / "out" / "deep").iterdir()} == {0o644}
    assert mode(tmp_path / "out") == mode(tmp_path / "out" / "deep") == 0o755
    assert mode(tmp_path / "c.mp4") == 0o644 and mode(tmp_path / "seq") == 0o755
    assert {mode(p) for p in (tmp_path / "seq").iterdir()} == {0o644}
    (tmp_path / "c.mp4").chmod(0o640)
    (tmp_path / "seq").chmod(0o750)
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "c.mp4"), "--overwrite") == 0
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "seq"), "--overwrite") == 0
    assert mode(tmp_path / "c.mp4") == 0o640 and mode(tmp_path / "seq") == 0o750  # --overwrite keeps modes


def test_output_under_a_file_names_the_file(tiny_models_dir, tmp_path, capsys):
    photo = _photo(tmp_path / "in" / "img.png")
    (tmp_path / "out").write_text("mine")
    assert _still(tiny_models_dir, str(photo), "-o", str(tmp_path / "out" / "x")) == 11
    assert f"{tmp_path / 'out'} is a file" in capsys.readouterr().err


# ---------------------------------------------------------------- termination signals


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_termination_signals_mid_export_leave_nothing(tiny_models_dir, clip, tmp_path, monkeypatch, capsys, sig):
    import app.core.video.export as video_export

    real_render = video_export.render_output
    calls = []

    def render_then_signal(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            signal.raise_signal(getattr(signal, sig))
        return real_render(*args, **kwargs)

    monkeypatch.setattr(video_export, "render_output", render_then_signal)
    assert threading.current_thread() is threading.main_thread()
    before = {s: signal.getsignal(getattr(signal, s)) for s in ("SIGTERM", "SIGHUP")}
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "out.mov")) == 130
    assert [p for p in tmp_path.iterdir() if p.name != "cache"] == []  # no hidden .out.mov.XXXX.part
    assert "cancelled" in capsys.readouterr().err
    assert {s: signal.getsignal(getattr(signal, s)) for s in before} == before


def test_sigterm_to_a_real_process_mid_batch_leaves_no_partial_files(tiny_models_dir, tmp_path):
    """A real `livematte still` process killed with SIGTERM while writing: no .part files, exit 130."""
    photos = [_photo(tmp_path / "in" / f"p{i}.png") for i in range(3)]
    out = tmp_path / "out"
    flag = tmp_path / f"writing-{uuid.uuid4().hex}"
    # the child signals itself from inside the writer, so the test does not depend on timing
    code = (
        "import os, signal, sys\n"
        "import app.core.media.writers as w\n"
        "real = w.publish\n"
        "def killed(tmp, path, overwrite):\n"  # every temporary of the set is on disk now
        f"    open({str(flag)!r}, 'a').close()\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return real(tmp, path, overwrite=overwrite)\n"
        "w.publish = killed\n"
        "from app.cli import main\n"
        f"sys.exit(main(['still', *{[str(p) for p in photos]!r}, '-o', {str(out)!r}, "
        f"'--models-dir', {str(tiny_models_dir)!r}, '--no-progress']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert flag.exists()
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() or [p.name for p in out.iterdir()] == []


# ---------------------------------------------------------------- damaged, truncated and rotated clips


def test_one_damaged_packet_is_skipped_with_a_warning(tiny_models_dir, tmp_path, capsys):
    from tests.hostile import damaged_packet_clip

    source = make_clip(tmp_path / "src.mp4", 12, audio=False)
    bad = damaged_packet_clip(tmp_path / "bad.mp4", source)
    out = tmp_path / "out.mp4"
    assert _video(tiny_models_dir, str(bad), "-o", str(out)) == 0
    err = capsys.readouterr().err
    assert "1 damaged packet(s) skipped" in err and "read 11 of the 12 frames" in err
    with __import__("av").open(str(out)) as result:
        assert sum(1 for _ in result.decode(video=0)) == 11


def test_a_clip_where_no_frame_decodes_is_unreadable_video(tiny_models_dir, tmp_path, capsys):
    from tests.hostile import damaged_packet_clip

    source = make_clip(tmp_path / "src.mp4", 6, audio=False)
    junk = damaged_packet_clip(tmp_path / "junk.mp4", source, bad=set())
    assert _video(tiny_models_dir, str(junk), "-o", str(tmp_path / "o" / "out.mp4")) == 15
    err = capsys.readouterr().err
    assert "no frame could be decoded" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_a_truncated_fast_start_clip_says_how_many_frames_were_read(tiny_models_dir, tmp_path, capsys):
    from tests.hostile import truncated_clip

    source = make_clip(tmp_path / "src.mp4", 32, audio=False)
    cut = truncated_clip(tmp_path / "cut.mp4", source)
    assert _video(tiny_models_dir, str(cut), "-o", str(tmp_path / "out.mp4")) == 0
    err = capsys.readouterr().err
    assert "of the 32 frames the file announces" in err


def test_rotation_metadata_is_honoured(tiny_models_dir, tmp_path):
    """A phone clip stored 96x64 with 'rotate 90' comes out 64x96 and upright (model and output)."""
    import av

    from tests.hostile import rotated_clip

    clip = rotated_clip(tmp_path / "phone.mp4", 90)
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "seq")) == 0
    frame = cv2.imread(str(tmp_path / "seq" / "frame_000001.png"), cv2.IMREAD_UNCHANGED)
    assert frame.shape[:2] == (96, 64)  # height, width: upright
    # the stored frame's white left quarter is, turned 90° counter-clockwise, the bottom quarter
    assert frame[-10:, :, :3].mean() > 200 and frame[:60, :, :3].mean() < 80
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "out.mp4")) == 0
    with av.open(str(tmp_path / "out.mp4")) as result:
        decoded = next(result.decode(video=0))
        assert (decoded.width, decoded.height) == (64, 96) and decoded.rotation == 0


# ---------------------------------------------------------------- options and messages


@pytest.mark.parametrize("args", [
    ["--crf", "99"], ["--crf", "-1"], ["--smoothing", "2"], ["--every", "0"], ["--threshold", "1.5"],
    ["--feather", "-3"], ["--ratio", "0"], ["--ratio", "1.5"], ["--threads", "-1"], ["--min-blob", "nan"],
])
def test_out_of_range_video_options_are_exit_2_before_any_work(clip, tmp_path, args, capsys):
    # no --models-dir: had any work started, the missing model would be exit 8
    assert main(["video", str(clip), "-o", str(tmp_path / "out.mp4"), *args]) == 2
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "cache"])


def test_crf_beyond_the_formats_range_is_exit_2(clip, tmp_path, capsys):
    assert main(["video", str(clip), "-o", str(tmp_path / "out.mp4"), "--crf", "55"]) == 2
    assert "0-51" in capsys.readouterr().err
    assert main(["video", str(clip), "-o", str(tmp_path / "out.mov"), "--crf", "20"]) == 2


@pytest.mark.parametrize("args", [["--max-pixels", "0"], ["--min-side", "0"], ["--max-file-mb", "-5"],
                                  ["--passes", "0"], ["--threshold", "-0.1"]])
def test_out_of_range_still_options_are_exit_2(tmp_path, args):
    assert main(["still", str(_photo(tmp_path / "in" / "a.png")), "-o", str(tmp_path / "out"), *args]) == 2
    assert not (tmp_path / "out").exists()


def test_size_message_speaks_the_options_unit(tiny_models_dir, tmp_path, capsys):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + bytes(2 * 1024 * 1024))
    assert _still(tiny_models_dir, str(big), "-o", str(tmp_path / "out"), "--max-file-mb", "1") == 7
    assert "the limit is 1 MB" in capsys.readouterr().err


# ---------------------------------------------------------------- memory and model failures


def test_a_lying_header_is_refused_before_decoding(tiny_models_dir, tmp_path, capsys):
    from tests.hostile import header_bomb_png

    bomb = header_bomb_png(tmp_path / "bomb.png", 8000, 8000)
    assert bomb.stat().st_size < 120
    assert _still(tiny_models_dir, str(bomb), "-o", str(tmp_path / "out")) == 6  # not 3: it was never decoded
    assert "64.0 MP; the limit is 50 MP" in capsys.readouterr().err


def test_a_model_failure_on_one_file_does_not_stop_the_batch(tiny_models_dir, tmp_path, monkeypatch, capsys):
    from app.core.matting.still import StillPipeline

    real = StillPipeline.process

    def fail_on_strips(self, frame):
        if frame.shape[0] < 50:
            raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Invalid input shape: {2,480}\nmore")
        return real(self, frame)

    monkeypatch.setattr(StillPipeline, "process", fail_on_strips)
    strip = _photo(tmp_path / "in" / "a_strip.png", 800, 40)
    fine = _photo(tmp_path / "in" / "b_fine.png")
    assert _still(tiny_models_dir, str(strip), str(fine), "-o", str(tmp_path / "out"), "--outputs", "alpha") == 26
    err = capsys.readouterr().err
    assert "done 1, failed 1" in err
    assert "processing failed (RuntimeError: [ONNXRuntimeError]" in err and "Traceback" not in err
    assert (tmp_path / "out" / "b_fine.alpha.png").exists()


@pytest.mark.real_models
def test_real_rvm_batch_of_extreme_shapes_finishes(real_models_dir, tmp_path, capsys):
    """8192x40, 1600x8 (--min-side 8) and --ratio 0.005 crashed the real RVM and ended the batch."""
    folder = tmp_path / "in"
    for name, (w, h) in {"a.png": (8192, 40), "b.png": (1600, 8), "c.png": (320, 240)}.items():
        _photo(folder / name, w, h)
    out = tmp_path / "out"
    args = ["--models-dir", str(real_models_dir), "--no-progress", "--outputs", "alpha,json"]
    assert main(["still", str(folder), "-o", str(out), "--min-side", "8", *args]) == 0
    assert "done 3, failed 0" in capsys.readouterr().err
    assert main(["still", str(folder / "c.png"), "-o", str(tmp_path / "o2"), "--ratio", "0.005", *args]) == 0
    assert json.loads((tmp_path / "o2" / "c.json").read_text())["downsample_ratio"] >= 8 / 240
