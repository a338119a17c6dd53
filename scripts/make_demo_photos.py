"""Write the demo preset's photos into the package (uirbench/manifests/demo_photos/).

Why: build-data --preset demo must run with the core dependencies only, so the photos it crops
no longer come from scikit-image / scikit-learn at run time. They are stored already resized
(area) to the manifest's short side, exactly as plan_demo resized them, as lossless PNG: the
built pairs are byte-identical to those made from the original packages.

Run (needs scikit-image and scikit-learn): python scripts/make_demo_photos.py
"""

from __future__ import annotations

import cv2
import numpy as np
import yaml

from uirbench.io import write_png
from uirbench.paths import manifests_dir


def original(photo_id: str) -> np.ndarray:
    kind, _, name = photo_id.partition(":")
    if kind == "skimage":
        import skimage.data

        img = getattr(skimage.data, name)()
    elif kind == "sklearn":
        from sklearn.datasets import load_sample_image

        img = load_sample_image(f"{name}.jpg")
    else:
        raise SystemExit(f"unknown photo origin {photo_id!r}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def main() -> None:
    spec = yaml.safe_load((manifests_dir() / "demo.yaml").read_text())
    crop, short = int(spec["crop"]), int(spec["short_side"])
    out = manifests_dir() / "demo_photos"
    out.mkdir(exist_ok=True)
    for photo in spec["photos"]:
        img = original(photo["id"])
        h, w = img.shape[:2]
        scale = short / min(h, w)
        size = (max(round(w * scale), crop), max(round(h * scale), crop))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        dest = out / (photo["id"].replace(":", "-") + ".png")
        write_png(dest, img)
        print(f"{dest}: {img.shape[1]}x{img.shape[0]}")


if __name__ == "__main__":
    main()
