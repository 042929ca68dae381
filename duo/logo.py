"""The ``/auth/v2/logo`` image: a small PNG square in the tenant's brand colour (no uploaded logos yet)."""

from __future__ import annotations

import struct
import zlib

from tenants.branding import hex_color

SIZE = 64


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def brand_logo_png(color: str) -> bytes | None:
    """An opaque ``SIZE``×``SIZE`` RGB PNG filled with ``#rrggbb``; None for a malformed colour."""
    if not hex_color.regex.match(color or ""):
        return None
    pixel = bytes.fromhex(color[1:])
    rows = b"".join(b"\x00" + pixel * SIZE for _ in range(SIZE))  # filter type 0 per scanline
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")
