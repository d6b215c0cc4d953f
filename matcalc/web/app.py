"""The Starlette application: the page's static files and the JSON API, guarded against hostile input.

    POST /api/derive            {"expression", "wrt", "shapes", "assume", "layout", "order", "direction", "input"}
    POST /api/check             {"expression", "wrt", "claim", "shapes", "assume", "layout", "order", "input"}
    POST /api/check-derivation  {"derivation": the file's text, "shapes", "assume", "wrt", "layout", "input"}
    POST /api/check-document    {"document": a Markdown, LaTeX or notebook text, "name": its file name}
    GET  /api/examples

Guards: a request must be addressed to this server and sent by its own page (guard.py: 421, 403; the API
takes application/json only, 415); a body over `max_body` bytes is refused with 413 before it is read in
full, one slower than BODY_TIMEOUT with 408, one that is not JSON of a few levels in valid Unicode with
400; every library call runs in a worker process (pool.py) under `time_limit` and answers 422 when it
runs out, the worker killed and replaced; the answer is always JSON (in ASCII), errors as
{"error": one line, "kind": ...}. Slow or idle connections are cut by the server's protocol
(connections.py).
Static files are served from the package (KaTeX vendored under static/katex), nothing from outside.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .examples import EXAMPLES
from .guard import BadBody, RequestGuard, allowed_hosts, json_bytes, origin_of, parse_body
from .pool import Busy, Timeout, WorkerDied, WorkerPool

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
TIME_LIMIT = 10.0
BODY_TIMEOUT = 6.0      # seconds for a body to arrive (the server's protocol, connections.py, cuts it at 5)

# The page loads only its own files; it runs no inline script and fetches only this origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class TooLarge(Exception):
    pass


class SlowBody(Exception):
    pass


async def read_json(request: Request, limit: int, timeout: float = BODY_TIMEOUT):
    """The request's JSON body, refusing (TooLarge) as soon as more than `limit` bytes are announced or
    received — a client cannot make the server buffer an unbounded body — and (SlowBody) a body that has
    not arrived within `timeout` seconds. Not JSON of the API's form: BadBody (guard.parse_body)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge()
    chunks, size = [], 0

    async def gather():
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge()
            chunks.append(chunk)

    try:
        await asyncio.wait_for(gather(), timeout)
    except asyncio.TimeoutError:
        raise SlowBody() from None
    return parse_body(b"".join(chunks))


class JSONAnswer(JSONResponse):
    """JSON in ASCII: no character of an answer can fail to encode (a 500 for a lone surrogate)."""

    def render(self, content) -> bytes:
        return json_bytes(content)


def error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONAnswer({"error": message, "kind": kind}, status_code=status)


def create_app(workers: int = 2, time_limit: float = TIME_LIMIT, max_body: int = MAX_BODY,
               memory_limit: int | None = 3 << 30, test_hooks: bool = False, host: str = "127.0.0.1",
               port: int | None = None, allow_origins=(), allow_hosts=(),
               body_timeout: float = BODY_TIMEOUT) -> Starlette:
    """The app, with its own worker pool (started with the app, stopped with it). test_hooks (for the
    test suite only) adds POST /api/_sleep and /api/_hog, computations of known time and memory.
    `host` and `port` are where it is served: the Host header must name them (guard.py; port None: any
    port of those names), and an Origin must be theirs or one of `allow_origins`."""
    pool = WorkerPool(size=workers, time_limit=time_limit, memory_limit=memory_limit, test_hooks=test_hooks)

    def endpoint(name: str):
        async def handle(request: Request):
            try:
                payload = await read_json(request, max_body, body_timeout)
            except TooLarge:
                return error(413, f"the request body is larger than {max_body} bytes", "too-large")
            except SlowBody:
                return error(408, f"the request body did not arrive within {body_timeout:g} s", "timeout")
            except BadBody as err:
                return error(400, str(err), "request")
            except ClientDisconnect:          # the client went away (or was cut off for its slowness)
                return error(400, "the client closed the connection before the body arrived", "request")
            try:
                status, body = await pool.run(name, payload)
            except Timeout:
                return error(422, f"gave up after {time_limit:g} s: the expression is too costly to derive "
                                  f"(its derivative grows too large); try a smaller one", "timeout")
            except Busy:
                return error(503, "the server is busy; try again in a moment", "busy")
            except WorkerDied as err:  # most likely killed by the OS for its memory
                return error(422, f"the expression is too large to handle ({err})", "limit")
            return JSONAnswer(body, status_code=status)

        return handle

    async def examples(request: Request):
        return JSONAnswer({"examples": EXAMPLES})

    async def index(request: Request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @asynccontextmanager
    async def lifespan(app):
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    routes = [
        Route("/", index),
        Route("/api/derive", endpoint("derive"), methods=["POST"]),
        Route("/api/check", endpoint("check"), methods=["POST"]),
        Route("/api/check-derivation", endpoint("check-derivation"), methods=["POST"]),
        Route("/api/check-document", endpoint("check-document"), methods=["POST"]),
        Route("/api/examples", examples, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if test_hooks:
        routes += [Route(f"/api/{name}", endpoint(name), methods=["POST"]) for name in ("_sleep", "_hog")]
    async def not_found(request: Request, exc):
        return error(404, f"no such page: {request.url.path}", "not-found")

    async def not_allowed(request: Request, exc):
        return error(405, f"{request.method} is not allowed on {request.url.path}", "method")

    guarded = [Middleware(SecurityHeaders),
               Middleware(RequestGuard, hosts=allowed_hosts(host, port, allow_hosts), origins=allow_origins)]
    if allow_origins:   # the pages named may read the answers too (CORS; a preflight for the JSON body)
        guarded.append(Middleware(CORSMiddleware, allow_origins=[origin_of(o) for o in allow_origins],
                                  allow_methods=["GET", "POST"], allow_headers=["content-type"]))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=guarded,
                    exception_handlers={404: not_found, 405: not_allowed})
    app.state.pool = pool
    return app


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (a pure ASGI middleware: no buffering of bodies)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    if key not in headers:
                        headers[key] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
