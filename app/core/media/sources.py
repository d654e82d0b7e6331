"""Frame sources: camera, video file, image sequence and still image, behind one protocol.

Every source is iterable (yielding ``Frame(image, timestamp)``: RGB uint8
H×W×3 C-contiguous and seconds from the start of the stream) and closeable;
``close()`` is idempotent and also runs when iteration ends or a ``with``
block exits, so no capture handle outlives its use.
"""

from __future__ import annotations

import glob
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Protocol, runtime_checkable

import cv2
import numpy as np

from app.core.errors import (
    CameraStoppedError,
    CameraUnavailableError,
    InputError,
    UnreadableVideoError,
    media_error_text,
)
from app.core.media.image_io import InputLimits, is_image_path, load_image

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".gif"}
VIDEO_SUFFIXES.discard(".gif")  # a GIF is read as a still (load_image gives its first frame)


class Frame(NamedTuple):
    """One frame of a stream; unpacks as ``image, timestamp``."""

    image: np.ndarray  # H×W×3 uint8 RGB, C-contiguous
    timestamp: float  # seconds since the start of the stream


@runtime_checkable
class FrameSource(Protocol):
    """What every source offers: iterate frames, close the handle, say what it is."""

    name: str
    realtime: bool  # True for live devices (never pace them); False for files

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class _Closeable:
    """Context-manager and idempotent-close plumbing shared by all sources."""

    name = ""
    realtime = False
    _closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # last line of defence only; callers should close() or use ``with``
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()

    def _release(self) -> None:
        """Frees the underlying handle (called once)."""


# ---------------------------------------------------------------- camera


def list_cameras(max_index: int = 8) -> list[str]:
    """Names of the video devices that look present, without opening them.

    On Linux the /dev/video* nodes; elsewhere there is no cheap listing, so the
    indices that open are probed (at most ``max_index``).
    """
    if sys.platform.startswith("linux"):
        return sorted(glob.glob("/dev/video*"), key=_natural_key)
    found = []
    for index in range(max_index):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                found.append(str(index))
        finally:
            cap.release()
    return found


class CameraSource(_Closeable):
    """A camera (index or device path) read with OpenCV.

    Opening checks that a first frame arrives; a camera that later stops
    delivering (no frame for ``stall_timeout`` seconds, or ``max_failures``
    failed reads in a row) raises CameraStoppedError instead of hanging.

    Raises:
        CameraUnavailableError: the camera cannot be opened or gives no first frame.
    """

    realtime = True

    def __init__(
        self,
        device: int | str = 0,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        *,
        stall_timeout: float = 3.0,
        max_failures: int = 30,
        capture_factory: Callable[[int | str], Any] | None = None,
    ) -> None:
        self.device = device
        self.name = f"camera {device}"
        self.stall_timeout = stall_timeout
        self.max_failures = max_failures
        # a file opened as a "camera" (handy for testing a setup) simply ends; a device that stops is an error
        self._finite = isinstance(device, (str, Path)) and Path(device).is_file()
        factory = capture_factory or _open_capture
        self._cap = factory(device)
        try:
            if not self._cap.isOpened():
                raise CameraUnavailableError(_camera_missing_message(device))
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self._cap.set(cv2.CAP_PROP_FPS, fps)
            self._first = self._read_first()
        except BaseException:
            self.close()
            raise
        self._started = time.monotonic()

    @property
    def size(self) -> tuple[int, int]:
        return self._first.shape[1], self._first.shape[0]

    def _read_first(self) -> np.ndarray:
        deadline = time.monotonic() + self.stall_timeout
        while time.monotonic() < deadline:
            ok, bgr = self._cap.read()
            if ok and bgr is not None:
                return _bgr_to_rgb(bgr)
            time.sleep(0.01)
        raise CameraUnavailableError(f"{self.name} opened but sent no frame; is another app using it?")

    def __iter__(self) -> Iterator[Frame]:
        if self._closed:
            raise InputError(f"{self.name} is closed")
        try:
            first, self._first = self._first, None
            if first is not None:
                yield Frame(first, 0.0)
            failures, last_ok = 0, time.monotonic()
            while not self._closed:
                ok, bgr = self._cap.read()
                now = time.monotonic()
                if ok and bgr is not None:
                    failures, last_ok = 0, now
                    yield Frame(_bgr_to_rgb(bgr), now - self._started)
                    continue
                failures += 1
                if self._finite:
                    return
                if failures >= self.max_failures or now - last_ok > self.stall_timeout:
                    raise CameraStoppedError(
                        f"{self.name} stopped delivering frames ({failures} failed reads in "
                        f"{now - last_ok:.1f} s); check the cable or close other apps using it"
                    )
                time.sleep(0.005)
        finally:
            self.close()

    def _release(self) -> None:
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()


def _open_capture(device: int | str) -> Any:
    cap = cv2.VideoCapture()
    # bounded waits where the backend supports them, so a dead device cannot hang open/read
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 3000]
    if isinstance(device, int):
        cap.open(device, cv2.CAP_ANY, params)
    else:
        cap.open(str(device), cv2.CAP_ANY, params)
    return cap


def _camera_missing_message(device: int | str) -> str:
    present = list_cameras()
    listing = ", ".join(present) if present else "none found"
    return f"camera {device} cannot be opened; cameras present: {listing}"


def _bgr_to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------- video file


class VideoFileSource(_Closeable):
    """A video file decoded with PyAV; timestamps are the frames' own (exact for 29.97 and VFR).

    Raises:
        UnreadableVideoError: the file is missing, corrupt or has no video stream.
    """

    def __init__(self, path: str | Path) -> None:
        import av

        self.path = Path(path)
        self.name = self.path.name
        try:
            self._container = av.open(str(self.path))
        except (OSError, av.FFmpegError) as exc:
            raise UnreadableVideoError(f"cannot open video: {media_error_text(exc)}", path=str(self.path)) from exc
        if not self._container.streams.video:
            self.close()
            raise UnreadableVideoError("has no video stream", path=str(self.path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame threads: decoding is off the critical path
        self._seek_to: float | None = None
        self.damaged = 0  # packets the decoder rejected and that were skipped

    @property
    def fps(self) -> float:
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 30.0

    @property
    def size(self) -> tuple[int, int]:
        return self._stream.codec_context.width, self._stream.codec_context.height

    @property
    def duration(self) -> float | None:
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if self._container.duration is not None:
            return self._container.duration / 1_000_000
        return None

    @property
    def frame_count(self) -> int:
        """Frames the container announces (0 when it does not say)."""
        return int(self._stream.frames or 0)

    def seek(self, seconds: float) -> None:
        """Next iteration starts at the first frame at or after ``seconds``."""
        self._seek_to = max(0.0, seconds)

    def __iter__(self) -> Iterator[Frame]:
        import av

        if self._closed:
            raise InputError(f"{self.name} is closed")
        start = self._stream.start_time or 0
        base = self._stream.time_base
        target = self._seek_to
        self._seek_to = None
        if target is not None:
            self._container.seek(int(target / base) + start, stream=self._stream, backward=True)
        decoded = 0
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError as exc:
                    if not is_decode_error(exc):
                        raise
                    self.damaged += 1  # one damaged packet costs its frame, not the whole clip
                    continue
                for av_frame in frames:
                    decoded += 1
                    ts = float((av_frame.pts - start) * base) if av_frame.pts is not None else 0.0
                    if target is not None and ts < target - 1e-6:
                        continue
                    yield Frame(av_frame_to_rgb(av_frame), ts)
        except av.FFmpegError as exc:
            raise UnreadableVideoError(f"decoding failed: {media_error_text(exc)}", path=str(self.path)) from exc
        if decoded == 0 and self.damaged:
            raise UnreadableVideoError(f"no frame could be decoded ({self.damaged} damaged packets)", path=str(self.path))

    def _release(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()


class LoopingVideoSource:
    """A video file played over and over; timestamps keep increasing across loops.

    Raises:
        UnreadableVideoError: as VideoFileSource.
    """

    def __init__(self, path: str | Path, start: float = 0.0) -> None:
        self.video = VideoFileSource(path)
        self.name = self.video.name
        self.video.seek(start)

    @property
    def closed(self) -> bool:
        return self.video.closed

    def __iter__(self) -> Iterator[Frame]:
        offset = 0.0
        while not self.video.closed:
            last, count = 0.0, 0
            for frame in self.video:
                last, count = frame.timestamp, count + 1
                yield Frame(frame.image, frame.timestamp + offset)
            if count == 0:
                return
            offset += last + 1.0 / self.video.fps
            self.video.seek(0.0)

    def close(self) -> None:
        self.video.close()

    def __enter__(self) -> "LoopingVideoSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_decode_error(exc: Exception) -> bool:
    """Whether a PyAV error is a damaged input the decoder rejected (skip the packet), not a broken
    file, encoder or disk."""
    import av

    return isinstance(exc, (av.InvalidDataError, av.error.PatchWelcomeError, av.error.BugError,
                            av.error.UndefinedError))


def av_frame_to_rgb(av_frame: Any) -> np.ndarray:
    """PyAV video frame -> H×W×3 uint8 RGB, C-contiguous, upright.

    Phone clips store the sensor's picture plus a display matrix ("rotate 90");
    players turn it, so the model and every output must see it turned too.
    """
    image = av_frame.to_ndarray(format="rgb24")
    turns = frame_quarter_turns(av_frame)
    if turns:
        image = np.rot90(image, turns)  # counter-clockwise, as the display matrix says
    return np.ascontiguousarray(image)


def frame_quarter_turns(av_frame: Any) -> int:
    """Counter-clockwise quarter turns (0-3) the frame's display matrix asks for."""
    try:
        degrees = int(getattr(av_frame, "rotation", 0) or 0)
    except (TypeError, ValueError):  # a malformed matrix: show the frame as stored
        return 0
    return round(degrees / 90) % 4


def video_quarter_turns(path: str | Path) -> int:
    """The display rotation of a clip's first video frame (0 when none or unreadable).

    PyAV exposes the display matrix on decoded frames only, and an encoder
    needs the upright size before the first frame: so peek at it separately.
    """
    import av

    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return frame_quarter_turns(frame)
    except (OSError, av.FFmpegError):  # the real decode reports what is wrong
        return 0
    return 0


def upright_size(width: int, height: int, turns: int) -> tuple[int, int]:
    """The frame size after ``turns`` quarter turns."""
    return (height, width) if turns % 2 else (width, height)


# ---------------------------------------------------------------- images


class ImageSequenceSource(_Closeable):
    """Numbered images from a folder or a glob, in natural order, at ``fps``.

    Raises:
        InputError: nothing matches.
    """

    def __init__(self, pattern: str | Path, fps: float = 25.0, limits: InputLimits = InputLimits()) -> None:
        if fps <= 0:
            raise InputError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.limits = limits
        folder = Path(pattern)
        if folder.is_dir():
            paths = [p for p in folder.iterdir() if p.is_file() and is_image_path(p)]
        else:
            paths = [Path(p) for p in glob.glob(str(pattern)) if is_image_path(Path(p))]
        self.paths = sorted(paths, key=lambda p: _natural_key(p.name))
        if not self.paths:
            raise InputError("no images found", path=str(pattern))
        self.name = str(pattern)

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for i, path in enumerate(self.paths):
            if self._closed:
                return
            yield Frame(load_image(path, self.limits), i / self.fps)


class StillSource(_Closeable):
    """One image repeated ``count`` times (None: until closed) at ``fps``; a still in the live view."""

    def __init__(self, image: np.ndarray | str | Path, count: int | None = 1, fps: float = 30.0) -> None:
        if isinstance(image, (str, Path)):
            self.name = Path(image).name
            image = load_image(image)
        else:
            self.name = "image"
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError("a still frame must be an H×W×3 uint8 RGB array")
        self.image = np.ascontiguousarray(image)
        self.count = count
        self.fps = fps

    def __iter__(self) -> Iterator[Frame]:
        i = 0
        while not self._closed and (self.count is None or i < self.count):
            yield Frame(self.image, i / self.fps)
            i += 1


def open_source(spec: str, *, width: int = 1280, height: int = 720, fps: float = 30.0) -> FrameSource:
    """Picks the source for a user's text: a camera index, a video, a folder/glob of images, or an image.

    Raises:
        CameraUnavailableError, UnreadableVideoError, InputError.
    """
    text = spec.strip()
    if text.isdigit() or text.startswith("/dev/video"):
        return CameraSource(int(text) if text.isdigit() else text, width, height, fps)
    path = Path(text).expanduser()
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoFileSource(path)
    if path.is_dir() or any(ch in text for ch in "*?["):
        return ImageSequenceSource(text, fps)
    if path.is_file():
        return StillSource(path, count=None, fps=fps)
    raise InputError("not a camera, video, image folder or image", path=text)


def _natural_key(text: str) -> list[object]:
    """'frame10' after 'frame9'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]
