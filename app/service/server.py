"""Running the service: load the engine and serve it with uvicorn until Ctrl-C.

The command line's ``serve`` gets this function from the launcher (``app.main``),
so ``app.cli`` and ``app.service`` never import each other.
"""

from __future__ import annotations

import ipaddress
import sys


def serve(
    *, host: str, port: int, api_key: str | None, model: str | None, models_dir: str | None, provider: str,
    threads: int, min_side: int, max_side: int, max_file_mb: float, max_request_mb: float, max_pending: int,
    verbose: bool = False, max_megapixels: float = 67.1, max_images: int = 8, lenient: bool = False,
    allow_hosts: tuple[str, ...] = (), allow_origins: tuple[str, ...] = (),
) -> int:
    """Loads the matting model and serves the API on ``host:port`` until interrupted.

    ``lenient``: the service's own limits instead of each cloud API's documented ones;
    ``allow_hosts``/``allow_origins``: extra Host names and web-page origins answered
    (see ``app.service.browser``).

    Returns:
        0 once the server has stopped.

    Raises:
        SettingsError: a limit out of range.
        ModelError: the matting model cannot be loaded.
    """
    import uvicorn

    from app.core.errors import SettingsError
    from app.core.media.image_io import InputLimits
    from app.core.models import SessionConfig
    from app.service.app import create_app
    from app.service.browser import BrowserPolicy
    from app.service.engine import ServiceLimits, load_engine

    try:
        image = InputLimits(min_side, max_side, int(max_file_mb * 1024 * 1024), int(max_megapixels * 1e6))
        limits = ServiceLimits(int(max_request_mb * 1024 * 1024), image, max_pending, int(max_megapixels * 1e6),
                               max_images, lenient)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    if not is_loopback(host) and not api_key:
        print(f"livematte: warning: serving on {host} without --api-key: anyone on the network can use it",
              file=sys.stderr)
    engine = load_engine(model, models_dir, SessionConfig(provider, threads), limits, api_key)
    print(f"livematte: serving model {engine.model_name} ({engine.provider}) on http://{host}:{port} "
          f"(docs: /docs){'; API key required' if api_key else ''}", file=sys.stderr)
    policy = BrowserPolicy(host, allow_hosts, allow_origins)
    uvicorn.run(create_app(engine, policy), host=host, port=port, log_level="debug" if verbose else "warning")
    return 0


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
