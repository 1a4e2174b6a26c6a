"""A page as a user sees it: Debian's Chromium, headless, renders a local file to a PNG we decode.

`make test` installs Chromium (Debian's `chromium` package) when it is missing. The browser runs with
no network at all (every host name resolves to nothing), so a page that needs anything from outside
shows the gap instead of fetching it.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
)  # fmt: skip


@dataclass(frozen=True)
class Picture:
    """Decoded RGB pixels, row by row."""

    width: int
    height: int
    rows: list[bytes]  # width * 3 bytes each

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        r, g, b = self.rows[y][3 * x : 3 * x + 3]
        return r, g, b


def screenshot(page: Path, png: Path, profile: Path, *, width: int = 1200, height: int = 1800) -> Picture:
    """Render `page` in headless Chromium at `width` x `height` and return the decoded picture."""
    assert CHROMIUM is not None, "Chromium is not installed: `make test` installs Debian's chromium"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
         f"--screenshot={png}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert png.is_file(), done.stderr[-2000:]
    return decode_png(png.read_bytes())


def decode_png(data: bytes) -> Picture:
    """8-bit RGB or RGBA, not interlaced: what Chromium writes (alpha dropped)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat, header = 8, bytearray(), b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0), (depth, interlace)
    assert colour in (2, 6), colour
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(bytes(idat)), width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        rows.append(bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
        previous = line
    return Picture(width, height, rows)


def _unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        above, corner = up[i], up[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + above) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + above) // 2) & 0xFF
        elif kind == 4:
            p = left + above - corner
            pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
            nearest = left if pa <= pb and pa <= pc else above if pb <= pc else corner
            line[i] = (line[i] + nearest) & 0xFF
        else:
            assert kind == 0, f"PNG filter {kind}"
