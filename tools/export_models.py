#!/usr/bin/python3
"""Export 2D slice feature extractors to TorchScript + voxir sidecar (docs/embedders.md).

voxir loads a model as `torchscript:<file.pt>` together with `<file.pt>.json`, which says how a
CT slice becomes the model's input (size, channels, HU windows, mean/std) and how to read the
output (dimension, tuple index, pooling). This script writes both.

Models (the paper's six extractors, plus common extras):
  dinov1_vits16, dinov1_vitb16   DINO (torch.hub facebookresearch/dino)
  dinov2_vits14, dinov2_vitb14   DINOv2 (torch.hub facebookresearch/dinov2)
  dreamsim                       DreamSim ensemble of DINO, CLIP and OpenCLIP ViT-B (pip dreamsim)
  resnet50_radimagenet           ResNet50 trained on RadImageNet (--weights <RadImageNet-ResNet50.pt>)
  swin_t_radimagenet             Swin-T trained on RadImageNet (--weights <state dict>)
  resnet50_fractal               ResNet50 pretrained on fractal images (--weights <state dict>)
  biomedclip                     BiomedCLIP's vision tower (open_clip, hf-hub)
  vit_s14, resnet50              plain torchvision architectures (benchmarks)
  tiny                           a 2-layer CNN on 32x32 inputs (tests)

With real weights this needs network access or --weights files, Python, torch and the packages
named above. --random-weights builds the same architectures from torchvision with random
weights (no downloads): for testing the loading path and for speed benchmarks. Vectors of
random-weight models are meaningless for retrieval.

Models are saved as plain traces: torch 1.13's frozen/optimised graphs save but do not load
again; voxir freezes and optimises a model itself after loading it. Export with the same torch
major version as voxir's libtorch (Debian 12: 1.13); files from a
newer torch may not load.

Usage:
  /usr/bin/python3 tools/export_models.py --out models/ --random-weights vit_s14 resnet50
  /usr/bin/python3 tools/export_models.py --out models/ dinov2_vits14
  /usr/bin/python3 tools/export_models.py forward models/x.pt in.f32 N,C,H,W out.f32
      (runs a model on raw float32 input: how the tests compare C++ with Python)
"""
import argparse
import json
import sys

import torch
import torch.nn as nn

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])


def vit(patch, dim, layers, heads, size=224):
    from torchvision.models import VisionTransformer
    m = VisionTransformer(image_size=size, patch_size=patch, num_layers=layers, num_heads=heads,
                          hidden_dim=dim, mlp_dim=dim * 4)
    m.heads = nn.Identity()  # class-token embedding, [N, dim]
    return m


def resnet50_trunk():
    from torchvision.models import resnet50
    m = resnet50(weights=None)
    m.fc = nn.Identity()  # global-average-pooled features, [N, 2048]
    return m


def swin_t_trunk():
    from torchvision.models import swin_t
    m = swin_t(weights=None)
    m.head = nn.Identity()  # [N, 768]
    return m


def load_state(model, path):
    state = torch.load(path, map_location="cpu")
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    state = {k.replace("module.", "").replace("backbone.", ""): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    print(f"  weights {path}: {len(missing)} missing, {len(unexpected)} unexpected keys", file=sys.stderr)
    return model


class Tiny(nn.Module):
    """Input size matters (flatten + linear), so a wrong sidecar size is detected."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 24)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(x.flatten(1))


class Concat(nn.Module):
    """DreamSim-style ensemble: each member's embedding, concatenated."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        return torch.cat([nn.functional.normalize(m(x), dim=1) for m in self.members], dim=1)


def build(name, random_weights, weights):
    """Returns (module producing [N, D], input size, (mean, std))."""
    if name == "tiny":
        return Tiny(), 32, IMAGENET
    if name == "vit_s14":
        return vit(14, 384, 12, 6), 224, IMAGENET
    if name == "resnet50":
        return resnet50_trunk(), 224, IMAGENET
    if name.startswith("dinov1_"):
        arch = name.split("_")[1]
        if random_weights:
            return (vit(16, 384, 12, 6) if arch == "vits16" else vit(16, 768, 12, 12)), 224, IMAGENET
        return torch.hub.load("facebookresearch/dino:main", "dino_" + arch), 224, IMAGENET
    if name.startswith("dinov2_"):
        arch = name.split("_")[1]
        if random_weights:
            return (vit(14, 384, 12, 6) if arch == "vits14" else vit(14, 768, 12, 12)), 224, IMAGENET
        return torch.hub.load("facebookresearch/dinov2", "dinov2_" + arch), 224, IMAGENET
    if name == "dreamsim":
        if random_weights:
            return Concat([vit(16, 768, 12, 12) for _ in range(3)]), 224, CLIP
        from dreamsim import dreamsim
        model, _ = dreamsim(pretrained=True, device="cpu")

        class Embed(nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                return self.m.embed(x)
        return Embed(model), 224, CLIP  # DreamSim normalises inside; the sidecar's mean/std is CLIP's
    if name == "resnet50_radimagenet" or name == "resnet50_fractal":
        m = resnet50_trunk()
        if not random_weights:
            if not weights:
                sys.exit(f"{name}: pass --weights <state dict file>")
            load_state(m, weights)
        return m, 224, IMAGENET
    if name == "swin_t_radimagenet":
        m = swin_t_trunk()
        if not random_weights:
            if not weights:
                sys.exit(f"{name}: pass --weights <state dict file>")
            load_state(m, weights)
        return m, 224, IMAGENET
    if name == "biomedclip":
        if random_weights:
            return vit(16, 768, 12, 12), 224, CLIP
        import open_clip
        model, _, _ = open_clip.create_model_and_transforms(
            "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224")
        return model.visual, 224, CLIP
    sys.exit(f"unknown model {name}")


def export(name, out_dir, random_weights, weights, seed):
    torch.manual_seed(seed)
    model, size, (mean, std) = build(name, random_weights, weights)
    model.eval()
    example = torch.randn(1, 3, size, size)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
        path = f"{out_dir}/{name}.pt"
        dim = int(traced(example).reshape(1, -1).shape[1])
    traced.save(path)
    sidecar = {
        "format": "voxir-model/1",
        "name": name + (" (random weights)" if random_weights else ""),
        "input": {"width": size, "height": size, "channels": 3},
        "windows": [[-1000, 1000]],
        "mean": mean,
        "std": std,
        "output": {"dim": dim, "index": 0, "pooling": "none"},
    }
    with open(path + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)
    print(f"{path}: {dim}-d, input {size}x{size}x3")


def forward(model_path, input_path, shape, output_path):
    import numpy as np
    dims = [int(s) for s in shape.split(",")]
    x = torch.from_numpy(np.fromfile(input_path, dtype="<f4").reshape(dims))
    model = torch.jit.load(model_path)
    model.eval()
    with torch.no_grad():
        y = model(x)
    y.reshape(dims[0], -1).numpy().astype("<f4").tofile(output_path)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "forward":
        if len(sys.argv) != 6:
            sys.exit("usage: export_models.py forward <model.pt> <in.f32> <N,C,H,W> <out.f32>")
        forward(*sys.argv[2:6])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--random-weights", action="store_true", help="torchvision architectures, random weights")
    ap.add_argument("--weights", help="state dict file for models that need one")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import os
    os.makedirs(args.out, exist_ok=True)
    for name in args.models:
        export(name, args.out, args.random_weights, args.weights, args.seed)


if __name__ == "__main__":
    main()
