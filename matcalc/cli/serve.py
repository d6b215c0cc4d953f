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
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              help="Also serve requests from pages of ORIGIN (e.g. http://localhost:3000); by default only "
                   "the server's own page may use it.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests addressed to NAME (a name this machine is reached by, with --host); "
                   "by default 127.0.0.1, localhost, [::1] and the --host given.")
@guarded
def serve(host, port, open_browser, workers, time_limit, allow_origins, allow_hosts):
    """Serve the page: derive, see the math typeset, check your answer (http://HOST:PORT/)."""
    _require_extra()
    import socket

    import uvicorn

    from ..web.app import create_app
    from ..web.connections import guarded_protocol
    from ..web.guard import origin_of

    for origin in allow_origins:
        if not origin_of(origin).startswith(("http://", "https://")) or origin_of(origin).count("/") != 2:
            raise MatcalcError(f"--allow-origin takes an origin such as http://localhost:3000 (scheme, host and "
                               f"port, no path); got {origin[:80]!r}")

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
    if host in ("0.0.0.0", "::", ""):
        click.echo("note: requests must name this server as 127.0.0.1, localhost or [::1] (with the port); "
                   "give --allow-host NAME for each name it is reached by from elsewhere", err=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    app = create_app(workers=workers, time_limit=time_limit, host=host, port=port, allow_origins=allow_origins,
                     allow_hosts=allow_hosts)
    config = uvicorn.Config(app, log_level="warning", access_log=False, http=guarded_protocol())
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then raises it again for the caller to see
        pass
    click.echo("matcalc serve stopped", err=True)
