"""`matcalc serve`: the local page (matcalc/web/) and its JSON API, on loopback unless told otherwise.

    matcalc serve [--host 127.0.0.1] [--port 8765] [--open] [--workers N] [--time-limit S]

The web framework is an optional extra (pip install "matcalc[web]"); without it the command says so
in one line instead of failing on import, and the rest of matcalc does not depend on it.
"""

from __future__ import annotations

import click

from ..errors import MatcalcError
from .common import guarded


def _require_extra() -> None:
    missing = []
    for module in ("starlette", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MatcalcError(f"matcalc serve needs {' and '.join(missing)}: pip install \"matcalc[web]\"")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; the default serves this machine only.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes that derive (each runs one request at a time).")
@click.option("--time-limit", default=10.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="Seconds one request may compute before it is stopped (answered 422).")
@guarded
def serve(host, port, open_browser, workers, time_limit):
    """Serve the page: derive, see the math typeset, check your answer (http://HOST:PORT/)."""
    _require_extra()
    import socket

    import uvicorn

    from ..web.app import create_app

    try:  # bind first, so a port in use is one clear line, and --open knows the real port (--port 0)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        raise MatcalcError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    click.echo(f"matcalc serving {url}  (Ctrl-C to stop)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"note: listening on {host}, not only this machine: anyone who can reach it can use it",
                   err=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(create_app(workers=workers, time_limit=time_limit), log_level="warning",
                            access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then raises it again for the caller to see
        pass
    click.echo("matcalc serve stopped", err=True)
