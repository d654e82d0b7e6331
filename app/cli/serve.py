"""``livematte serve``: the local HTTP service.

The options live here; serving is ``app.service.server.serve``, handed in by the launcher
(``app.main``) as a loader, so the command line never imports the service.
"""

from __future__ import annotations

import argparse
import functools
import os
from typing import Callable

from app.cli.common import ServiceRunner, add_model_options, ranged


def add_parser(commands, load_service: Callable[[], ServiceRunner] | None = None) -> None:
    serve = commands.add_parser(
        "serve", help="local HTTP service answering JD SelfieSeg, Face++ segment and PicUP matting requests",
        description="Serve the still pipeline over HTTP on this machine (docs at /docs, health at /health). "
        "Programs written for the cloud APIs switch by changing their base URL. Never downloads anything.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--api-key", default=None,
        help="require this key (X-API-Key, Bearer, APIKEY header, appkey/api_key); default $LIVEMATTE_API_KEY or none",
    )
    serve.add_argument("--max-request-mb", type=float, default=32.0, help="largest request body in MB (default 32; 413 beyond)")
    serve.add_argument("--max-file-mb", type=float, default=20.0, help="largest image file in MB (default 20)")
    serve.add_argument("--max-side", type=int, default=8192, help="largest image side in px (default 8192)")
    serve.add_argument("--min-side", type=int, default=32, help="smallest image side in px (default 32)")
    serve.add_argument("--max-pending", type=int, default=8, help="requests in progress at once; more get 'busy' (default 8)")
    serve.add_argument("--max-megapixels", type=ranged(float, 0.0, open_low=True), default=67.1, metavar="MP",
                       help="pixels one request may decode, all its images together, checked on the image headers "
                       "before decoding (default 67.1 = 8192x8192)")
    serve.add_argument("--max-images", type=ranged(int, 1), default=8, help="images in one face_parser request (default 8)")
    serve.add_argument("--lenient", action="store_true",
                       help="accept what this server can do (the --max-* sizes, every format it reads) instead of "
                       "each cloud API's documented limits (e.g. SelfieSeg 1024 px, Face++ 4096 px and JPG/PNG)")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="also answer requests for this Host name (repeatable; '*' = any). Default: localhost, "
                       "127.0.0.1, [::1] and the --host address (guards against DNS rebinding)")
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="let web pages from this origin (e.g. http://localhost:3000) call the service, with CORS "
                       "(repeatable; '*' = any page). Default: browser requests from other pages are refused")
    add_model_options(serve)
    serve.set_defaults(run=functools.partial(run, load_service=load_service))


def run(args: argparse.Namespace, load_service: Callable[[], ServiceRunner] | None = None) -> int:
    """Serves until Ctrl-C with the service the launcher handed in.

    Raises:
        SettingsError: a bad limit, or no service was handed in.
        ModelError: the matting model cannot be loaded.
    """
    from app.core.errors import SettingsError

    if load_service is None:
        raise SettingsError("the HTTP service is not part of this entry point; run `livematte serve` or `python -m app serve`")
    serve = load_service()
    return serve(
        host=args.host, port=args.port, api_key=args.api_key or os.environ.get("LIVEMATTE_API_KEY") or None,
        model=args.model, models_dir=args.models_dir, provider=args.provider, threads=args.threads,
        min_side=args.min_side, max_side=args.max_side, max_file_mb=args.max_file_mb,
        max_request_mb=args.max_request_mb, max_pending=args.max_pending, verbose=args.verbose,
        max_megapixels=args.max_megapixels, max_images=args.max_images, lenient=args.lenient,
        allow_hosts=tuple(args.allow_host), allow_origins=tuple(args.allow_origin),
    )
