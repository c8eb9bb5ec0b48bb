#!/usr/bin/python3
"""Parity of `iis superpixels` with scikit-image's slic (Debian's python3-skimage 0.19).

Runs both with the same parameters (compactness 10, sigma 1, scikit-image's defaults for
the rest) on natural photos (scikit-image's sample photos, plus resized copies) and on
Fashion-MNIST test images, at n_segments 10, 20 and 30, and prints the adjusted Rand index
of every label map and the median per set. The target is a median ARI >= 0.9 on both sets;
the exit status is 1 when a set misses it.

    scripts/slic_parity.py [--tool build/bin/iis] [--fashion 36] [--scales 10,20,30]
"""
import argparse
import glob
import gzip
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image
from skimage.segmentation import slic
from sklearn.metrics import adjusted_rand_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
          "motorcycle_right.png", "retina.jpg", "hubble_deep_field.jpg", "color.png"]
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def find_tool():
    candidates = sorted(glob.glob(os.path.join(ROOT, "build*/bin/iis")), key=os.path.getmtime)
    if not candidates:
        sys.exit("no build*/bin/iis found; build the tool or pass --tool")
    return candidates[-1]


def photos():
    """(name, RGB uint8 array) for each sample photo present, and two resized copies."""
    for name in PHOTOS:
        path = os.path.join(SKIMAGE_DATA, name)
        if not os.path.exists(path):
            continue
        image = Image.open(path).convert("RGB")
        yield name, np.asarray(image)
        w, h = image.size
        for scale in (0.5, 0.3):
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            yield f"{name}@{size[0]}x{size[1]}", np.asarray(image.resize(size, Image.BICUBIC))


def fashion(count):
    """(name, RGB uint8 array) for the first `count` Fashion-MNIST test images, grey
    replicated to three channels as the reference's PIL convert('RGB') does."""
    with gzip.open(FASHION, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols)
    for i in range(min(count, n)):
        yield f"fashion[{i}]", np.repeat(images[i][:, :, None], 3, axis=2)


def ours(tool, path, n_segments, out):
    subprocess.run([tool, "--quiet", "superpixels", path, "--n-segments", str(n_segments),
                    "--compactness", "10", "--sigma", "1", "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(out)


def run_set(title, items, tool, scales, tmp):
    print(f"== {title}")
    aris = []
    for name, rgb in items:
        path = os.path.join(tmp, "image.png")
        Image.fromarray(rgb).save(path)
        row = []
        for n in scales:
            reference = slic(rgb, n_segments=n, compactness=10, sigma=1, start_label=0)
            labels = ours(tool, path, n, os.path.join(tmp, "labels.npy"))
            assert labels.shape == reference.shape, (labels.shape, reference.shape)
            ari = adjusted_rand_score(reference.ravel(), labels.ravel())
            aris.append(ari)
            row.append(f"n={n}: ARI {ari:.4f} ({labels.max() + 1} vs {reference.max() + 1} segments)")
        print(f"  {name:32s} " + "  ".join(row))
    median = statistics.median(aris)
    print(f"  median ARI {median:.4f} over {len(aris)} label maps (min {min(aris):.4f})")
    return median


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tool", default=None, help="the iis binary (default: newest build*/bin/iis)")
    parser.add_argument("--fashion", type=int, default=36, help="Fashion-MNIST images (default 36)")
    parser.add_argument("--scales", default="10,20,30", help="n_segments values (default 10,20,30)")
    args = parser.parse_args()
    tool = args.tool or find_tool()
    scales = [int(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        medians = {"photos": run_set("natural photos", photos(), tool, scales, tmp)}
        if os.path.exists(FASHION):
            medians["fashion-mnist"] = run_set("Fashion-MNIST", fashion(args.fashion), tool,
                                               scales, tmp)
        else:
            print(f"== Fashion-MNIST: {FASHION} missing (Debian package dataset-fashion-mnist)")
    ok = all(m >= 0.9 for m in medians.values())
    print("target median ARI >= 0.9: " + ("met" if ok else "MISSED") + " (" +
          ", ".join(f"{k} {v:.4f}" for k, v in medians.items()) + ")")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
