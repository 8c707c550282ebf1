"""Train the laterality model: which knee (left or right) a frontal knee crop shows.

Used only when the DICOM header says nothing (no Image Laterality, no Laterality). Labels come
from the file names of the knee-kl dataset (`<id>L.png`, `<id>R.png`). A horizontal flip turns a
right knee into a left one, so every training image is also shown flipped with the label
swapped: the model cannot lean on anything but the anatomy's asymmetry (the fibula is lateral).

Usage (from the repository root):
    /usr/bin/python3 models/training/laterality.py [--out models/knee-kl] [--smoke]

Writes laterality.onnx and laterality.json (input spec, SHA-256, val accuracy) to --out.
"""

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import load_split, normalise  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "name": "jointspace-knee-laterality",
    "version": "1.0.0",
    "seed": 20261203,
    "size": 64,
    "mean": 0.5,
    "std": 0.25,
    "epochs": 3,
    "batchSize": 64,
    "learningRate": 0.002,
    "maxShift": 4,
}
LABELS = ["L", "R"]


def build_net() -> nn.Module:
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, 16), nn.MaxPool2d(2),
        *block(16, 32), nn.MaxPool2d(2),
        *block(32, 64), nn.MaxPool2d(2),
        *block(64, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 2),
    )


class Export(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def labels_of(paths):
    return torch.tensor([1 if Path(p).stem.upper().endswith("R") else 0 for p in paths])


def shift(batch: torch.Tensor, generator: torch.Generator, limit: int) -> torch.Tensor:
    """Random whole-pixel translation of each image, edges replicated."""
    out = torch.empty_like(batch)
    padded = F.pad(batch.float(), (limit,) * 4, mode="replicate")
    size = batch.shape[-1]
    offsets = torch.randint(0, 2 * limit + 1, (batch.shape[0], 2), generator=generator)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        out[i] = padded[i, :, dy : dy + size, dx : dx + size]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "models/knee-kl"))
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    cfg = CONFIG
    torch.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"])
    torch.set_num_threads(1)
    limit = 64 if args.smoke else None
    size = cfg["size"]
    train_x, _, train_paths = load_split(str(ROOT / "../shared/data/knee-kl/train"), size, limit)
    val_x, _, val_paths = load_split(str(ROOT / "../shared/data/knee-kl/val"), size, limit)
    train_y, val_y = labels_of(train_paths), labels_of(val_paths)
    # Every image and its mirror image, with the side swapped.
    train_x = torch.cat([train_x, torch.flip(train_x, dims=[3])])
    train_y = torch.cat([train_y, 1 - train_y])

    net = build_net()
    optimiser = torch.optim.AdamW(net.parameters(), lr=cfg["learningRate"], weight_decay=0.01)
    epochs = 1 if args.smoke else cfg["epochs"]
    steps = (len(train_x) + cfg["batchSize"] - 1) // cfg["batchSize"]
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=cfg["learningRate"], total_steps=epochs * steps
    )
    generator = torch.Generator().manual_seed(cfg["seed"])
    started = time.time()
    log = []
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(train_x), generator=generator)
        for index in range(steps):
            batch = order[index * cfg["batchSize"] : (index + 1) * cfg["batchSize"]]
            x = normalise(shift(train_x[batch], generator, cfg["maxShift"]), cfg["mean"], cfg["std"])
            loss = F.cross_entropy(net(x), train_y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
        accuracy = evaluate(net, val_x, val_y, cfg)
        record = {"epoch": epoch + 1, "loss": round(loss.item(), 4), "val_accuracy": accuracy,
                  "seconds": round(time.time() - started, 1)}
        log.append(record)
        print(json.dumps(record), flush=True)

    net.eval()
    flipped = evaluate(net, torch.flip(val_x, dims=[3]), 1 - val_y, cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "laterality.onnx"
    torch.onnx.export(
        Export(net).eval(), torch.zeros(1, 1, size, size), str(path),
        input_names=["image"], output_names=["probabilities"],
        dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=13,
    )
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    manifest = {
        "name": cfg["name"],
        "version": cfg["version"],
        "file": "laterality.onnx",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "input": {"name": "image", "size": size, "mean": cfg["mean"], "std": cfg["std"]},
        "labels": LABELS,
        "val": {"n": len(val_y), "accuracy": log[-1]["val_accuracy"], "accuracyFlipped": flipped},
        "training": {**cfg, "epochs": epochs, "log": log, "torch": torch.__version__},
        "smoke": args.smoke,
    }
    (out / "laterality.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["val"]))


@torch.no_grad()
def evaluate(net, x, y, cfg) -> float:
    net.eval()
    predictions = torch.cat(
        [net(normalise(x[i : i + 256], cfg["mean"], cfg["std"])).argmax(1) for i in range(0, len(x), 256)]
    )
    return float((predictions == y).float().mean().item())


if __name__ == "__main__":
    main()
