"""What a request must be before the server does any work for it: addressed to this server, sent by its
own page, and, for the API, a small JSON object.

Why: `matcalc serve` listens on loopback, but any page open in the same browser can send it requests.
A page on another site can POST a `text/plain` body (a "simple" request needs no CORS preflight), and
the server would run it; CORS only hides the answer. A DNS-rebinding page (`rebind.attacker.example`
re-pointed at 127.0.0.1) is, to the browser, same-origin with the server and can read the answers. So,
as Jupyter Server and the webpack/Vite dev servers do:

- the `Host` header must name the server as it was bound: `127.0.0.1`, `localhost` or `[::1]` with
  the port, or the `--host` given (and any `--allow-host`), else 421 — page, static files and API alike;
- a request that carries an `Origin` must come from one of those origins (or an `--allow-origin`), else
  403 (`Origin: null`, a sandboxed frame or a file, too);
- a POST to the API must say `Content-Type: application/json` (415 otherwise): a cross-site page cannot
  send that without a preflight, which is refused by the Origin check;
- the body is JSON of a few levels (`MAX_DEPTH`) in valid Unicode, else 400 with the parser's one-line
  message: 20,000 nested `[` were a RecursionError (500), a lone surrogate a UnicodeEncodeError (500).
"""

from __future__ import annotations

import json
import re

from starlette.datastructures import Headers

MAX_DEPTH = 8            # {"shapes": {"W": ["c", "d"]}} is 3 levels; no request of the API needs more
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("0.0.0.0", "::", "[::]", "")


class BadBody(ValueError):
    """A body that is not JSON of the API's form; the message is one line for the answer."""


def host_name(host: str) -> str:
    """An address as a Host header writes it: IPv6 in brackets, names in lower case."""
    host = host.strip().lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def allowed_hosts(host: str = "127.0.0.1", port: int | None = None, extra=()) -> set[str] | None:
    """The Host values this server answers: its names with the port (None for the port: any port, for
    an app not yet bound, as in the tests' client)."""
    names = set(LOOPBACK) | {host_name(h) for h in extra}
    if host_name(host) not in WILDCARD:
        names.add(host_name(host))
    if port is None:
        return names
    out = {f"{n}:{port}" for n in names}
    if port == 80:
        out |= names
    return out


def origin_of(value: str) -> str:
    """An origin as browsers send it: scheme://host[:port], lower case, no trailing slash."""
    return value.strip().rstrip("/").lower()


class RequestGuard:
    """ASGI middleware: the Host, Origin and Content-Type rules above, for every HTTP request."""

    def __init__(self, app, hosts: set[str] | None = None, origins=()):
        self.app = app
        self.hosts = hosts if hosts is not None else allowed_hosts()
        self.any_port = all(":" not in h.rsplit("]", 1)[-1] for h in self.hosts)
        self.origins = {origin_of(o) for o in origins}

    def _host_ok(self, host: str) -> bool:
        host = host.strip().lower()
        if host in self.hosts:
            return True
        if self.any_port:        # not bound to a port yet: the name decides
            name = re.sub(r":[0-9]{1,5}$", "", host)
            return name in self.hosts
        return False

    def _origin_ok(self, origin: str) -> bool:
        origin = origin_of(origin)
        if origin in self.origins:
            return True
        for scheme in ("http://", "https://"):
            if origin.startswith(scheme):
                return self._host_ok(origin[len(scheme):])
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            status, message, kind = refusal
            return await answer(send, status, message, kind)
        await self.app(scope, receive, send)

    def refusal(self, scope, headers: Headers):
        host = headers.getlist("host")
        if len(host) != 1 or not self._host_ok(host[0]):
            shown = ascii(host[0][:80]) if len(host) == 1 else f"{len(host)} Host headers"
            return (421, f"this server does not answer to the host {shown}: it is served as "
                         f"{', '.join(sorted(self.hosts))}", "host")
        origin = headers.getlist("origin")
        if len(origin) > 1 or origin and not self._origin_ok(origin[0]):
            shown = ascii(origin[0][:80]) if len(origin) == 1 else "several origins"
            return (403, f"requests from the origin {shown} are refused: only this server's own page may use "
                         f"it (matcalc serve --allow-origin ORIGIN allows another)", "origin")
        if scope["method"] == "POST" and scope["path"].startswith("/api/"):
            kind = headers.get("content-type", "")
            media, _, params = kind.partition(";")
            charset = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_-]+)", params)
            if media.strip().lower() != "application/json" or charset and charset.group(1).lower() != "utf-8":
                return (415, f"the API takes a JSON body (Content-Type: application/json, UTF-8); got "
                             f"{ascii(kind[:60]) if kind else 'no Content-Type'}", "media-type")
        return None


async def answer(send, status: int, message: str, kind: str) -> None:
    """A JSON error answer ({"error", "kind"}), sent straight through ASGI."""
    body = json_bytes({"error": message, "kind": kind})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def json_bytes(content) -> bytes:
    """JSON in ASCII (every non-ASCII character escaped): no text can fail to encode, a lone surrogate
    included, so an answer is never a 500 for its characters."""
    return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _constant(name: str):
    raise BadBody(f"the request body is not JSON: {name} is not a JSON value")


def parse_body(raw: bytes):
    """The JSON value of a request body, or BadBody with a one-line message: not UTF-8, not JSON, nested
    deeper than MAX_DEPTH, a string that is not valid Unicode (a lone surrogate), NaN or Infinity."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadBody(f"the request body is not UTF-8 (an undecodable byte at offset {err.start})") from None
    try:
        value = json.loads(text, parse_constant=_constant)
    except BadBody:
        raise
    except json.JSONDecodeError as err:
        raise BadBody(f"the request body is not JSON: {err}") from None
    except RecursionError:    # 20,000 nested [ : the parser's recursion, stopped at Python's limit
        raise BadBody(f"the request body is nested too deeply; the API takes at most {MAX_DEPTH} levels") from None
    except ValueError as err:  # an integer of more than 4,300 digits, and the like
        raise BadBody(f"the request body is not JSON the API can read: {str(err).splitlines()[0][:200]}") from None
    _check_text(value)
    return value


def _check_text(value) -> None:
    """The parsed body is at most MAX_DEPTH levels deep and every string (and key) is valid Unicode: a
    lone surrogate (`"\\ud800"`) would be echoed in an error message that cannot be written as UTF-8.
    Walked without recursion."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > MAX_DEPTH:
                raise BadBody(f"the request body is nested more than {MAX_DEPTH} levels deep; the API takes at "
                              f"most {MAX_DEPTH}")
            items = v.values() if isinstance(v, dict) else v
            stack.extend((item, depth + 1) for item in items)
            texts = tuple(k for k in v if isinstance(k, str)) if isinstance(v, dict) else ()
        elif isinstance(v, str):
            texts = (v,)
        else:
            continue
        for t in texts:
            try:
                t.encode("utf-8")
            except UnicodeEncodeError as err:
                raise BadBody(f"the request body has a text that is not valid Unicode (a lone surrogate "
                              f"{ascii(t[err.start])} at character {err.start + 1})") from None
