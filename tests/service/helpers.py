"""Clients for ``livematte serve`` tests: FastAPI's in-process client and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Iterator

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.media.image_io import InputLimits
from app.service.engine import ServiceLimits

# the service answers its own machine's names only (DNS-rebinding guard): the in-process client must use one
LOCAL = "http://127.0.0.1"
# small enough that the tests reach every limit with tiny requests
LIMITS = ServiceLimits(max_request_bytes=600_000, image=InputLimits(32, 2048, 300_000), max_pending=8)


def local_client(app: FastAPI) -> TestClient:
    """FastAPI's test client, addressing the app as http://127.0.0.1."""
    return TestClient(app, base_url=LOCAL)


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """Serves ``app`` with uvicorn on 127.0.0.1 (an ephemeral port) in a thread; yields its base URL.

    The socket is bound and listening before the thread starts, so a client may
    connect at once: the kernel queues the connection until uvicorn accepts it
    (no waiting for start-up, no sleeps).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def encode(image, fmt: str = "PNG") -> bytes:
    """``image`` (H×W×3 uint8 RGB) encoded by Pillow as ``fmt`` (PNG, JPEG, BMP, GIF, WEBP)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format=fmt)
    return out.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A black RGB PNG of any size, written row by row: an 8192² file (~200 KB) without an 8192² array."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0 + black pixels
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def claimed_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` but that holds almost no data (a decoding bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")


def noise(width: int, height: int, seed: int = 0):
    """Random RGB pixels (PNG cannot compress them: the file is about 3·w·h bytes)."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
