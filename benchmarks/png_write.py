"""Seconds to write one PNG of the sizes the completion loop writes, at each zlib level (PIL),
on this machine: a photo crop (a seed example photo resized to SIZE x SIZE), the same crop with
noise, and a mask. `amodal.imaging.io.write_image` uses `PNG_IMAGE_LEVEL`; the pixels are equal at every
level, only time and bytes change.

    python benchmarks/png_write.py [--size 900] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=900)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    photo = cv2.imread(str(ROOT / "data" / "seed_examples" / "cat-7875506_640_cat.jpg"))[:, :, ::-1]
    photo = cv2.resize(photo, (args.size, args.size), interpolation=cv2.INTER_CUBIC)
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 8, photo.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((args.size, args.size), np.uint8)
    mask[args.size // 5 : 3 * args.size // 4, args.size // 8 : 2 * args.size // 3] = 255
    print(f"{'image':<8}{'level':>6}{'ms':>9}{'bytes':>11}")
    for name, array in (("photo", photo), ("noisy", noisy), ("mask", mask)):
        for level in (1, 3, 6, 9):
            start = time.perf_counter()
            for _ in range(args.repeat):
                buffer = io.BytesIO()
                Image.fromarray(array).save(buffer, format="PNG", compress_level=level)
            ms = 1000 * (time.perf_counter() - start) / args.repeat
            print(f"{name:<8}{level:>6}{ms:>9.1f}{len(buffer.getvalue()):>11}")


if __name__ == "__main__":
    main()
