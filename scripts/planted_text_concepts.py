#!/usr/bin/python3
"""Writes a text-concept problem whose answer is known, for `iis fit --concept-type text`.

Rows have 4 latent factors z (the representation holds them, mixed into D dimensions with a
little noise; the label is the largest) and 4 factors u it does not hold. The CLIP image
features are [z, u, 0, 0] and the text features the identity over 10 concepts: z0-z3 (the
filters must keep them), u0-u3 (CLIP activates them but the representation cannot predict
them: the interpretability cut-off must drop them) and never0-never1 (CLIP never activates
them: the CLIP cut-off must drop them).

    /usr/bin/python3 scripts/planted_text_concepts.py OUT_DIR [--train 20000] [--val 5000]
    iis fit --concept-type text --train-features OUT_DIR/train_x.npy ... (printed at the end)
"""
import argparse
import os

import numpy as np


def split(rng, mix, rows, noise):
    z = rng.standard_normal((rows, 4)).astype(np.float32)
    u = rng.standard_normal((rows, 4)).astype(np.float32)
    x = z @ mix + noise * rng.standard_normal((rows, mix.shape[1])).astype(np.float32)
    clip = np.concatenate([z, u, np.zeros((rows, 2), np.float32)], axis=1)
    return x.astype(np.float32), z.argmax(1).astype(np.int64), clip


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--val", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    mix = rng.standard_normal((4, a.dim)).astype(np.float32)
    for name, rows in (("train", a.train), ("val", a.val)):
        x, y, clip = split(rng, mix, rows, a.noise)
        np.save(os.path.join(a.out, name + "_x.npy"), x)
        np.save(os.path.join(a.out, name + "_y.npy"), y)
        np.save(os.path.join(a.out, name + "_clip.npy"), clip)
    np.save(os.path.join(a.out, "text.npy"), np.eye(10, dtype=np.float32))
    names = ["z0", "z1", "z2", "z3", "u0", "u1", "u2", "u3", "never0", "never1"]
    with open(os.path.join(a.out, "names.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    d = a.out
    print(f"iis fit --concept-type text --train-features {d}/train_x.npy "
          f"--train-labels {d}/train_y.npy --val-features {d}/val_x.npy "
          f"--val-labels {d}/val_y.npy --clip-train-features {d}/train_clip.npy "
          f"--clip-val-features {d}/val_clip.npy --text-features {d}/text.npy "
          f"--concept-names {d}/names.txt --out {d}/fit")


if __name__ == "__main__":
    main()
