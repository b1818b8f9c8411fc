"""Pictures as arrays: every piece (a heatmap tile, a line of text, a colour bar, a legend) is an
``[H, W, 3]`` uint8 array on white, and a picture is built by stacking pieces side by side or on
top of each other, then encoded to PNG once.

Why not matplotlib figures: one axes costs ~25 ms to lay out and draw, and a TensorBoard round
draws 20-30 panels. Here colour comes from a colormap lookup on the field itself
(``matplotlib.colormaps[name](values)``, no figure) and Pillow draws the text and markers.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

BLACK = (0, 0, 0)
GREY = (110, 110, 110)
WHITE = 255

# p(y=1): blue 0 .. white 0.5 .. red 1. Hidden units: purple negative .. white 0 .. orange positive,
# so a dead unit (0 everywhere) is plain white.
PROB_CMAP = "RdBu_r"
UNIT_CMAP = "PuOr_r"
LEVELS = 255  # colours per colormap


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=2048)
def text(words: str, size: int = 11, colour: tuple[int, int, int] = BLACK) -> np.ndarray:
    """One line of text on white. Cached: most labels ("hidden 1, unit 3", tick values) repeat
    every round, and FreeType costs ~0.25 ms per string."""
    f = font(size)
    ascent, descent = f.getmetrics()
    width = max(1, int(np.ceil(f.getlength(words))) + 1)
    mask = Image.new("L", (width, ascent + descent))
    ImageDraw.Draw(mask).text((0, 0), words, font=f, fill=255)
    out = blend(blank(ascent + descent, width), np.asarray(mask, dtype=np.float32) / 255.0, colour)
    out.flags.writeable = False  # shared by the cache
    return out


def blank(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), WHITE, dtype=np.uint8)


def blend(rgb: np.ndarray, alpha: np.ndarray, colour) -> np.ndarray:
    """``rgb`` with ``colour`` painted over it where ``alpha`` (0..1, same height and width) says."""
    a = alpha[..., None]
    return (rgb * (1.0 - a) + np.asarray(colour, dtype=np.float32) * a + 0.5).astype(np.uint8)


def paint(canvas: np.ndarray, alpha: np.ndarray, colour, top: int = 0, left: int = 0) -> None:
    """Paint ``colour`` into ``canvas`` (in place) through ``alpha`` placed at (top, left)."""
    h, w = alpha.shape
    region = canvas[top:top + h, left:left + w]
    region[...] = blend(region, alpha[: region.shape[0], : region.shape[1]], colour)


def put(canvas: np.ndarray, piece: np.ndarray, top: int, left: int) -> None:
    """Copy ``piece`` into ``canvas`` (in place) at (top, left), cut off at the canvas edges."""
    top, left = max(top, 0), max(left, 0)
    region = canvas[top:top + piece.shape[0], left:left + piece.shape[1]]
    region[...] = piece[: region.shape[0], : region.shape[1]]


def pad(piece: np.ndarray, top: int = 0, right: int = 0, bottom: int = 0, left: int = 0) -> np.ndarray:
    h, w = piece.shape[:2]
    out = blank(h + top + bottom, w + left + right)
    out[top:top + h, left:left + w] = piece
    return out


def hstack(pieces: list[np.ndarray], gap: int = 0, align: str = "top") -> np.ndarray:
    """Side by side; ``align`` top, center or bottom."""
    height = max(p.shape[0] for p in pieces)
    width = sum(p.shape[1] for p in pieces) + gap * (len(pieces) - 1)
    out = blank(height, width)
    x = 0
    for p in pieces:
        y = {"top": 0, "center": (height - p.shape[0]) // 2, "bottom": height - p.shape[0]}[align]
        out[y:y + p.shape[0], x:x + p.shape[1]] = p
        x += p.shape[1] + gap
    return out


def vstack(pieces: list[np.ndarray], gap: int = 0, align: str = "left") -> np.ndarray:
    """One above the other; ``align`` left or center (hstack of the transposed pieces)."""
    side = {"left": "top", "center": "center"}[align]
    return np.ascontiguousarray(hstack([p.swapaxes(0, 1) for p in pieces], gap, side).swapaxes(0, 1))


def wrap(pieces: list[np.ndarray], max_width: int, gap: int = 12) -> np.ndarray:
    """Pieces left to right, starting a new row when the next one would pass ``max_width``."""
    rows: list[list[np.ndarray]] = [[]]
    width = 0
    for p in pieces:
        if rows[-1] and width + gap + p.shape[1] > max_width:
            rows.append([])
            width = 0
        width += (gap if rows[-1] else 0) + p.shape[1]
        rows[-1].append(p)
    return vstack([hstack(r, gap) for r in rows], gap)


def titled(piece: np.ndarray, *lines: np.ndarray, gap: int = 2, align: str = "left") -> np.ndarray:
    """Text lines (from ``text``) above ``piece``."""
    return vstack([*lines, pad(piece, top=gap)], align=align)


@lru_cache(maxsize=16)
def _lut(name: str) -> np.ndarray:
    """The colormap as 255 RGBA colours packed in uint32: one 4-byte gather per pixel afterwards
    (~7x faster than indexing rows of an [N, 3] table). An odd count puts the middle of the
    scale (p = 0.5, activation 0) on one entry, the colormap's own neutral colour."""
    rgba = np.ascontiguousarray(matplotlib.colormaps[name](np.linspace(0.0, 1.0, LEVELS), bytes=True))
    packed = rgba.view(np.uint32)[:, 0]
    packed.flags.writeable = False
    return packed


def colourize(values: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    """``values`` (any shape) to RGB through ``cmap`` spanning [low, high]; outside values clip."""
    scaled = (values - low) * ((LEVELS - 1) / (high - low)) + 0.5
    np.nan_to_num(scaled, copy=False, nan=LEVELS // 2)  # NaN (a diverged member) shows the middle colour
    index = np.clip(scaled, 0, LEVELS - 1, out=scaled).astype(np.uint8)
    return _lut(cmap)[index].view(np.uint8).reshape(*index.shape, 4)[..., :3]


def paint_sparse(piece: np.ndarray, alpha: np.ndarray, colour) -> None:
    """``paint`` for a mask that is mostly 0 (a thin line): only the touched pixels are blended."""
    ys, xs = np.nonzero(alpha)
    a = alpha[ys, xs, None]
    piece[ys, xs] = (piece[ys, xs] * (1.0 - a) + np.asarray(colour, dtype=np.float32) * a + 0.5).astype(np.uint8)


def frame(piece: np.ndarray, colour=GREY) -> np.ndarray:
    """A 1-pixel border drawn over the piece's edge (the size stays the same)."""
    out = piece.copy()
    out[0, :] = out[-1, :] = out[:, 0] = out[:, -1] = colour
    return out


def colour_bar(cmap: str, low: float, high: float, height: int, label: str, ticks: list[tuple[float, str]]) -> np.ndarray:
    """A vertical bar (``high`` at the top) with tick labels on its right and ``label`` above."""
    bar_width = 12
    values = np.linspace(high, low, height)[:, None].repeat(bar_width, axis=1)
    bar = frame(colourize(values, cmap, low, high))
    labels = blank(height + 12, 48)
    for value, words in ticks:
        y = int(round((high - value) / (high - low) * (height - 1))) + 6  # 6: room for a half label
        piece = text(words, 10)
        labels[y, 0:4] = BLACK  # the tick
        put(labels, piece, min(y - piece.shape[0] // 2, labels.shape[0] - piece.shape[0]), 6)
    body = hstack([pad(bar, top=6, bottom=6), labels])
    return titled(body, text(label, 10))


def png(picture: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes with unfiltered rows. Level 1 suits pictures logged every few epochs; files
    written once can afford more.

    Why not Pillow's encoder (``Image.save(format="PNG", compress_level=1)``): it chooses a row
    filter per row (no option turns that off), and flat areas and smooth colormaps compress well
    without one. Measured with ``python benchmarks/pictures.py --repeat 3 --threads 1 --clock cpu``
    and this function swapped for Pillow's: one round at 10,000 seeds went from 42 to 55 ms
    (hidden [8]; docs/speed.md's target is 50 ms) and 73 to 80 ms (hidden [16, 8]), report.png
    from 39 to 50 ms. PNG itself is a few lines of struct and zlib; Pillow still decodes them in
    the tests (tests/test_picture_drawing.py)."""
    height, width = picture.shape[:2]
    raw = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # each row starts with filter 0 (none)
    raw[:, 1:] = picture.reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    data = zlib.compress(raw.tobytes(), level)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
