"""Reading an ingest body: size limit before and after gzip, so neither a big body nor a gzip bomb
can take memory beyond ingest.max_body_bytes."""

from __future__ import annotations

import zlib

from aiohttp import web


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyError(
            413, f"the body is {request.content_length} bytes; the limit is {limit} (ingest.max_body_bytes)"
        )
    # The stream's chunks, joined once (request.read() copies the body twice more on the way).
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"the body is larger than the limit of {limit} bytes (ingest.max_body_bytes)")
        chunks.append(chunk)
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(415, f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise BodyError(400, "the body is not valid gzip data (Content-Encoding: gzip)") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise BodyError(413, f"the body decompresses to more than the limit of {limit} bytes (ingest.max_body_bytes)")
    if not inflater.eof:
        raise BodyError(400, "the gzip body is truncated")
    return data
