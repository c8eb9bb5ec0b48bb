#!/usr/bin/python3
"""Writes a small CLIP-shaped TorchScript archive with random weights, for tests and trials.

No CLIP weights can be downloaded on the machines iis is built on, so this stands in for the
checkpoints OpenAI publishes (ViT-B-16.pt, RN50.pt, ...). The archive has their interface:

    encode_image(images: N x 3 x R x R float) -> N x E
    encode_text(ids: N x context_length int64) -> N x E    (features at the end token, the
                                                             largest id of each row)
    forward(images, ids) -> (logits_per_image, logits_per_text)
    input_resolution, context_length, vocab_size             (0-d int64 tensors, read as
                                                             model.input_resolution.item())

The towers are CLIP's in miniature: a vision transformer (patch convolution, class token,
positional embedding, pre-norm blocks, final norm of the class token, projection) and a
causal text transformer over CLIP's 49 408 token vocabulary. Weights are drawn from --seed.

--half-cuda writes what OpenAI's archives hold: a trace whose casts (aten::to) go to float16
and whose device constants say cuda:0, with float16 weights. On a CPU it runs only after the
graph is patched back to float32 and the CPU, as CLIP's clip.load does (and `iis` does).

--image-reference and --text-reference compute the expected outputs in PyTorch (the eager
modules, not the archive): images through CLIP's preprocessing (torchvision Resize(R,
bicubic) on the PIL image, CenterCrop(R), RGB, ToTensor, Normalize with CLIP's mean and std)
then encode_image; token ids from a JSON-lines file ({"text", "ids"}, as `iis tokenize`
prints and tests/text/data/tokens.jsonl holds), zero-padded to the context length, then
encode_text. Both are saved as float32 .npy; --input-reference saves the preprocessed images,
--encode-inputs runs encode_image on inputs already preprocessed.

    /usr/bin/python3 scripts/make_clip_model.py --out models/tiny_clip.pt
    /usr/bin/python3 scripts/make_clip_model.py --out m.pt --text-reference ids.jsonl t.npy \\
        --image-reference i.npy a.png b.jpg
"""
import argparse
import copy
import json
import sys

import numpy as np
import torch
from torch import nn

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VOCAB_SIZE = 49408
HALF, FLOAT = 5, 6  # torch.float16 and torch.float32 as TorchScript writes dtypes


def fail(message, hint):
    print(f"error: {message}\nhint: {hint}", file=sys.stderr)
    sys.exit(1)


class LayerNorm(nn.LayerNorm):
    """CLIP's LayerNorm: computed in float32 whatever the input's type (its fp16 models)."""

    def forward(self, x):
        kind = x.dtype
        return super().forward(x.type(torch.float32)).type(kind)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention over N x L x W, with an optional additive L x L mask."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x, mask):
        n, length, width = x.shape
        head = width // self.heads
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(n, length, self.heads, head).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / head ** 0.5
        if mask is not None:
            scores = scores + mask
        y = scores.softmax(dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(n, length, width))


class Block(nn.Module):
    """Pre-norm residual block: attention, then a 4x MLP with QuickGELU."""

    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), QuickGELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x, mask=None):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Visual(nn.Module):
    def __init__(self, resolution, patch, width, layers, heads, embed_dim):
        super().__init__()
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        tokens = (resolution // patch) ** 2 + 1
        self.positional_embedding = nn.Parameter(scale * torch.randn(tokens, width))
        self.ln_pre = LayerNorm(width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, embed_dim))

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)  # N x patches x W
        cls = self.class_embedding.to(x.dtype) + torch.zeros(
            x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype))
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x[:, 0, :]) @ self.proj


class Clip(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.visual = Visual(a.resolution, a.patch, a.width, a.layers, a.heads, a.embed_dim)
        self.token_embedding = nn.Embedding(VOCAB_SIZE, a.text_width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(a.context_length, a.text_width))
        self.transformer = nn.ModuleList([Block(a.text_width, a.heads) for _ in range(a.layers)])
        self.ln_final = LayerNorm(a.text_width)
        self.text_projection = nn.Parameter(a.text_width ** -0.5 *
                                            torch.randn(a.text_width, a.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
        # Causal: a token sees itself and the tokens before it.
        mask = torch.full((a.context_length, a.context_length), float("-inf")).triu(1)
        self.register_buffer("attn_mask", mask)
        for name, value in (("input_resolution", a.resolution),
                            ("context_length", a.context_length), ("vocab_size", VOCAB_SIZE)):
            self.register_buffer(name, torch.tensor(value, dtype=torch.int64))

    @property
    def dtype(self):
        return self.visual.conv1.weight.dtype

    def encode_image(self, images):
        return self.visual(images.type(self.dtype))

    def encode_text(self, ids):
        x = self.token_embedding(ids).type(self.dtype) + self.positional_embedding.type(self.dtype)
        for block in self.transformer:
            x = block(x, self.attn_mask.type(self.dtype))
        x = self.ln_final(x)
        # The end token has the largest id (49407) of a row.
        rows = torch.arange(x.shape[0], device=x.device)
        return x[rows, ids.argmax(dim=-1)] @ self.text_projection

    def forward(self, images, ids):
        image = self.encode_image(images)
        text = self.encode_text(ids)
        image = image / image.norm(dim=-1, keepdim=True)
        text = text / text.norm(dim=-1, keepdim=True)
        logits = self.logit_scale.exp() * image @ text.t()
        return logits, logits.t()


def trace(model, a):
    images = torch.rand(2, 3, a.resolution, a.resolution)
    ids = torch.zeros(2, a.context_length, dtype=torch.int64)
    ids[:, 0] = VOCAB_SIZE - 2
    ids[0, 1:4] = torch.tensor([320, 1125, VOCAB_SIZE - 1])
    ids[1, 1:3] = torch.tensor([4558, VOCAB_SIZE - 1])
    with torch.no_grad():
        return torch.jit.trace_module(model, {"forward": (images, ids), "encode_image": images,
                                              "encode_text": ids}, check_trace=False)


def make_half_cuda(module):
    """Rewrites a float32 CPU trace as a float16 CUDA trace would read: casts to float16, device
    constants cuda:0, float16 weights (exact: the weights were rounded to float16 before)."""
    graphs = []
    for m in module.modules():
        for name in ("forward", "encode_image", "encode_text"):
            if hasattr(m, name) and hasattr(getattr(m, name), "graph"):
                graphs.append(getattr(m, name).graph)
    casts = devices = 0
    for graph in graphs:
        for node in graph.findAllNodes("prim::Constant"):
            if node.output().type().kind() == "DeviceObjType" and node.s("value") == "cpu":
                node.s_("value", "cuda:0")
                devices += 1
        for node in graph.findAllNodes("aten::to"):
            for value in list(node.inputs())[1:3]:
                const = value.node()
                if (const.kind() == "prim::Constant" and value.type().kind() == "IntType"
                        and const.i("value") == FLOAT):
                    const.i_("value", HALF)
                    casts += 1
    if casts == 0 or devices == 0:
        fail(f"the trace holds {casts} float32 casts and {devices} cpu device constants",
             "this PyTorch traces differently; --half-cuda needs both to rewrite")
    return module.half()


def clip_preprocess(path, resolution):
    import torchvision.transforms as T
    from PIL import Image
    transform = T.Compose([
        T.Resize(resolution, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(resolution),
        lambda image: image.convert("RGB"),
        T.ToTensor(),
        T.Normalize(CLIP_MEAN, CLIP_STD),
    ])
    with Image.open(path) as image:
        return transform(image)


def read_ids(path, context_length):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            ids = json.loads(line)["ids"]
            if len(ids) > context_length:
                fail(f"{path}:{number}: {len(ids)} ids, more than the context length "
                     f"{context_length}", "give shorter texts or a longer --context-length")
            rows.append(ids + [0] * (context_length - len(ids)))
    return torch.tensor(rows, dtype=torch.int64)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="the TorchScript archive to write (.pt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resolution", type=int, default=32, help="input side R")
    p.add_argument("--patch", type=int, default=8, help="patch side (divides R)")
    p.add_argument("--width", type=int, default=16, help="vision transformer width")
    p.add_argument("--text-width", type=int, default=16, help="text transformer width")
    p.add_argument("--layers", type=int, default=2, help="blocks per tower")
    p.add_argument("--heads", type=int, default=2, help="attention heads (divide both widths)")
    p.add_argument("--embed-dim", type=int, default=12, help="output features E")
    p.add_argument("--context-length", type=int, default=77)
    p.add_argument("--no-attributes", action="store_true",
                   help="leave out input_resolution, context_length and vocab_size (top level)")
    p.add_argument("--half-cuda", action="store_true",
                   help="float16 casts and weights, cuda:0 device constants (see above)")
    p.add_argument("--text-reference", nargs=2, metavar=("IDS_JSONL", "OUT_NPY"))
    p.add_argument("--image-reference", nargs="+", metavar="OUT_NPY IMAGE",
                   help="OUT.npy, then the image files")
    p.add_argument("--input-reference", metavar="OUT_NPY",
                   help="with --image-reference: the preprocessed images, N x 3 x R x R")
    p.add_argument("--encode-inputs", nargs=2, metavar=("IN_NPY", "OUT_NPY"),
                   help="encode_image of inputs already preprocessed (N x 3 x R x R float32)")
    a = p.parse_args()
    if a.resolution % a.patch or a.width % a.heads or a.text_width % a.heads:
        fail("--patch must divide --resolution and --heads both widths",
             "e.g. --resolution 32 --patch 8 --width 16 --heads 2")
    if a.image_reference is not None and len(a.image_reference) < 2:
        fail("--image-reference needs OUT.npy and at least one image", "--image-reference i.npy a.png")

    torch.manual_seed(a.seed)
    model = Clip(a).eval()
    if a.half_cuda:  # weights float16 can hold, so the float32 reference is the same model
        model = model.half().float()
    if a.no_attributes:
        for name in ("input_resolution", "context_length", "vocab_size"):
            delattr(model, name)
    module = trace(copy.deepcopy(model), a)  # a trace shares its parameters with the model
    if a.half_cuda:
        module = make_half_cuda(module)
    module.save(a.out)

    with torch.no_grad():
        if a.text_reference:
            ids = read_ids(a.text_reference[0], a.context_length)
            np.save(a.text_reference[1], model.encode_text(ids).numpy().astype(np.float32))
        if a.image_reference:
            images = torch.stack([clip_preprocess(f, a.resolution) for f in a.image_reference[1:]])
            np.save(a.image_reference[0], model.encode_image(images).numpy().astype(np.float32))
            if a.input_reference:
                np.save(a.input_reference, images.numpy().astype(np.float32))
        if a.encode_inputs:
            images = torch.from_numpy(np.load(a.encode_inputs[0])).float()
            np.save(a.encode_inputs[1], model.encode_image(images).numpy().astype(np.float32))


if __name__ == "__main__":
    main()
