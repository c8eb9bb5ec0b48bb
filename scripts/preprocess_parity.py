#!/usr/bin/python3
"""Parity of `iis` preprocessing and features with torchvision 0.14 + PIL on real photos.

1. Preprocessing, before normalisation: for photos of many sizes and aspect ratios (the
   scikit-image sample photos, plus resized and cropped variants, saved as PNG and JPEG), the
   224x224 uint8 crop `iis preprocess --uint8` makes is compared with torchvision's
   Resize(256) + CenterCrop(224) on the PIL image (bilinear, and bicubic with resize 232 as
   swin_t uses). Target: >= 99 % of values within one grey level, mean |diff| < 0.5.
2. Features: resnet18 exported by scripts/export_backbone.py (random weights, seed 0) run by
   `iis embed` on an ImageFolder of the same files, against PyTorch (torchvision's resnet18
   with the same seed, torchvision's eval transform, PIL loading). Target: relative difference
   < 1e-3.

    /usr/bin/python3 scripts/preprocess_parity.py --iis build/bin/iis

Prints the numbers; exits 1 if a target is missed.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
          "hubble_deep_field.jpg", "retina.jpg", "camera.png", "coins.png", "moon.png",
          "ihc.png", "grass.png"]
HERE = os.path.dirname(os.path.abspath(__file__))


def make_images(folder):
    """Writes the photos and variants of other sizes into folder/<class>/; returns the paths."""
    cls = os.path.join(folder, "photos")
    os.makedirs(cls, exist_ok=True)
    paths = []
    for k, name in enumerate(PHOTOS):
        src = os.path.join(SKIMAGE_DATA, name)
        if not os.path.exists(src):
            continue
        im = Image.open(src)
        im.load()
        stem = os.path.splitext(name)[0]
        w, h = im.size
        variants = {
            "orig": im,
            # Odd sizes and aspect ratios: wide, tall, small (upscaled by the resize), exactly
            # the resize size, and one whose crop offset is a .5 case.
            "wide": im.resize((max(300, int(w * 1.37)) | 1, max(257, int(h * 0.61))), Image.LANCZOS),
            "tall": im.crop((0, 0, max(64, w // 3), h)).resize((241, 419), Image.LANCZOS),
            "small": im.resize((173, 130), Image.LANCZOS),
            "exact": im.resize((256, 333), Image.LANCZOS),
            "half": im.crop((w // 7, h // 9, w // 7 + 259 + k, h // 9 + 300)),
        }
        for tag, v in variants.items():
            for ext in (".png", ".jpg"):
                if tag == "orig" and not name.endswith(ext):
                    continue
                p = os.path.join(cls, f"{stem}_{tag}{ext}")
                if ext == ".jpg":
                    (v if v.mode in ("L", "RGB") else v.convert("RGB")).save(p, quality=92)
                else:
                    v.save(p)
                paths.append(p)
    return sorted(paths)


def iis_preprocess(iis, paths, out, extra):
    subprocess.run([iis, "--quiet", "preprocess", "--uint8", "--preset", "imagenet", "--out", out]
                   + extra + paths, check=True)
    return np.load(out)


def torchvision_crops(paths, resize, interpolation):
    t = T.Compose([T.Resize(resize, interpolation=interpolation), T.CenterCrop(224)])
    return np.stack([np.asarray(t(Image.open(p).convert("RGB"))) for p in paths])


def compare_preprocessing(iis, paths, tmp):
    ok = True
    for label, resize, interp, extra in [
            ("bilinear, resize 256", 256, T.InterpolationMode.BILINEAR, []),
            ("bicubic, resize 232", 232, T.InterpolationMode.BICUBIC,
             ["--resize-size", "232", "--interpolation", "bicubic"])]:
        ours = iis_preprocess(iis, paths, os.path.join(tmp, "ours.npy"), extra).astype(np.int16)
        ref = torchvision_crops(paths, resize, interp).astype(np.int16)
        print(f"\npreprocessing ({label}, crop 224), before normalisation:")
        print(f"  {'image':34s} {'size':>10s} {'<=1 level':>10s} {'mean|d|':>8s} {'max|d|':>6s}")
        for fmt in (".png", ".jpg"):
            idx = [i for i, p in enumerate(paths) if p.endswith(fmt)]
            for i in idx:
                d = np.abs(ours[i] - ref[i])
                w, h = Image.open(paths[i]).size
                print(f"  {os.path.basename(paths[i]):34s} {w:>4d}x{h:<5d} "
                      f"{100 * np.mean(d <= 1):9.3f}% {d.mean():8.4f} {d.max():6d}")
            d = np.abs(ours[idx] - ref[idx])
            within, mean = 100 * np.mean(d <= 1), d.mean()
            passed = within >= 99.0 and mean < 0.5
            ok &= passed
            print(f"  ALL {fmt} ({len(idx)} images): {within:.4f}% within one grey level, "
                  f"mean |diff| {mean:.5f}, exact {100 * np.mean(d == 0):.3f}%, max {d.max()} "
                  f"-> {'PASS' if passed else 'FAIL'}")
    return ok


def compare_features(iis, folder, tmp):
    model_path = os.path.join(tmp, "resnet18.ts")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "export_backbone.py"), "resnet18",
                    "--out", model_path, "--seed", "0"], check=True, stdout=subprocess.DEVNULL)
    prefix = os.path.join(tmp, "feats")
    subprocess.run([iis, "--quiet", "embed", "--backbone", model_path, "--data", folder,
                    "--out", prefix, "--batch-size", "16"], check=True, stdout=subprocess.DEVNULL)
    ours = np.load(prefix + ".features.npy")
    paths = open(prefix + ".paths.txt").read().splitlines()

    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Identity()
    model.eval()
    transform = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    dataset = torchvision.datasets.ImageFolder(folder, transform=transform)
    assert [os.path.abspath(p) for p, _ in dataset.samples] == [os.path.abspath(p) for p in paths]
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, num_workers=0)
    with torch.no_grad():
        ref = torch.cat([model(x) for x, _ in loader]).numpy()
    row_rel = np.linalg.norm(ours - ref, axis=1) / np.linalg.norm(ref, axis=1)
    max_rel = np.abs(ours - ref).max() / np.abs(ref).max()
    passed = row_rel.max() < 1e-3 and max_rel < 1e-3
    print(f"\nfeatures: resnet18 (random weights, seed 0), {len(paths)} images, iis embed vs "
          f"torchvision + PIL:")
    print(f"  per-image relative L2 difference: max {row_rel.max():.2e}, mean {row_rel.mean():.2e}")
    print(f"  max |diff| / max |feature|: {max_rel:.2e} -> {'PASS' if passed else 'FAIL'}")
    return passed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iis", default=os.path.join(HERE, "..", "build", "bin", "iis"),
                        help="the iis binary (default build/bin/iis)")
    parser.add_argument("--skip-features", action="store_true",
                        help="only compare preprocessing (no model export)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"Pillow {Image.__version__}")
    with tempfile.TemporaryDirectory(prefix="iis_parity_") as tmp:
        folder = os.path.join(tmp, "data")
        paths = make_images(folder)
        ok = compare_preprocessing(args.iis, paths, tmp)
        if not args.skip_features:
            ok &= compare_features(args.iis, folder, tmp)
    print("\nparity:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
