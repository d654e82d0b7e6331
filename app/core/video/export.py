"""Offline clip export with PyAV: every frame in order, exact timing, audio kept.

Timing: each output frame carries its source frame's own pts in the source's
time base, so 29.97 (30000/1001), variable frame rate and odd start offsets
come out exactly as they went in (RVM's converter forces integer rates and
drops audio; this does neither). Audio packets are stream-copied when the
output container accepts the codec, else re-encoded.

Safety: the output is written under a temporary name in the target folder
and renamed into place only when complete; a cancel (the ``stop`` event) or
an error deletes the temporary, so the final name never holds a partial file.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from app.core.imaging.compose import BackgroundRenderer, composite, cover_fit, parse_background, to_rgba, alpha_to_u8
from app.core.errors import ExportCancelledError, ExportError, OutputExistsError, SettingsError, UnreadableVideoError
from app.core.matting.results import FrameResult
from app.core.media.sources import (
    VIDEO_SUFFIXES, Frame, VideoFileSource, av_frame_to_rgb, is_decode_error, upright_size, video_quarter_turns,
)
from app.core.matting.stream import StreamPipeline
from app.core.media.writers import DISK_FULL_ERRNOS, encode_png, export_error, make_folder, new_folder_mode, publish, temp_file_for


@dataclass(frozen=True)
class OutputFormat:
    """One kind of output file.

    content: "composite" (RGB over a background), "matte" (alpha as gray) or
    "rgba" (foreground colours + alpha, for formats that carry transparency).
    """

    name: str
    suffix: str
    container: str | None  # None: a folder of PNGs
    codec: str | None
    pix_fmt: str
    content: str
    audio_copy: frozenset[str] = frozenset()  # audio codecs the container takes as they are
    audio_codec: str | None = None  # re-encode to this otherwise (None: no audio)
    options: tuple[tuple[str, str], ...] = ()

    @property
    def alpha(self) -> bool:
        return self.content == "rgba"


_MP4_AUDIO = frozenset({"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"})
FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("composite", ".mp4", "mp4", "libx264", "yuv420p", "composite", _MP4_AUDIO, "aac",
                     (("crf", "18"), ("preset", "veryfast"), ("movflags", "+faststart"))),
        OutputFormat("matte", ".mp4", "mp4", "libx264", "yuv420p", "matte", _MP4_AUDIO, "aac",
                     (("crf", "12"), ("preset", "veryfast"), ("movflags", "+faststart"))),
        # ProRes 4444 with alpha: the editing format (Premiere, Resolve, Final Cut)
        OutputFormat("prores", ".mov", "mov", "prores_ks", "yuva444p10le", "rgba",
                     frozenset({"aac", "mp3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le"}), "aac",
                     (("profile", "4"), ("vendor", "apl0"))),
        # VP9 with alpha: what browsers play with transparency
        OutputFormat("webm", ".webm", "webm", "libvpx-vp9", "yuva420p", "rgba", frozenset({"opus", "vorbis"}), "libopus",
                     (("crf", "30"), ("b", "0"), ("deadline", "realtime"), ("cpu-used", "8"), ("row-mt", "1"))),
        OutputFormat("png", "", None, None, "rgba", "rgba"),
    )
}
SUFFIX_FORMATS = {".mp4": "composite", ".m4v": "composite", ".mov": "prores", ".webm": "webm", "": "png"}


def format_for(path: str | Path, name: str | None = None) -> OutputFormat:
    """The output format from ``--format`` or else the file extension (no extension: PNG folder).

    Raises:
        SettingsError: unknown format, or an extension the format cannot be written as.
    """
    suffix = Path(path).suffix.lower()
    if name is None:
        if suffix not in SUFFIX_FORMATS:
            raise SettingsError(f"cannot tell the format from '{suffix}'; use .mp4, .mov, .webm, a folder, or --format")
        return FORMATS[SUFFIX_FORMATS[suffix]]
    if name not in FORMATS:
        raise SettingsError(f"unknown format '{name}'; choose from {', '.join(FORMATS)}")
    fmt = FORMATS[name]
    allowed = {fmt.suffix} | ({".m4v", ".mov"} if fmt.container == "mp4" else set())
    if suffix not in allowed:
        want = fmt.suffix or "a folder name without extension"
        raise SettingsError(f"format {name} is written as {want}, not '{suffix or 'a folder'}'")
    return fmt


@dataclass(frozen=True)
class ExportOptions:
    """How to write a clip. ``background`` is a still spec (colour, image, blur:N) or a video path."""

    format: str | None = None
    background: str | None = None  # None: blur:25 for composites; ignored for matte/alpha formats
    overwrite: bool = False
    keep_audio: bool = True
    crf: int | None = None


@dataclass(frozen=True)
class ExportProgress:
    frames: int
    total: int  # announced by the container; 0 when unknown
    elapsed: float

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class ExportReport:
    path: Path
    format: str
    frames: int
    seconds: float
    audio: str  # "copied <codec>", "re-encoded <from> -> <to>", "none" or "not kept (...)"
    size: tuple[int, int]
    warnings: tuple[str, ...] = ()  # damaged packets skipped, fewer frames than announced

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------- backgrounds


class VideoBackground:
    """A background video: looped, cover-fit to the frame, sampled at the output's timestamps."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        probe = VideoFileSource(self.path)
        self.period = probe.duration
        self.fps = probe.fps
        probe.close()
        self._source: VideoFileSource | None = None
        self._frames: Iterator[Frame] | None = None
        self._current: Frame | None = None
        self._upcoming: Frame | None = None
        self._fitted: tuple[int, tuple[int, int], np.ndarray] | None = None
        self._serial = 0

    def frame_at(self, timestamp: float, width: int, height: int) -> np.ndarray:
        """The background frame shown at ``timestamp`` (seconds), width×height RGB."""
        t = timestamp % self.period if self.period else timestamp
        if self._current is None or t < self._current.timestamp:
            self._restart()
        while self._upcoming is not None and self._upcoming.timestamp <= t + 1e-6:
            self._current, self._upcoming = self._upcoming, next(self._frames, None)
            self._serial += 1
        if self._upcoming is None and self.period is None:
            self.period = self._current.timestamp + 1.0 / self.fps  # learnt at the first loop
        key = (self._serial, (width, height))
        if self._fitted is None or self._fitted[:2] != key:
            self._fitted = (*key, cover_fit(self._current.image, width, height))
        return self._fitted[2]

    def render(self, frame: np.ndarray, alpha: np.ndarray, timestamp: float = 0.0) -> np.ndarray:
        return self.frame_at(timestamp, frame.shape[1], frame.shape[0])

    def _restart(self) -> None:
        self.close()
        self._source = VideoFileSource(self.path)
        self._frames = iter(self._source)
        first = next(self._frames, None)
        if first is None:
            raise UnreadableVideoError("background video has no frames", path=str(self.path))
        self._current, self._upcoming = first, next(self._frames, None)
        self._serial += 1

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None


def make_background(spec: str | None) -> BackgroundRenderer | VideoBackground:
    """A renderer for ``--bg``: a video file, or anything ``parse_background`` accepts.

    Raises:
        SettingsError, UnreadableVideoError, UnreadableImageError.
    """
    spec = spec or "blur:25"
    path = Path(spec).expanduser()
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if not path.is_file():
            raise SettingsError(f"background video not found: {spec}")
        return VideoBackground(path)
    return BackgroundRenderer(parse_background(spec))


def render_output(frame: np.ndarray, result: FrameResult, fmt: OutputFormat,
                  background: BackgroundRenderer | VideoBackground | None, timestamp: float) -> np.ndarray:
    """The image written for one frame: RGB composite, gray matte, or RGBA cut-out."""
    fg = result.foreground if result.foreground is not None else frame
    if fmt.content == "matte":
        return alpha_to_u8(result.alpha)
    if fmt.content == "rgba" or background is None:
        return to_rgba(fg, result.alpha)
    if isinstance(background, VideoBackground):
        bg = background.render(frame, result.alpha, timestamp)
    else:
        bg = background.render(frame, result.alpha)
    if bg is None:  # "transparent" asked for a composite: flatten onto black, the container has no alpha
        bg = np.zeros_like(frame)
    return composite(fg, result.alpha, bg)


# ---------------------------------------------------------------- export


def export_video(
    input_path: str | Path,
    output_path: str | Path,
    pipeline: StreamPipeline,
    options: ExportOptions = ExportOptions(),
    *,
    stop: threading.Event | None = None,
    progress: Callable[[ExportProgress], None] | None = None,
) -> ExportReport:
    """Processes every frame of ``input_path`` in order and writes ``output_path``.

    Raises:
        UnreadableVideoError: the input cannot be read.
        OutputExistsError: the output exists and ``overwrite`` is false.
        ExportCancelledError: ``stop`` was set; nothing is left under the final name.
        ExportError: encoding or writing failed.
        SettingsError: bad format or background.
    """
    import av

    output_path = Path(output_path)
    fmt = format_for(output_path, options.format)
    if output_path.exists() and not options.overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", path=str(output_path))
    if output_path.exists() and fmt.container is None:
        check_replaceable_sequence(output_path)  # refuse before any work, not after the whole clip
    background = make_background(options.background) if fmt.content == "composite" else None
    try:
        source = av.open(str(input_path))
    except (OSError, av.FFmpegError) as exc:
        raise UnreadableVideoError(f"cannot open video ({exc})", path=str(input_path)) from exc
    try:
        if not source.streams.video:
            raise UnreadableVideoError("has no video stream", path=str(input_path))
        pipeline.reset("start")  # a new source never inherits another stream's state
        sink = _PngSequenceSink(output_path, options) if fmt.container is None else _ContainerSink(output_path, fmt, options)
        try:
            report = _transcode(source, sink, pipeline, fmt, background, options, stop, progress)
        except BaseException:
            sink.discard()
            raise
        sink.publish()
        frames, seconds, audio_note, size, notes = report
        return ExportReport(sink.final, fmt.name, frames, seconds, audio_note, size, tuple(notes))
    finally:
        source.close()
        if isinstance(background, VideoBackground):
            background.close()


@dataclass
class _DecodeStats:
    """What the decode could not read, for the user's summary."""

    damaged: int = 0  # packets the decoder rejected (their frames are skipped)
    announced: int = 0  # frames the container's index announces (0: unknown)
    first_error: str = ""

    def notes(self, frames: int) -> list[str]:
        notes = []
        if self.damaged:
            notes.append(f"{self.damaged} damaged packet(s) skipped ({self.first_error})")
        if self.announced and frames < self.announced:
            notes.append(f"read {frames} of the {self.announced} frames the file announces "
                         "(damaged or truncated file)")
        return notes


def _transcode(source, sink, pipeline, fmt, background, options, stop, progress) -> tuple[int, float, str, tuple[int, int], list[str]]:
    import av

    video = source.streams.video[0]
    video.thread_type = "AUTO"
    audio = source.streams.audio[0] if source.streams.audio and options.keep_audio else None
    audio_note = "none" if not source.streams.audio else "not kept (--no-audio)"
    sink.open_video(video, video_quarter_turns(source.name))
    if audio is not None:
        audio_note = sink.add_audio(audio)
        if audio_note.startswith("not kept"):
            audio = None
    stats = _DecodeStats(announced=int(video.frames or 0))
    total = stats.announced
    if not total and video.duration and video.average_rate:
        total = round(float(video.duration * video.time_base * video.average_rate))
    started = time.perf_counter()
    frames, size = 0, (0, 0)
    fallback_step = 1.0 / float(video.average_rate or 30)
    start = video.start_time or 0
    streams = [video] + ([audio] if audio is not None else [])
    try:
        for packet in source.demux(streams):
            if audio is not None and packet.stream.index == audio.index:
                _guarded(lambda: sink.write_audio(packet), stats)
                continue
            decoded = _guarded(packet.decode, stats) or ()
            for av_frame in decoded:
                if stop is not None and stop.is_set():
                    raise ExportCancelledError("export cancelled; no file was written", path=str(sink.final))
                image = av_frame_to_rgb(av_frame)
                if av_frame.pts is not None:
                    timestamp = float((av_frame.pts - start) * video.time_base)
                else:
                    timestamp = frames * fallback_step
                result = pipeline.process(image, timestamp)
                out = render_output(image, result, fmt, background, timestamp)
                size = sink.write_video(out, av_frame.pts, video, frames)
                frames += 1
                if progress is not None:
                    progress(ExportProgress(frames, total, time.perf_counter() - started))
        if frames == 0:
            raise UnreadableVideoError(f"no frame could be decoded{_why(stats)}", path=str(source.name))
        sink.finish()
    except OSError as exc:  # PyAV's errors with an errno are OSErrors too: a full disk is one
        if isinstance(exc, av.FFmpegError) and exc.errno not in DISK_FULL_ERRNOS:
            raise ExportError(f"encoding failed ({exc})", path=str(sink.final)) from exc
        raise export_error(exc, sink.final) from exc
    except av.FFmpegError as exc:
        raise ExportError(f"encoding failed ({exc})", path=str(sink.final)) from exc
    return frames, time.perf_counter() - started, audio_note, size, stats.notes(frames)


def _guarded(step: Callable[[], Any], stats: _DecodeStats) -> Any:
    """Runs one packet's decode; a damaged packet is counted and skipped (writing errors still raise)."""
    import av

    try:
        return step()
    except av.FFmpegError as exc:
        if not is_decode_error(exc):
            raise
        stats.damaged += 1
        stats.first_error = stats.first_error or str(exc).split(";")[0][:120]
        return None


def _why(stats: _DecodeStats) -> str:
    return f" ({stats.damaged} damaged packet(s): {stats.first_error})" if stats.damaged else ""


def _temp_sibling(path: Path, *, directory: bool) -> Path:
    """A hidden temporary next to ``path`` (same filesystem, so the final rename is atomic).

    Its permissions are the final ones: the umask's default, or a replaced file's own mode.

    Raises:
        ExportError: the folder cannot be created or written.
    """
    if not directory:
        fd, tmp = temp_file_for(path)
        os.close(fd)
        return tmp
    make_folder(path.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    except OSError as exc:
        raise export_error(exc, path) from exc
    os.chmod(tmp, new_folder_mode())  # mkdtemp makes 0700 whatever the umask
    return tmp


class _ContainerSink:
    """An MP4/MOV/WebM file being written under a temporary name."""

    def __init__(self, final: Path, fmt: OutputFormat, options: ExportOptions) -> None:
        import av

        self.final, self.fmt, self.options = final, fmt, options
        self.tmp = _temp_sibling(final, directory=False)
        # faststart: the index goes first, so players and browsers can start before the end arrives
        container_options = {"movflags": "+faststart"} if fmt.container in ("mp4", "mov") else {}
        self.out = av.open(str(self.tmp), mode="w", format=fmt.container, options=container_options)
        self.video = None
        self.audio = None
        self._audio_copy = False
        self._resampler = None
        self._even = fmt.pix_fmt.startswith(("yuv420", "yuva420"))

    def add_audio(self, stream: Any) -> str:
        import av

        # the codec family (mp3), not the decoder's name (mp3float): one family, many decoders
        codec = stream.codec_context.codec
        name = getattr(codec, "canonical_name", None) or stream.codec_context.name
        if name in self.fmt.audio_copy:
            self.audio = self.out.add_stream_from_template(stream)
            self._audio_copy = True
            return f"copied {name}"
        target = self.fmt.audio_codec
        rate = stream.codec_context.sample_rate or 48000
        if target == "libopus":
            rate = 48000  # Opus only runs at 48 kHz (and divisors); 48 kHz keeps every source rate exact
        self.audio = self.out.add_stream(target, rate=rate)
        layout = stream.codec_context.layout.name if stream.codec_context.layout else "stereo"
        self.audio.layout = layout
        fmt_name = self.audio.codec_context.codec.audio_formats[0].name
        self.audio.format = fmt_name
        self._resampler = av.AudioResampler(format=fmt_name, layout=layout, rate=rate)
        return f"re-encoded {name} -> {target}"

    def write_audio(self, packet: Any) -> None:
        if self._audio_copy:
            if packet.dts is None:  # the demuxer's flush packet
                return
            packet.stream = self.audio
            self.out.mux(packet)
            return
        for frame in packet.decode():
            for resampled in self._resampler.resample(frame):
                self.out.mux(self.audio.encode(resampled))

    def open_video(self, source: Any, turns: int = 0) -> None:
        """Adds the video stream (upright after ``turns`` quarter turns); must come before any audio
        packet is muxed (the header lists all streams)."""
        fmt = self.fmt
        width, height = upright_size(source.codec_context.width, source.codec_context.height, turns)
        if self._even:  # 4:2:0 needs even sides: drop the odd last row/column rather than rescale
            width, height = width - width % 2, height - height % 2
        rate = source.average_rate or source.guessed_rate or Fraction(30)
        self.video = self.out.add_stream(fmt.codec, rate=rate)
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = fmt.pix_fmt
        # frames keep the source's own pts in its own time base: exact 29.97 and VFR, no rounding to a grid
        self.video.time_base = source.time_base
        self.video.codec_context.time_base = source.time_base
        options = dict(fmt.options)
        if self.options.crf is not None and "crf" in options:
            options["crf"] = str(self.options.crf)
        self.video.codec_context.options = options
        # tag what the pixels are (BT.709, limited range), so players and editors do not guess
        # between BT.601 and BT.709; write_video converts with the same matrix
        cc = self.video.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1

    def write_video(self, image: np.ndarray, pts: int | None, source: Any, index: int) -> tuple[int, int]:
        import av
        from av.video.reformatter import Colorspace

        width, height = self.video.width, self.video.height
        if image.shape[0] < height or image.shape[1] < width:
            raise ExportError(f"the video changed size mid-stream ({image.shape[1]}x{image.shape[0]})", path=str(self.final))
        image = image[:height, :width]
        layout = {2: "gray", 3: "rgb24", 4: "rgba"}[image.ndim if image.ndim == 2 else image.shape[2]]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=layout)
        # our own RGB -> YUV with the matrix the stream is tagged with (the encoder's implicit
        # conversion would use BT.601)
        frame = frame.reformat(format=self.fmt.pix_fmt, dst_colorspace=Colorspace.ITU709)
        frame.pts = pts if pts is not None else index
        frame.time_base = source.time_base
        self.out.mux(self.video.encode(frame))
        return width, height

    def finish(self) -> None:
        self.out.mux(self.video.encode(None))
        if self._resampler is not None:
            for resampled in self._resampler.resample(None):
                self.out.mux(self.audio.encode(resampled))
            self.out.mux(self.audio.encode(None))
        self.out.close()

    def discard(self) -> None:
        try:
            self.out.close()
        except Exception:  # closing a half-written container may itself fail; the file goes anyway
            pass
        self.tmp.unlink(missing_ok=True)

    def publish(self) -> None:
        try:
            publish(self.tmp, self.final, overwrite=self.options.overwrite)
        finally:
            self.tmp.unlink(missing_ok=True)


SEQUENCE_LISTING = "timing.json"  # names every file a PNG export wrote: what --overwrite may delete
_WRITER_TAG = "livematte video"


class _PngSequenceSink:
    """A folder of RGBA PNGs (frame_000001.png ...) plus timing.json with each frame's timestamp.

    timing.json also lists the frame files, so a later ``--overwrite`` deletes
    exactly what this program wrote and refuses a folder holding anything else.
    """

    def __init__(self, final: Path, options: ExportOptions) -> None:
        self.final, self.options = final, options
        self.tmp = _temp_sibling(final, directory=True)
        self.timestamps: list[float] = []
        self.names: list[str] = []
        self._time_base: Fraction | None = None
        self._size = (0, 0)

    def open_video(self, source: Any, turns: int = 0) -> None:
        """Nothing to set up: each frame is its own file."""

    def add_audio(self, stream: Any) -> str:
        return "not kept (a PNG sequence has no audio track)"

    def write_audio(self, packet: Any) -> None:
        raise AssertionError("no audio stream is demuxed for a PNG sequence")

    def write_video(self, image: np.ndarray, pts: int | None, source: Any, index: int) -> tuple[int, int]:
        name = f"frame_{index + 1:06d}.png"
        try:
            (self.tmp / name).write_bytes(encode_png(image))
        except OSError as exc:
            raise export_error(exc, self.final) from exc
        self.names.append(name)
        base = source.time_base
        start = source.start_time or 0
        self.timestamps.append(float((pts - start) * base) if pts is not None else index / float(source.average_rate or 30))
        self._size = (image.shape[1], image.shape[0])
        if self._time_base is None:
            self._time_base = source.average_rate
        return self._size

    def finish(self) -> None:
        rate = self._time_base
        info = {"fps": float(rate) if rate else None, "fps_fraction": str(rate) if rate else None,
                "timestamps": self.timestamps, "written_by": _WRITER_TAG, "frames": self.names}
        try:
            (self.tmp / SEQUENCE_LISTING).write_text(json.dumps(info) + "\n", encoding="utf-8")
        except OSError as exc:
            raise export_error(exc, self.final) from exc

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def publish(self) -> None:
        final = self.final
        try:
            if final.exists() or final.is_symlink():
                if not self.options.overwrite:
                    raise OutputExistsError("already exists; pass --overwrite to replace it", path=str(final))
                os.chmod(self.tmp, stat.S_IMODE(final.stat().st_mode))  # a replaced folder keeps its mode
                _remove_old_sequence(final)
            os.rename(self.tmp, final)
        except OSError as exc:
            raise export_error(exc, final) from exc
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def check_replaceable_sequence(folder: Path) -> list[Path]:
    """The files a previous PNG export wrote in ``folder``: all of them, and nothing else, may go.

    An empty folder gives []. Anything this program did not list in its
    timing.json (the user's own PNGs, sub-folders, a listing of another
    program) makes the folder irreplaceable.

    Raises:
        OutputExistsError: ``folder`` is not a folder, or holds files this program did not write.
    """
    if folder.is_symlink() or not folder.is_dir():
        raise OutputExistsError("exists and is not a folder this program wrote; choose a new folder", path=str(folder))
    present = {p.name for p in folder.iterdir()}
    if not present:
        return []
    listed = _listed_files(folder)
    foreign = sorted(present - (listed or set()))
    if listed is None or foreign:
        example = foreign[0] if foreign else SEQUENCE_LISTING
        raise OutputExistsError(
            f"holds files this program did not write ({example}{' ...' if len(foreign) > 1 else ''}); "
            "nothing was deleted: choose an empty or new folder", path=str(folder))
    return [folder / name for name in sorted(present)]


def _listed_files(folder: Path) -> set[str] | None:
    """Names listed in the folder's timing.json (older exports: frame_000001.png ... one per timestamp).

    None when there is no listing of ours.
    """
    try:
        info = json.loads((folder / SEQUENCE_LISTING).read_text(encoding="utf-8"))
        timestamps = info["timestamps"]
        names = info.get("frames")
        if names is None:  # written before the listing existed: exactly the numbered frames
            names = [f"frame_{i:06d}.png" for i in range(1, len(timestamps) + 1)]
        if not all(isinstance(n, str) and n.startswith("frame_") and n.endswith(".png") and "/" not in n for n in names):
            return None
        return {*names, SEQUENCE_LISTING}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _remove_old_sequence(folder: Path) -> None:
    """Deletes a previous PNG export (only the files it listed), then the empty folder.

    Raises:
        OutputExistsError: the folder holds anything else.
    """
    for path in check_replaceable_sequence(folder):
        path.unlink()
    folder.rmdir()
