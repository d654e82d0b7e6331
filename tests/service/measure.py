"""Measures ``livematte serve`` with real weights: throughput and latency under concurrent clients,
and resident memory after the large-image requests of issue #19. Not a test (it reports numbers).

    python -m tests.service.measure load --clients 8 --requests 10 [--model rvm]
    python -m tests.service.measure memory [--lenient]

The server is the real application on uvicorn (127.0.0.1, ephemeral port) in this process, so its
RSS is this process's; clients are threads with httpx.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np

from app.service.app import create_app
from app.service.engine import ServiceLimits, load_engine
from app.service.memory import release_memory, rss_bytes
from tests.service.helpers import blank_png, encode, running_server

PORTRAITS = Path("/work/shared/media/portraits")
MB = 1024 * 1024


def photo(width: int, height: int) -> np.ndarray:
    """A real portrait (cover-fit to width×height) when the shared media is there, else a drawn one."""
    path = PORTRAITS / "rembg_girl-1.jpg"
    if path.is_file():
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        from app.core.imaging.compose import cover_fit

        return cover_fit(image, width, height)
    from tests.tiny_models import person_image

    return person_image(width, height)


def requests_for(jpeg: bytes) -> dict[str, dict]:
    b64 = base64.b64encode(jpeg).decode()
    return {
        "SelfieSeg": {"url": "/jdai/SelfieSeg", "json": {"image": b64}},
        "PicUP matting": {"url": "/api/v1/matting", "files": {"file": ("p.jpg", jpeg)}},
        "Face++ segment": {"url": "/humanbodypp/v2/segment", "files": {"image_file": ("p.jpg", jpeg)}},
        "Tencent Hair+Face": {"url": "/", "json": {"Image": b64, "SegmentationOptions": {"Hair": True, "Face": True}},
                              "headers": {"X-TC-Action": "SegmentCustomizedPortraitPic"}},
        "JD face_parser": {"url": "/jdai/face_parser", "json": [{"image": b64}]},
    }


def ok(name: str, response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    if name == "PicUP matting":
        return response.headers["content-type"] == "image/png"
    body = response.json()
    if "Response" in body:
        return "Error" not in body["Response"]
    if "error_message" in body:
        return False
    result = body.get("result")
    return result.get("status") in (200, 1000) if isinstance(result, dict) else True


def load(args: argparse.Namespace) -> None:
    engine = load_engine(args.model, args.models_dir, limits=ServiceLimits(max_pending=max(8, args.clients)))
    jpeg = encode(photo(640, 480), "JPEG")
    with running_server(create_app(engine)) as url:
        for name, spec in requests_for(jpeg).items():
            if args.only and name not in args.only:
                continue
            with httpx.Client(base_url=url, timeout=600) as warm:
                response = warm.post(spec["url"], **{k: v for k, v in spec.items() if k != "url"})
                assert ok(name, response), (name, response.status_code, response.text[:300])
            latencies: list[float] = []
            failures = 0
            lock = threading.Lock()

            def client(_: int) -> None:
                nonlocal failures
                with httpx.Client(base_url=url, timeout=600) as http:
                    for _ in range(args.requests):
                        start = time.perf_counter()
                        response = http.post(spec["url"], **{k: v for k, v in spec.items() if k != "url"})
                        elapsed = time.perf_counter() - start
                        with lock:
                            latencies.append(elapsed)
                            failures += not ok(name, response)

            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(client, range(args.clients)))
            wall = time.perf_counter() - start
            latencies.sort()
            p95 = latencies[max(0, int(np.ceil(0.95 * len(latencies))) - 1)]
            print(json.dumps({
                "endpoint": name, "model": engine.model_name, "clients": args.clients, "requests": len(latencies),
                "failures": failures, "throughput_rps": round(len(latencies) / wall, 2),
                "p50_ms": round(statistics.median(latencies) * 1e3), "p95_ms": round(p95 * 1e3),
            }), flush=True)


class PeakSampler:
    """The highest RSS seen while a block runs (sampled every 20 ms)."""

    def __enter__(self) -> "PeakSampler":
        self.peak, self._stop = rss_bytes(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def memory(args: argparse.Namespace) -> None:
    limits = ServiceLimits(lenient=args.lenient, max_images=20 if args.lenient else 8)
    engine = load_engine(args.model, args.models_dir, limits=limits)
    face = photo(4096, 4096)
    face_png = encode(face)  # a real photo: a few MB of PNG
    face_jpeg = encode(face, "JPEG")
    del face
    big = base64.b64encode(blank_png(8192, 8192)).decode()
    small = encode(photo(640, 480), "JPEG")
    cases = [
        ("SelfieSeg 8192² PNG", "/jdai/SelfieSeg", {"json": {"image": big}}),
        ("face_parser 20 x 4096² JPEG", "/jdai/face_parser",
         {"json": [{"image": base64.b64encode(face_jpeg).decode()}] * 20}),
        ("face_parser 4 x 4096² JPEG", "/jdai/face_parser",
         {"json": [{"image": base64.b64encode(face_jpeg).decode()}] * 4}),
        ("Face++ 4096² JPEG", "/humanbodypp/v2/segment", {"files": {"image_file": ("p.jpg", face_jpeg)}}),
    ]
    print(f"PNG of the 4096² photo: {len(face_png) / MB:.1f} MB, JPEG {len(face_jpeg) / MB:.1f} MB", flush=True)
    with running_server(create_app(engine)) as url, httpx.Client(base_url=url, timeout=1200) as http:
        for spec in (requests_for(small)["SelfieSeg"], requests_for(small)["JD face_parser"]):
            http.post(spec["url"], json=spec["json"])  # warm-up: every model loaded
        release_memory()
        baseline = rss_bytes()
        print(f"baseline RSS after warm-up: {baseline / MB:.0f} MB (lenient={args.lenient})", flush=True)
        for name, path, kwargs in cases:
            if args.cases and not any(c in name for c in args.cases.split(",")):
                continue
            start = time.perf_counter()
            with PeakSampler() as sampler:
                response = http.post(path, **kwargs)
            body = response.text[:1] and (response.json() if response.headers["content-type"].startswith("application/json") else {})
            result = body.get("result") if isinstance(body.get("result"), dict) else {}
            summary = result.get("status", body.get("error_message", "ok" if "body_image" in body else response.status_code))
            after = rss_bytes()
            print(json.dumps({"request": name, "answer": summary, "detail": result.get("detail", "")[:90],
                              "seconds": round(time.perf_counter() - start, 1), "peak_mb": round(sampler.peak / MB),
                              "after_mb": round(after / MB), "after_minus_baseline_mb": round((after - baseline) / MB)}),
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("load", "memory"))
    parser.add_argument("--model", default=None)
    parser.add_argument("--models-dir", default=None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=10, help="requests per client")
    parser.add_argument("--only", action="append", help="endpoint name(s) to measure")
    parser.add_argument("--lenient", action="store_true")
    parser.add_argument("--cases", default="", help="comma-separated substrings of the memory cases to run")
    args = parser.parse_args()
    load(args) if args.what == "load" else memory(args)


if __name__ == "__main__":
    main()
