"""The server's connections: a request's headers and body must arrive within a few seconds, and only so
many connections may be open at once.

Why: uvicorn closes a connection that idles between requests (its keep-alive timeout), but not one
that trickles its headers a byte at a time, trickles its body, or opens and sends nothing: forty such
sockets were held for ever (none closed in 30 s), each a file descriptor and a buffer, and enough of
them keep everyone else out (slowloris). Here, on uvicorn's h11 protocol:

- from the moment a connection opens, or its last answer was sent, the next request's headers have
  HEADER_TIMEOUT seconds to arrive; then its body BODY_TIMEOUT seconds. Late: the connection is
  answered 408 and closed (closed in silence if it sent nothing at all: browsers keep spare sockets);
- a connection beyond MAX_CONNECTIONS open ones is answered 503 and closed at once.

The state is read from h11's `their_state` (IDLE: waiting for headers; SEND_BODY: receiving the body;
DONE: the request is in, the answer is being computed — no timer, the worker pool has its own limit).
"""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .guard import json_bytes

HEADER_TIMEOUT = 5.0
BODY_TIMEOUT = 5.0
MAX_CONNECTIONS = 64


def _raw_answer(status: int, reason: str, message: str, kind: str) -> bytes:
    body = json_bytes({"error": message, "kind": kind})
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n").encode("ascii") + body


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
                     max_connections: int = MAX_CONNECTIONS):
    """uvicorn's h11 protocol with the deadlines and the cap above (pass it as uvicorn.Config(http=...))."""

    class GuardedH11Protocol(H11Protocol):
        _phase = None              # what the timer waits for: "headers" or "body"
        _timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(_raw_answer(503, "Service Unavailable", f"the server has {max_connections} "
                                            f"connections open, its limit; try again in a moment", "busy"))
                transport.close()
                return
            self._watch()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        # ---------------------------------------------------------------- the deadlines

        def _watch(self) -> None:
            """Arm the timer for what the connection now waits for; a trickle does not re-arm it."""
            if self.transport is None or self.transport.is_closing():
                self._disarm()
                return
            state = self.conn.their_state
            phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
            if phase == self._phase:
                return
            self._disarm()
            if phase is not None:
                self._phase = phase
                self._timer = self.loop.call_later(header_timeout if phase == "headers" else body_timeout,
                                                   self._too_slow)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._phase = None

        def _too_slow(self) -> None:
            phase, self._timer, self._phase = self._phase, None, None
            if self.transport is None or self.transport.is_closing():
                return
            seconds = header_timeout if phase == "headers" else body_timeout
            if phase == "headers":     # a connection that sent nothing (a browser's idle or spare socket) is
                answering = not self.conn.trailing_data[0]   # closed in silence, as uvicorn's keep-alive does
            else:
                answering = self.cycle is None or getattr(self.cycle, "response_started", True)
            if not answering:      # part of a request came and nothing was sent back yet: say why it is closed
                what = "the request's headers" if phase == "headers" else "the request's body"
                self.transport.write(_raw_answer(408, "Request Timeout", f"{what} did not arrive within "
                                                 f"{seconds:g} s", "timeout"))
            self.transport.close()

    return GuardedH11Protocol
