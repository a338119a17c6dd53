"""Fuzz: real PNG and JPEG files, mutated (truncated, bytes flipped, chunks spliced, zero bytes),
at least 500 cases. Every place that reads an image goes through uirbench.io.decode_image, which
must either return HxWx3 uint8 RGB or raise ImageReadError naming the file: never another
exception from deep inside a library."""

import random

import cv2
import numpy as np
import pytest
import skimage.data

from uirbench.errors import ImageReadError
from uirbench.io import decode_image, read_image

CASES_PER_FORMAT = 300


def _seeds() -> dict[str, bytes]:
    img = np.ascontiguousarray(skimage.data.chelsea()[:96, :128, ::-1])
    grey = skimage.data.camera()[:64, :64]
    rgba = np.dstack([img, np.full(img.shape[:2], 200, np.uint8)])
    return {
        "png": cv2.imencode(".png", img)[1].tobytes(),
        "jpg": cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes(),
        "grey.png": cv2.imencode(".png", grey)[1].tobytes(),
        "rgba.png": cv2.imencode(".png", rgba)[1].tobytes(),
    }


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:  # truncate
        return bytes(b[: rng.randrange(len(b))])
    if kind == 1:  # flip bytes
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if kind == 2:  # zero a run
        i = rng.randrange(len(b))
        b[i : i + rng.randint(1, 64)] = bytes(min(64, len(b) - i))
        return bytes(b)
    if kind == 3:  # splice a chunk elsewhere
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        k = rng.randrange(len(b))
        return bytes(b[:k] + b[i:j] + b[k:])
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))  # garbage


def test_decoding_mutated_files_returns_rgb_or_a_clear_error(tmp_path):
    rng = random.Random(20241127)
    outcomes = {"decoded": 0, "refused": 0}
    seeds = _seeds()
    for name, data in seeds.items():
        for i in range(CASES_PER_FORMAT if name in ("png", "jpg") else 50):
            blob = _mutate(data, rng)
            path = tmp_path / f"case{i}.{name}"
            path.write_bytes(blob)
            try:
                img = read_image(path)
            except ImageReadError as exc:
                assert str(path) in str(exc)
                outcomes["refused"] += 1
                continue
            assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
            outcomes["decoded"] += 1
    total = sum(outcomes.values())
    assert total >= 600
    assert outcomes["refused"] > 100  # the mutations do break files
    print(f"fuzz: {total} cases, {outcomes}")


@pytest.mark.parametrize(
    "blob, match",
    [
        (b"", "empty file"),
        (b"hello, not an image", "not a readable image"),
        (cv2.imencode(".png", np.zeros((4, 4), np.uint16))[1].tobytes(), "16-bit|uint16"),
    ],
)
def test_bad_files_name_the_file_and_the_fix(blob, match):
    with pytest.raises(ImageReadError, match=match) as err:
        decode_image(blob, "some/file.png")
    assert "some/file.png" in str(err.value)


def test_documented_conversions_grey_and_rgba(tmp_path):
    seeds = _seeds()
    grey = decode_image(seeds["grey.png"])
    assert grey.shape == (64, 64, 3) and (grey[..., 0] == grey[..., 2]).all()
    rgba = decode_image(seeds["rgba.png"])
    assert rgba.shape == (96, 128, 3)
    assert np.array_equal(rgba, decode_image(seeds["png"]))


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)


def test_truncated_jpeg_is_refused_not_decoded_grey():
    data = _seeds()["jpg"]
    with pytest.raises(ImageReadError, match="truncated JPEG"):
        decode_image(data[: len(data) // 2], "half.jpg")
    assert decode_image(data + b"\x00\x00").shape == (96, 128, 3)  # padding after EOI is fine
