#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (small valid files) into a folder, one
sub-folder per target: python3 fuzz/make_seeds.py OUT [--results R.json ...].

.npy files are laid out as numpy.save writes them (magic, version, little-endian header
length, the header dict padded with spaces to a multiple of 64 bytes, '\\n', the data); IDX
seeds are in the idx target's layout (2 bytes L, images, labels: the last L bytes); the YAML
seeds are the repository's configs and the preprocessing YAML scripts/export_backbone.py
writes; results.json seeds are files written by `iis fit`, given with --results.
Standard library only (no NumPy needed)."""
import argparse
import gzip
import math
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = "/usr/share/datasets/fashion-mnist"


def npy(descr, shape, data, version=1, shape_text=None):
    if shape_text is None:  # as Python writes a tuple: (), (6,), (2, 3)
        shape_text = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    prefix = 10 if version == 1 else 12
    header += " " * ((64 - (prefix + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode("latin1") + data


def npy_seeds():
    f32 = struct.pack("<6f", 1.5, -2.0, 3.0, 4.0, 0.0, 6.25)
    yield "f4_2x3", npy("<f4", (2, 3), f32)
    yield "f8_3", npy("<f8", (3,), struct.pack("<3d", 0.5, -1e300, 7.0))
    yield "f2_2x2", npy("<f2", (2, 2), struct.pack("<4e", 1.0, -0.5, 65504.0, 0.0))
    yield "f4_nan", npy("<f4", (2, 2), struct.pack("<4f", 1.0, math.nan, 2.0, math.inf))
    yield "i8_labels", npy("<i8", (5,), struct.pack("<5q", 0, 3, 1, 2, 9))
    yield "i8_big_endian", npy(">i8", (2,), struct.pack(">2q", 258, 7))
    yield "f4_big_endian", npy(">f4", (1, 2), struct.pack(">2f", 1.25, -3.0))
    yield "i4", npy("<i4", (4,), struct.pack("<4i", 0, 1, -1, 2))
    yield "i2", npy("<i2", (2,), struct.pack("<2h", 5, 6))
    yield "i1", npy("|i1", (3,), bytes([0, 1, 255]))
    yield "u1_2x2", npy("|u1", (2, 2), bytes([0, 7, 200, 255]))
    yield "b1", npy("|b1", (3,), bytes([0, 1, 1]))
    yield "f4_labels_fractional", npy("<f4", (2,), struct.pack("<2f", 1.0, 0.5))
    yield "scalar", npy("<f8", (), struct.pack("<d", 3.0), shape_text="()")
    yield "empty_0x4", npy("<f4", (0, 4), b"")
    yield "f4_3d", npy("<f4", (1, 2, 1), struct.pack("<2f", 1.0, 2.0))
    yield "v2", npy("<f4", (2, 3), f32, version=2)
    yield "v3", npy("<i8", (1,), struct.pack("<q", 4), version=3)
    yield "py2_longs", npy("<f4", (2, 3), f32, shape_text="(2L, 3L)")
    yield "truncated", npy("<f4", (10, 3), f32)


def idx_seed(images, labels):
    return struct.pack("<H", len(labels)) + images + labels


def idx_images(n, rows, cols, pixels=None):
    data = pixels if pixels is not None else bytes((i * 31 + i // cols * 7) % 256
                                                   for i in range(n * rows * cols))
    return struct.pack(">IIII", 0x803, n, rows, cols) + data


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def idx_seeds():
    yield "three_4x5", idx_seed(idx_images(3, 4, 5), idx_labels([0, 9, 3]))
    yield "one_1x1", idx_seed(idx_images(1, 1, 1), idx_labels([0]))
    yield "none", idx_seed(idx_images(0, 28, 28), idx_labels([]))
    yield "label_200", idx_seed(idx_images(2, 2, 2), idx_labels([200, 1]))
    # The first two images of Fashion-MNIST's test split, as Debian ships it.
    images = os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")
    if os.path.exists(images):
        with gzip.open(images) as f:
            f.read(16)
            pixels = f.read(2 * 28 * 28)
        with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
            f.read(8)
            labels = list(f.read(2))
        yield "fashion_t10k_2", idx_seed(idx_images(2, 28, 28, pixels), idx_labels(labels))


RUN_CONFIGS = {
    # Every key of configs/README.md, flow and block style mixed.
    "every_key": """out: runs/all
device: cuda:0
seeds: [0, 1, 2]
ratios: [0, 0.5, 0.9]
concept_types: [prototype, cluster, end2end]
dataset: {train: data/train, val: data/val, elements_from: val, train_limit: 100, val_limit: 50}
concepts:
  kind: patches
  images_per_class: 2
  image_select: random
  seed: 3
  scales: 10
  compactness: 5.5
  sigma: 0
  masks_per_scale: 2
  min_area: 0.01
  jaccard: 1
  fill: 0
  grid: 2
  patch_size: 32
backbones:
  - models/resnet50.ts
  - {name: cnn, spec: "native:cnn2@runs/cnn2/epoch_3.pt"}
  - name: mlp_e1
    pretrain: {arch: mlp, epochs: 1, seed: 0, train_limit: 2000}
pretrain: {batch_size: 64, lr: 0.002, train_limit: 0}
embed: {batch_size: 32}
fit:
  num_concepts: 20
  epochs: 2
  lrs: [0.01, 0.001]
  batch_size: 256
  threshold: soft
  concept_select: stratified
  select_on: holdout
  temperature: 0.5
""",
    "minimal": "dataset: {train: a, val: b}\nbackbones: [native:mlp]\n",
    "typo": "dataset: {train: a, val: b}\nbackbones: [m.ts]\nfit: {num_concept: 5}\n",
}

PREPROCESS_YAMLS = {
    # As scripts/export_backbone.py writes it for resnet50's IMAGENET1K_V2 weights.
    "export_resnet50": """# resnet50: torchvision 0.14.1 evaluation preprocessing of IMAGENET1K_V2
# written by scripts/export_backbone.py; read by `iis embed`
model: resnet50
weights: IMAGENET1K_V2
feature_dim: 2048
preset: imagenet
val_resize_size: 232
val_crop_size: 224
interpolation: bilinear
mean: [0.485, 0.456, 0.406]
std: [0.229, 0.224, 0.225]
channels: 3
""",
    "vit_bicubic": "preset: imagenet\nval_resize_size: 384\nval_crop_size: 384\n"
                   "interpolation: bicubic\n",
    "none_grey": "preset: none\nchannels: 1\nmean: 0.2860\nstd: 0.3530\n",
    "aliases": "resize_size: 28\ncrop_size: 0\ninterpolation: NEAREST\nmean: null\nstd: null\n",
    "empty": "",
}


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--results", nargs="*", default=[],
                        help="results.json files written by `iis fit`")
    args = parser.parse_args()
    for name, data in npy_seeds():
        write(os.path.join(args.out, "npy"), name + ".npy", data)
    for name, data in idx_seeds():
        write(os.path.join(args.out, "idx"), name, data)
    configs = os.path.join(ROOT, "configs")
    for name in sorted(os.listdir(configs)):
        if name.endswith(".yaml"):
            with open(os.path.join(configs, name), "rb") as f:
                write(os.path.join(args.out, "run_config"), name, f.read())
    for name, text in RUN_CONFIGS.items():
        write(os.path.join(args.out, "run_config"), name + ".yaml", text)
    for name, text in PREPROCESS_YAMLS.items():
        write(os.path.join(args.out, "preprocess_yaml"), name + ".yaml", text)
    for i, path in enumerate(args.results):
        with open(path, "rb") as f:
            write(os.path.join(args.out, "score_results"), f"results_{i}.json", f.read())


if __name__ == "__main__":
    main()
