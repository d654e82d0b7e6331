"""What the HTTP service runs: one loaded pipeline per process, limits, admission.

Framework-free on purpose: the routes (FastAPI) only translate requests and
responses; everything that decides *what* happens to an image lives here and
in ``app.core``, so a second front end (or a test) can drive it directly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, Generic, Iterator, TypeVar

import numpy as np

from app.core.imaging.compose import alpha_to_u8, keep_opaque_colours, to_rgba
from app.core.errors import LiveMatteError
from app.core.media.image_io import InputLimits, decode_image
from app.core.face.parsing import FaceParse, FaceParser
from app.core.body.pose import Pose, PoseEstimator
from app.core.matting.results import FrameResult
from app.core.matting.still import StillPipeline
from app.core.media.writers import encode_png
from app.service.limits import Header, ImageRules, lenient_rules, read_header
from app.service.memory import release_memory

DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)
LARGE_PIXELS = 4_000_000  # a request that decoded an image this large returns its memory afterwards


class ServiceBusyError(LiveMatteError):
    """More requests are waiting for the model than ``max_pending`` allows."""

    code = "busy"
    exit_code = 23


class BadBase64Error(LiveMatteError):
    """A base64 field that does not decode."""

    code = "bad_base64"
    exit_code = 3


@dataclass(frozen=True)
class ServiceLimits:
    """Bounds on one request and on the work in flight.

    max_request_bytes: whole HTTP body (413 beyond it; base64 is 4/3 of the file).
    image: the service's own per-image bounds (encoded file size, sides in px);
    each API's document narrows them unless ``lenient``.
    max_pending: requests admitted at once (running or queued for the model);
    one more is refused straight away instead of queueing without bound.
    max_request_pixels: pixels one request may decode, all its images together
    (checked on the headers before any decoding).
    max_images: images in one face_parser request.
    lenient: accept what the service can do (``image``, every format the core
    reads) instead of what each cloud API's document allows.
    """

    max_request_bytes: int = 32 * 1024 * 1024
    image: InputLimits = InputLimits(min_side=32, max_side=8192, max_file_bytes=20 * 1024 * 1024)
    max_pending: int = 8
    max_request_pixels: int = 8192 * 8192
    max_images: int = 8
    lenient: bool = False

    def __post_init__(self) -> None:
        if self.max_request_bytes < 1024 or self.max_pending < 1:
            raise ValueError("max_request_bytes must be >= 1024 and max_pending >= 1")
        if self.max_request_pixels < 1 or self.max_images < 1:
            raise ValueError("max_request_pixels and max_images must be >= 1")

    def rules(self, documented: ImageRules) -> ImageRules:
        """What a route accepts: its API's documented rules within the service's bounds, or
        (lenient) the service's bounds alone."""
        if self.lenient:
            return lenient_rules(self.image, self.max_request_pixels)
        return documented.tightened(self.image, self.max_request_pixels)


@dataclass(frozen=True)
class Cutout:
    """One matted image: confidence map, cut-out and the result they came from."""

    result: FrameResult
    rgba: np.ndarray
    ms: float

    @property
    def alpha_u8(self) -> np.ndarray:
        return alpha_to_u8(self.result.alpha)


T = TypeVar("T")
R = TypeVar("R")


class LazyModel(Generic[T]):
    """A model loaded on first use, used by one request at a time.

    A failed load is not remembered: installing the weights fixes the next
    request without a restart.
    """

    def __init__(self, what: str, loader: Callable[[], T] | None) -> None:
        self.what = what
        self.loader = loader
        self._lock = threading.Lock()
        self._value: T | None = None

    @property
    def loaded(self) -> T | None:
        """The model if it was loaded, else None (never loads)."""
        return self._value

    def call(self, use: Callable[[T], R]) -> R:
        """Raises:
            LiveMatteError: no loader configured; ModelMissingError/ModelCorruptError from the loader.
        """
        with self._lock:
            if self._value is None:
                if self.loader is None:
                    raise LiveMatteError(f"{self.what} is not available: no models configured")
                self._value = self.loader()
            return use(self._value)


@dataclass
class Engine:
    """One matting pipeline (and optional pose and face models, loaded on first use) per process.

    ONNX sessions are safe to call from several threads, but the adapters keep
    per-call state (recurrent RVM state, reused buffers, the face parser's hair
    history), so inference is serialised with one lock per model; decoding and
    PNG encoding run outside them.
    """

    pipeline: StillPipeline
    limits: ServiceLimits = ServiceLimits()
    pose_loader: Callable[[], PoseEstimator] | None = None
    api_key: str | None = None
    face_loader: Callable[[], FaceParser] | None = None
    _matte_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)
    _pending: int = field(default=0, repr=False)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _large_request: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.limits.max_pending)
        self._poses = LazyModel("body analysis", self.pose_loader)
        self._faces = LazyModel("face parsing", self.face_loader)

    @property
    def model_name(self) -> str:
        return self.pipeline.model.name

    @property
    def provider(self) -> str:
        return self.pipeline.model.provider

    @property
    def pending(self) -> int:
        """Requests admitted now (running or waiting for the model)."""
        return self._pending

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Holds one of ``max_pending`` slots for a request.

        Raises:
            ServiceBusyError: all slots are taken (never waits).
        """
        if not self._slots.acquire(blocking=False):
            raise ServiceBusyError(f"busy: {self.limits.max_pending} requests are already in progress; retry later")
        with self._count_lock:
            self._pending += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._pending -= 1
            self._slots.release()

    def key_matches(self, *candidates: str | None) -> bool:
        """True when no key is configured or any candidate equals it (constant-time compare)."""
        if not self.api_key:
            return True
        wanted = self.api_key.encode()
        return any(c is not None and hmac.compare_digest(c.encode(), wanted) for c in candidates)

    def header(self, data: bytes, rules: ImageRules, name: str) -> Header:
        """The image's header checked against ``rules`` (nothing decoded yet).

        Raises:
            UnsupportedFormatError, UnreadableImageError, FileTooLargeError,
            ImageTooSmallError, ImageTooLargeError.
        """
        return read_header(data, rules, name)

    def decode(self, data: bytes, rules: ImageRules, name: str = "<upload>") -> np.ndarray:
        """RGB frame from encoded image bytes; ``rules`` are checked on the header before decoding.

        Raises:
            UnsupportedFormatError, UnreadableImageError, FileTooLargeError,
            ImageTooSmallError, ImageTooLargeError.
        """
        header = read_header(data, rules, name)
        if header.pixels >= LARGE_PIXELS:
            self.mark_large()
        return decode_image(data, rules.as_input_limits(), name)

    def mark_large(self) -> None:
        """Asks ``release_if_large`` to return memory after this request (a large body, say)."""
        self._large_request = True

    def release_if_large(self) -> bool:
        """Returns freed memory to the system after a request that decoded a large image.

        Called once a response is sent (the route's arrays are gone by then);
        small requests skip it, so the common case costs nothing.
        """
        if not self._large_request:
            return False
        self._large_request = False
        release_memory()
        return True

    def matte(self, frame: np.ndarray) -> Cutout:
        """Alpha and RGBA cut-out of ``frame`` through the shared pipeline.

        Opaque pixels keep the photo's own colours; estimated foreground colours
        are used only where the alpha is partial (see ``keep_opaque_colours``).
        """
        import time

        start = time.perf_counter()
        with self._matte_lock:
            result = self.pipeline.process(frame)
        fg = keep_opaque_colours(frame, result.foreground, result.alpha)
        rgba = to_rgba(fg, result.alpha)
        return Cutout(result, rgba, (time.perf_counter() - start) * 1e3)

    def poses(self, frame: np.ndarray) -> list[Pose]:
        """Body keypoints of everyone in ``frame``; the pose models load on the first call.

        Raises:
            ModelMissingError, ModelCorruptError: the pose weights are not available.
            LiveMatteError: no pose models were configured.
        """
        return self._poses.call(lambda poses: poses.estimate(frame))

    def parse_faces(self, frame: np.ndarray) -> FaceParse:
        """11-class face parse of ``frame``; the face models load on the first call.

        A failed load is not remembered: installing the weights fixes the next
        request without a restart.

        Raises:
            ModelMissingError, ModelCorruptError: the face weights are not available.
            LiveMatteError: no face models were configured.
        """
        return self._faces.call(lambda faces: faces.parse(frame))  # temporal=False: photos stay independent


def b64decode_image(text: str) -> bytes:
    """Strict base64 (a ``data:...;base64,`` prefix and whitespace allowed).

    Raises:
        BadBase64Error: not valid base64, or empty.
    """
    cleaned = re.sub(r"\s+", "", DATA_URL.sub("", text.strip()))
    try:
        data = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBase64Error(f"not valid base64 ({exc})") from exc
    if not data:
        raise BadBase64Error("the image field is empty")
    return data


def b64png(image: np.ndarray) -> str:
    """PNG bytes of a gray/RGB/RGBA uint8 image, base64 text."""
    return base64.b64encode(encode_png(image)).decode("ascii")


def image_id(data: bytes) -> str:
    """A stable id for an input image (base64 of its MD5, as Face++'s ids look)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def hard_cutout(frame: np.ndarray, alpha: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The photo with alpha 255 where confidence > ``threshold`` and 0 elsewhere.

    Kept pixels are the input's own colours: with a binary alpha there is no
    mixed pixel whose foreground colour would need estimating.
    """
    return np.ascontiguousarray(np.dstack([frame, np.where(alpha > threshold, 255, 0).astype(np.uint8)]))


def alpha_bounds(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), end-exclusive, of the non-zero pixels; the whole image when empty."""
    ys, xs = np.nonzero(alpha)
    if ys.size == 0:
        return 0, alpha.shape[0], 0, alpha.shape[1]
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def load_engine(
    model: str | None = None,
    models_dir: str | None = None,
    config=None,
    limits: ServiceLimits = ServiceLimits(),
    api_key: str | None = None,
) -> Engine:
    """Loads the matting model once (pose and face models load on first use) and wraps it for serving.

    Raises:
        UnknownModelError, ModelMissingError, ModelCorruptError.
    """
    from app.core.models import SessionConfig, load_model
    from app.core.models.manifest import default_model
    from app.core.face.parsing import load_face_parser
    from app.core.body.pose import load_pose_estimator

    # no CPU arena: it would keep the largest request's tensors resident for good
    config = replace(config or SessionConfig(), memory_arena=False)
    matting = load_model(model or default_model("matting"), models_dir, config)
    return Engine(
        StillPipeline(matting),  # type: ignore[arg-type]
        limits,
        pose_loader=lambda: load_pose_estimator(models_dir, config),
        api_key=api_key or None,
        face_loader=lambda: load_face_parser(models_dir, config),
    )
