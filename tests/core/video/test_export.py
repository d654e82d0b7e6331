"""Clip export: timing, audio, alpha round trips, backgrounds, no partial files."""

from __future__ import annotations

import json
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from app.core.errors import ExportCancelledError, OutputExistsError, SettingsError
from app.core.models import load_model
from app.core.matting.stream import StreamPipeline, StreamSettings
from app.core.video.export import ExportOptions, VideoBackground, export_video, format_for
from tests.clips import make_clip, moving_frame, probe, write_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "src.mp4", 10)


@pytest.fixture
def pipeline(tiny_models_dir) -> StreamPipeline:
    return StreamPipeline(load_model("rvm", tiny_models_dir))


def decoded_rgba(path: Path) -> list[np.ndarray]:
    """Frames decoded back with their alpha plane (libvpx for VP9: FFmpeg's own vp9 decoder drops alpha)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoder = av.CodecContext.create("libvpx-vp9", "r") if stream.codec_context.name == "vp9" else None
        frames = []
        for packet in container.demux(stream):
            for frame in decoder.decode(packet) if decoder else packet.decode():
                assert "a" in frame.format.name.replace("yuv", "")  # an alpha pixel format
                frames.append(frame.to_ndarray(format="rgba"))
        return frames


def test_composite_mp4_keeps_timing_and_audio(clip, pipeline, tmp_path):
    out = tmp_path / "out.mp4"
    report = export_video(clip, out, pipeline, ExportOptions(background="#00ff00"))
    src, got = probe(clip), probe(out)
    assert report.frames == got["frames"] == 10
    assert got["rate"] == src["rate"]
    assert got["times"] == pytest.approx(src["times"], abs=1e-6)
    assert report.audio == "copied aac"
    assert got["audio"]["seconds"] == pytest.approx(src["audio"]["seconds"], abs=1e-3)
    assert got["audio"]["seconds"] == pytest.approx(10 * 1001 / 30000, abs=0.03)
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame[5, 150].tolist() == pytest.approx([0, 255, 0], abs=12)  # background replaced
    assert frame[60, 30].tolist() == pytest.approx([230, 40, 40], abs=20)  # the "person" kept


def test_variable_frame_rate_is_preserved(pipeline, tmp_path):
    pts = [0, 33, 50, 120, 130, 200, 260]
    vfr = make_clip(tmp_path / "vfr.mp4", 0, vfr_pts=pts)
    out = export_video(vfr, tmp_path / "out.mp4", pipeline).path
    assert probe(out)["times"] == pytest.approx([p / 1000 for p in pts], abs=1e-6)


@pytest.mark.parametrize(("name", "fmt"), [("out.mov", None), ("out.webm", None)])
def test_alpha_formats_really_carry_alpha(clip, pipeline, tmp_path, name, fmt):
    out = export_video(clip, tmp_path / name, pipeline, ExportOptions(format=fmt)).path
    frames = decoded_rgba(out)
    assert len(frames) == 10
    alpha = frames[0][..., 3]
    assert alpha[60, 30] > 240  # inside the red "person"
    assert alpha[5, 150] < 15  # background is transparent
    assert probe(out)["times"] == pytest.approx(probe(clip)["times"], abs=1e-3)
    assert probe(out)["audio"] is not None


def test_png_sequence_is_rgba_with_timing(clip, pipeline, tmp_path):
    import cv2

    report = export_video(clip, tmp_path / "seq", pipeline)
    files = sorted(report.path.glob("*.png"))
    assert len(files) == 10 and report.audio.startswith("not kept")
    rgba = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (120, 160, 4) and rgba[60, 30, 3] > 240 and rgba[5, 150, 3] < 15
    timing = json.loads((report.path / "timing.json").read_text())
    assert timing["fps_fraction"] == "30000/1001"
    assert timing["timestamps"] == pytest.approx(probe(clip)["times"], abs=1e-6)


def test_matte_video_is_the_alpha(clip, pipeline, tmp_path):
    out = export_video(clip, tmp_path / "m.mp4", pipeline, ExportOptions(format="matte")).path
    with av.open(str(out)) as container:
        gray = next(container.decode(video=0)).to_ndarray(format="gray")
    assert gray[60, 30] > 235 and gray[5, 150] < 20


def test_cancel_leaves_no_file(clip, pipeline, tmp_path):
    stop = threading.Event()

    def progress(update) -> None:
        if update.frames == 3:
            stop.set()

    for name in ("out.mp4", "out.webm", "seq"):
        with pytest.raises(ExportCancelledError):
            export_video(clip, tmp_path / name, pipeline, stop=stop, progress=progress)
        stop.clear()
    assert list(tmp_path.iterdir()) == []  # no final file and no temporary left behind


def test_existing_output_is_kept(clip, pipeline, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"user's file")
    with pytest.raises(OutputExistsError):
        export_video(clip, out, pipeline)
    assert out.read_bytes() == b"user's file"
    export_video(clip, out, pipeline, ExportOptions(overwrite=True))
    assert probe(out)["frames"] == 10


def test_video_background_loops_cover_fit(clip, pipeline, tmp_path):
    colours = [(250, 250, 0), (0, 0, 250)]
    frames = [np.full((60, 200, 3), colours[i // 2 % 2], np.uint8) for i in range(4)]  # 2 yellow, 2 blue
    bg_path = write_frames(tmp_path / "bg.mp4", frames, rate=Fraction(30), audio=False)
    background = VideoBackground(bg_path)
    seen = [background.frame_at(t / 30, 160, 120)[5, 5].tolist() for t in range(8)]
    background.close()
    assert all(f == pytest.approx(list(colours[t // 2 % 2]), abs=16) for t, f in enumerate(seen))  # looped
    out = export_video(clip, tmp_path / "out.mp4", pipeline, ExportOptions(background=str(bg_path))).path
    with av.open(str(out)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first.shape == (120, 160, 3) and first[5, 150].tolist() == pytest.approx([250, 250, 0], abs=20)


def test_format_choice():
    assert format_for("a.mp4").name == "composite"
    assert format_for("a.mov").name == "prores" and format_for("a.mov").pix_fmt == "yuva444p10le"
    assert format_for("a.webm").pix_fmt == "yuva420p"
    assert format_for("folder").name == "png"
    assert format_for("a.mp4", "matte").name == "matte"
    with pytest.raises(SettingsError):
        format_for("a.avi")
    with pytest.raises(SettingsError):
        format_for("a.mp4", "webm")


def test_rvm_state_makes_real_alpha_steadier(real_models_dir, portraits_dir, tmp_path):
    """Carrying RVM's recurrent state gives a steadier matte than a fresh state per frame."""
    from PIL import Image

    from tests.clips import person_frames

    cut = np.asarray(Image.open(portraits_dir / "rembg_girl-1.u2net_pred_rgba.png").convert("RGBA"))
    bg = np.asarray(Image.open(portraits_dir.parent / "backgrounds" / "bgmatting_background_0001.png").convert("RGB"))
    frames = person_frames(cut, bg, 8, 320, 180, step=2)
    model = load_model("rvm", real_models_dir)
    carried = StreamPipeline(model, StreamSettings())
    alphas = [carried.process(f, i / 30).alpha for i, f in enumerate(frames)]
    fresh = []
    for i, f in enumerate(frames):
        model.reset()
        fresh.append(model.infer(f).alpha)

    def change(seq):
        # compare each frame with the previous one shifted by the known motion (2 px)
        return float(np.mean([np.abs(a[:, 2:] - b[:, :-2]).mean() for b, a in zip(seq, seq[1:])]))

    assert change(alphas[2:]) < 0.8 * change(fresh[2:])


def test_prores_is_tagged_bt709_and_converted_with_that_matrix(clip, pipeline, tmp_path):
    """Editors read untagged HD as BT.709: the stream says BT.709 and its pixels are BT.709."""
    from av.video.reformatter import Colorspace

    out = tmp_path / "out.mov"
    export_video(clip, out, pipeline, ExportOptions())
    with av.open(str(clip)) as source:
        expected = next(source.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    with av.open(str(out)) as result:
        cc = result.streams.video[0].codec_context
        assert (cc.colorspace, cc.color_primaries, cc.color_trc) == (1, 1, 1)  # BT.709 all three
        frame = next(result.decode(video=0))
        as709 = frame.reformat(format="rgb24", src_colorspace=Colorspace.ITU709).to_ndarray().astype(int)
        as601 = frame.reformat(format="rgb24", src_colorspace=Colorspace.ITU601).to_ndarray().astype(int)
    person = (slice(40, 100), slice(12, 48))  # the red "person": alpha 1, colours are the frame's own
    err709 = np.abs(as709[person] - expected[person]).mean()
    err601 = np.abs(as601[person] - expected[person]).mean()
    assert err709 < 1.5 and err709 < err601


def test_mp3_audio_is_copied_not_reencoded(pipeline, tmp_path):
    from tests.hostile import mp3_clip

    source = mp3_clip(tmp_path / "mp3.mp4")
    out = tmp_path / "out.mp4"
    report = export_video(source, out, pipeline, ExportOptions(background="blue"))
    assert report.audio == "copied mp3"
    with av.open(str(out)) as result:
        assert result.streams.audio[0].codec_context.codec.canonical_name == "mp3"


def test_rotated_clip_reads_upright(tmp_path):
    from app.core.media.sources import VideoFileSource
    from tests.hostile import marked_frame, rotated_clip

    for degrees, turns in ((90, 1), (-90, 3), (180, 2)):
        clip = rotated_clip(tmp_path / f"r{degrees}.mp4", degrees, frames=2)
        with VideoFileSource(clip) as source:
            image = next(iter(source)).image
        expected = np.rot90(marked_frame(96, 64), turns)
        assert image.shape == expected.shape
        assert np.abs(image.astype(int) - expected).mean() < 6


def test_video_source_skips_a_damaged_packet(tmp_path):
    """The live view and background videos read past a damaged packet too (counted, not fatal)."""
    from app.core.errors import UnreadableVideoError
    from app.core.media.sources import VideoFileSource
    from tests.hostile import damaged_packet_clip

    source = make_clip(tmp_path / "src.mp4", 8, audio=False)
    with VideoFileSource(damaged_packet_clip(tmp_path / "bad.mp4", source)) as video:
        assert len(list(video)) == 7 and video.damaged == 1
    with VideoFileSource(damaged_packet_clip(tmp_path / "junk.mp4", source, bad=set())) as video:
        with pytest.raises(UnreadableVideoError):
            list(video)
