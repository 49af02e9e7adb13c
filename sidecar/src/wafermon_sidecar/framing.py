"""On-disk record framing of the spool: a fixed header, then the payload.

Header (little endian, 24 bytes): magic "WMR1", payload length u32, CRC32 u32 of (count, first_seq,
payload), event count u32, first event sequence number u64. The CRC covers the header fields after it
too, so a torn write of any part of a record is caught on recovery.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# ISA-L's crc32 is zlib's CRC-32 (same polynomial, same values: spools stay readable either way), about
# three times faster; both release the GIL on large buffers.
from isal.isal_zlib import crc32

MAGIC = b"WMR1"
HEADER = struct.Struct("<4sIIIQ")
HEADER_SIZE = HEADER.size
_TAIL = struct.Struct("<IQ")


@dataclass(frozen=True, slots=True)
class RecordHeader:
    length: int
    crc: int
    count: int
    first_seq: int


def encode_header(first_seq: int, count: int, payload: bytes) -> bytes:
    """The header of a record whose payload is NDJSON of `count` events (no newline inside an event)."""
    crc = crc32(payload, crc32(_TAIL.pack(count, first_seq)))
    return HEADER.pack(MAGIC, len(payload), crc, count, first_seq)


def encode_record(first_seq: int, count: int, payload: bytes) -> bytes:
    """A framed record: header, then payload."""
    return encode_header(first_seq, count, payload) + payload


def decode_header(data: bytes) -> RecordHeader | None:
    """The header at the start of data, or None when it is short or not a record header."""
    if len(data) < HEADER_SIZE:
        return None
    magic, length, crc, count, first_seq = HEADER.unpack_from(data)
    if magic != MAGIC:
        return None
    return RecordHeader(length, crc, count, first_seq)


def payload_ok(header: RecordHeader, payload: bytes) -> bool:
    if len(payload) != header.length:
        return False
    return crc32(payload, crc32(_TAIL.pack(header.count, header.first_seq))) == header.crc
