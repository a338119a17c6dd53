"""A small file whose header declares a huge image (a decompression bomb) is refused from the
header, before any pixel buffer is allocated, below OpenCV's own 2^30-pixel limit."""

import struct
import zlib

import cv2
import numpy as np
import pytest

import uirbench.io as uio
from uirbench.errors import ImageReadError


def _png_header(w: int, h: int) -> bytes:
    """A valid PNG declaring w x h RGB pixels with one row of data (a few hundred bytes)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(3 * min(w, 4096) + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _jpeg_declaring(w: int, h: int, progressive: bool = False) -> bytes:
    """A real 16x8 JPEG whose frame header is rewritten to declare w x h."""
    flags = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else []
    data = bytearray(cv2.imencode(".jpg", np.zeros((8, 16, 3), np.uint8), flags)[1].tobytes())
    sof = data.find(b"\xff\xc2" if progressive else b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(data)


@pytest.fixture
def no_decode(monkeypatch):
    """Fail the test if OpenCV is asked to decode: refusal must come from the header."""

    def imdecode(*args):
        raise AssertionError("cv2.imdecode was called")

    monkeypatch.setattr(uio.cv2, "imdecode", imdecode)


@pytest.mark.parametrize(
    ("make", "w", "h"),
    [
        (_png_header, 100_000, 100_000),  # beyond OpenCV's limit too
        (_png_header, 12_000, 12_000),  # 144 M px: under OpenCV's 2^30, OpenCV would allocate
        (_jpeg_declaring, 65_000, 65_000),
        (lambda w, h: _jpeg_declaring(w, h, progressive=True), 20_000, 10_000),
    ],
)
def test_huge_declared_size_is_refused_from_the_header(make, w, h, no_decode):
    data = make(w, h)
    assert len(data) < 20_000
    with pytest.raises(ImageReadError, match=rf"bomb\.png: its header declares {w} x {h}"):
        uio.decode_image(data, "bomb.png")


def test_header_size_matches_what_opencv_decodes():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    encoded = [
        cv2.imencode(".png", img)[1],
        cv2.imencode(".png", img[:, :, 0])[1],  # grey
        cv2.imencode(".png", np.dstack([img, img[:, :, :1]]))[1],  # RGBA
        cv2.imencode(".png", img.astype(np.uint16) * 257)[1],  # 16-bit
        cv2.imencode(".jpg", img)[1],
        cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1],
        cv2.imencode(".jpg", img[:, :, 0])[1],
    ]
    for buf in encoded:
        assert uio.image_header_size(buf.tobytes()) == (53, 37)
    assert uio.image_header_size(cv2.imencode(".bmp", img)[1].tobytes()) is None  # not parsed
    assert uio.image_header_size(b"\xff\xd8\xff\xda") is None  # scan before any frame header


def test_the_limit_can_be_raised_and_lowered(monkeypatch):
    img = np.zeros((20, 30, 3), np.uint8)
    png = uio.encode_png(img)
    assert uio.decode_image(png).shape == (20, 30, 3)
    monkeypatch.setenv(uio.MAX_PIXELS_ENV, "599")
    with pytest.raises(ImageReadError, match="UIRBENCH_MAX_IMAGE_PIXELS"):
        uio.decode_image(png, "x.png")
    monkeypatch.setenv(uio.MAX_PIXELS_ENV, "600")
    assert uio.decode_image(png).shape == (20, 30, 3)
    monkeypatch.setenv(uio.MAX_PIXELS_ENV, "lots")
    with pytest.raises(uio.UirbenchError, match="positive number"):
        uio.decode_image(png)
