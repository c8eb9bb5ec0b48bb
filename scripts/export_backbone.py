#!/usr/bin/python3
"""Exports a torchvision classifier as a TorchScript backbone for `iis embed`.

The exported module's forward takes B x 3 x H x W float32 images (preprocessed) and returns
the penultimate layer, B x D float32 (the classifier head is replaced by the identity).
Beside `<out>.ts` it writes `<out>.yaml`: the model's evaluation preprocessing (torchvision
0.14's transform for the chosen weights: resize size, crop size, interpolation, mean, std),
in the keys `iis embed` reads (the reference's model_configs keys).

No weights can be downloaded: give `--weights FILE` (a state_dict you have, e.g. from
torchvision's download cache), or the model gets random weights drawn from `--seed`.

    /usr/bin/python3 scripts/export_backbone.py resnet18 --out models/resnet18.ts
    /usr/bin/python3 scripts/export_backbone.py resnet50 --weights resnet50-0676ba61.pth \\
        --transforms IMAGENET1K_V1 --out models/resnet50.ts
"""
import argparse
import os
import sys

import torch
import torchvision
from torch import nn

# The paper's 14 backbones.
MODELS = [
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "vit_b_16", "vit_l_16",
    "swin_t", "swin_s", "swin_b",
    "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
]


def fail(message, hint):
    print(f"error: {message}\nhint: {hint}", file=sys.stderr)
    sys.exit(1)


def strip_head(name, model):
    """Replaces the last linear layer by the identity so forward returns the representation."""
    if name.startswith("resnet"):
        model.fc = nn.Identity()
    elif name.startswith("vit_"):
        model.heads = nn.Identity()  # forward returns the class token after the final norm
    elif name.startswith("swin_"):
        model.head = nn.Identity()
    elif name.startswith("convnext_"):
        model.classifier[2] = nn.Identity()  # keeps LayerNorm2d + Flatten
    else:
        raise AssertionError(name)
    return model


def load_weights(model, path):
    try:
        state = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - shown to the user with the file name
        fail(f"cannot read weights {path}: {str(e).splitlines()[0]}",
             "give a state_dict saved with torch.save(model.state_dict(), path)")
    if isinstance(state, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if isinstance(state, nn.Module):
        state = state.state_dict()
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        fail(f"weights {path} do not fit {type(model).__name__}: {str(e).splitlines()[0]}",
             "check the model name matches the weights file")


def preprocessing(name, transforms_name):
    """torchvision's evaluation transform for the model's weights `transforms_name`."""
    weights_enum = torchvision.models.get_model_weights(name)
    try:
        weights = weights_enum[transforms_name]
    except KeyError:
        fail(f"{name} has no weights {transforms_name} in torchvision {torchvision.__version__}",
             "use one of " + ", ".join(w.name for w in weights_enum))
    t = weights.transforms()
    return {
        "resize": t.resize_size[0],
        "crop": t.crop_size[0],
        "interpolation": t.interpolation.value,
        "mean": list(t.mean),
        "std": list(t.std),
        "weights": weights.name,
    }


def yaml_text(name, prep, weights_desc, feature_dim):
    def floats(v):
        return "[" + ", ".join(repr(float(x)) for x in v) + "]"

    return (
        f"# {name}: torchvision {torchvision.__version__} evaluation preprocessing of "
        f"{prep['weights']}\n"
        f"# written by scripts/export_backbone.py; read by `iis embed`\n"
        f"model: {name}\n"
        f"weights: {weights_desc}\n"
        f"feature_dim: {feature_dim}\n"
        f"preset: imagenet\n"
        f"val_resize_size: {prep['resize']}\n"
        f"val_crop_size: {prep['crop']}\n"
        f"interpolation: {prep['interpolation']}\n"
        f"mean: {floats(prep['mean'])}\n"
        f"std: {floats(prep['std'])}\n"
        f"channels: 3\n"
    )


def main():
    parser = argparse.ArgumentParser(
        description="Export a torchvision model as a TorchScript backbone (penultimate layer) "
        "plus a YAML of its preprocessing, for `iis embed`.")
    parser.add_argument("model", choices=MODELS, help="torchvision architecture")
    parser.add_argument("--out", help="output TorchScript file (default: ./<model>.ts); the "
                        "YAML goes beside it with the extension .yaml")
    parser.add_argument("--weights", help="a state_dict file to load (default: random weights)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights when --weights is not given (default 0)")
    parser.add_argument("--transforms", default="IMAGENET1K_V1",
                        help="whose evaluation transform to record: a weights name of the model "
                        "(default IMAGENET1K_V1, the paper's; e.g. IMAGENET1K_V2 for resnet50 V2)")
    parser.add_argument("--trace", action="store_true",
                        help="torch.jit.trace instead of torch.jit.script")
    args = parser.parse_args()

    out = args.out or f"{args.model}.ts"
    stem, _ = os.path.splitext(out)
    yaml_path = stem + ".yaml"
    prep = preprocessing(args.model, args.transforms)

    torch.manual_seed(args.seed)
    model = torchvision.models.get_model(args.model, weights=None)
    if args.weights:
        load_weights(model, args.weights)
        weights_desc = os.path.basename(args.weights)
    else:
        weights_desc = f"random (seed {args.seed})"
    model = strip_head(args.model, model).eval()

    example = torch.rand(2, 3, prep["crop"], prep["crop"])
    with torch.no_grad():
        if args.trace:
            scripted = torch.jit.trace(model, example)
        else:
            try:
                scripted = torch.jit.script(model)
            except Exception as e:  # noqa: BLE001 - fall back, say so
                print(f"note: torch.jit.script failed ({str(e).splitlines()[0]}); tracing",
                      file=sys.stderr)
                scripted = torch.jit.trace(model, example)
        expected = model(example)
        got = scripted(example)
    if expected.dim() != 2 or not torch.allclose(expected, got, rtol=1e-4, atol=1e-5):
        fail(f"the exported {args.model} does not reproduce the model's output",
             "report this with the torch and torchvision versions")
    feature_dim = expected.shape[1]

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    scripted.save(tmp)
    os.replace(tmp, out)
    with open(yaml_path + ".tmp", "w") as f:
        f.write(yaml_text(args.model, prep, weights_desc, feature_dim))
    os.replace(yaml_path + ".tmp", yaml_path)
    print(f"wrote {out} ({args.model}, {weights_desc}, {feature_dim}-d features) and {yaml_path} "
          f"(resize {prep['resize']} {prep['interpolation']}, crop {prep['crop']})")


if __name__ == "__main__":
    main()
