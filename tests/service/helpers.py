"""Clients for ``livematte serve`` tests: FastAPI's in-process client and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Iterator

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

# the service answers its own machine's names only (DNS-rebinding guard): the in-process client must use one
LOCAL = "http://127.0.0.1"


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
