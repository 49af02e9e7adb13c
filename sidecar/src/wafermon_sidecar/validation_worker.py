"""A validation worker process: judges bodies sent over a socket by the sidecar (validator.py).

    python -m wafermon_sidecar.validation_worker FD

FD is this process's end of a socketpair. Each request is an 8-byte little-endian length and the
body; each reply is ``HEAD`` (meta length, payload length), then the meta (msgpack: status, error
message, accepted, total, problems as [index, field, message], whether the payload is the body
itself) and the payload (the accepted events as NDJSON; empty when it is the body as sent, which
then need not travel back). End of file on the socket — the sidecar closed it or died, even by
kill -9 — ends the worker: it holds no state and no other file.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys

import msgspec

from .validation import BatchFormatError, judge, self_check

REQUEST = struct.Struct("<Q")
HEAD = struct.Struct("<IQ")
STATUS_OK, STATUS_FORMAT_ERROR = 0, 1
BUFFER_BYTES = 4 * 1024 * 1024
_encode = msgspec.msgpack.Encoder().encode


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        read = sock.recv_into(view[got:])
        if read == 0:
            return None
        got += read
    return bytes(buffer)


def reply_for(body: bytes) -> bytes:
    """The framed reply to one body."""
    try:
        verdict = judge(body)
    except BatchFormatError as exc:
        meta = _encode([STATUS_FORMAT_ERROR, str(exc), 0, 0, [], False])
        return HEAD.pack(len(meta), 0) + meta
    same = verdict.payload is body or verdict.payload == body.strip()
    problems = [[p.index, p.field, p.message] for p in verdict.problems]
    meta = _encode([STATUS_OK, "", verdict.accepted, verdict.total, problems, same])
    payload = b"" if same else verdict.payload
    return HEAD.pack(len(meta), len(payload)) + meta + payload


def serve(sock: socket.socket) -> None:
    while True:
        head = _recv_exact(sock, REQUEST.size)
        if head is None:
            return
        body = _recv_exact(sock, REQUEST.unpack(head)[0])
        if body is None:
            return
        sock.sendall(reply_for(body))


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[1]))
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
    self_check()  # the fast path's start-up check, as in the sidecar itself
    with contextlib.suppress(ConnectionError, KeyboardInterrupt):  # the sidecar is gone: so are we
        serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
