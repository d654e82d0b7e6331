"""Recording the live view to a clip, frame by frame, as frames arrive.

Unlike offline export, the live view drops frames, so each frame is written
with its own source timestamp (variable frame rate, millisecond time base):
the clip plays at the speed it was recorded. When the source is a file, its
audio for the recorded span is copied in when the recording finishes.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from app.core.imaging.compose import flatten_rgba
from app.core.errors import ExportError, OutputExistsError, media_error_text
from app.core.video.export import FORMATS, _temp_sibling
from app.core.media.writers import publish

TIME_BASE = Fraction(1, 1000)


class ClipRecorder:
    """H.264 MP4 of RGB frames with timestamps; written to a temp file, renamed on finish.

    Raises (from write/finish):
        ExportError: encoding or writing failed.
        OutputExistsError: the target exists and overwrite is off.
    """

    def __init__(self, path: str | Path, *, audio_source: str | Path | None = None, overwrite: bool = False) -> None:
        self.final = Path(path)
        if self.final.exists() and not overwrite:
            raise OutputExistsError("already exists; choose another name", path=str(self.final))
        self.audio_source = Path(audio_source) if audio_source else None
        self.overwrite = overwrite
        self.fmt = FORMATS["composite"]
        self.frames = 0
        self._out = None
        self._video = None
        self._audio = None
        self._audio_in = None
        self._first_ts: float | None = None
        self._last_pts = -1
        self._span = (0.0, 0.0)
        self.tmp: Path | None = None

    def write(self, image: np.ndarray, timestamp: float) -> None:
        """Appends one RGB (or RGBA, flattened onto black) frame shown at ``timestamp`` seconds."""
        import av

        if image.ndim == 3 and image.shape[2] == 4:
            image = flatten_rgba(image)
        if self._out is None:
            self._open(image.shape[1], image.shape[0])
            self._first_ts = timestamp
        pts = round((timestamp - self._first_ts) / TIME_BASE)
        pts = max(pts, self._last_pts + 1)  # strictly increasing, even if the source repeats a time
        self._last_pts = pts
        self._span = (self._first_ts, timestamp)
        height, width = self._video.height, self._video.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:height, :width]), format="rgb24")
        frame = frame.reformat(format=self.fmt.pix_fmt)
        frame.pts, frame.time_base = pts, TIME_BASE
        try:
            self._out.mux(self._video.encode(frame))
        except av.FFmpegError as exc:
            raise ExportError(f"recording failed: {media_error_text(exc)}", path=str(self.final)) from exc
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        import av

        self.tmp = _temp_sibling(self.final, directory=False)
        self._out = av.open(str(self.tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        self._video = self._out.add_stream(self.fmt.codec, rate=30)
        self._video.width, self._video.height = width - width % 2, height - height % 2
        self._video.pix_fmt = self.fmt.pix_fmt
        self._video.time_base = TIME_BASE
        self._video.codec_context.time_base = TIME_BASE
        self._video.codec_context.options = {"crf": "20", "preset": "veryfast"}
        self._add_audio_stream()

    def _add_audio_stream(self) -> None:
        import av

        if self.audio_source is None:
            return
        try:
            self._audio_in = av.open(str(self.audio_source))
        except (OSError, av.FFmpegError):
            return
        streams = self._audio_in.streams.audio
        if not streams or streams[0].codec_context.name not in self.fmt.audio_copy:
            self._audio_in.close()
            self._audio_in = None
            return
        self._audio = self._out.add_stream_from_template(streams[0])

    def finish(self) -> Path | None:
        """Flushes, adds the audio span, and renames into place; None if no frame was written."""
        if self._out is None:
            return None
        try:
            self._out.mux(self._video.encode(None))
            self._copy_audio()
            self._out.close()
            publish(self.tmp, self.final, overwrite=self.overwrite)
        except Exception as exc:
            self.discard()
            if isinstance(exc, (ExportError, OutputExistsError)):
                raise
            raise ExportError(f"recording failed: {media_error_text(exc)}", path=str(self.final)) from exc
        finally:
            if self._audio_in is not None:
                self._audio_in.close()
            if self.tmp is not None:
                self.tmp.unlink(missing_ok=True)
        return self.final

    def _copy_audio(self) -> None:
        if self._audio is None:
            return
        start, end = self._span
        source = self._audio_in.streams.audio[0]
        base = source.time_base
        offset = source.start_time or 0
        self._audio_in.seek(max(0, int(start / base)) + offset, stream=source, backward=True)
        shift = int(start / base)
        for packet in self._audio_in.demux(source):
            if packet.dts is None or packet.pts is None:
                continue
            t = float((packet.pts - offset) * base)
            if t < start:
                continue
            if t > end:
                break
            packet.pts -= offset + shift
            packet.dts -= offset + shift
            packet.stream = self._audio
            self._out.mux(packet)

    def discard(self) -> None:
        if self._out is not None:
            try:
                self._out.close()
            except Exception:  # a half-written container may fail to close; the file goes anyway
                pass
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
