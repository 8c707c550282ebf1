"""Train the KL grading network, calibrate it on val and export ONNX.

Usage (from the repository root; `npm run train` does this):
    /usr/bin/python3 models/training/train.py [--config models/training/config.json]
        [--out models/knee-kl] [--smoke]

`--smoke` trains one step on a handful of images and exports to --out; CI uses
it to prove the code runs, not to make a model.
"""

import argparse
import copy
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from augment import augment_batch  # noqa: E402
from data import load_split, normalise  # noqa: E402
from export import export_onnx  # noqa: E402
from metrics import summarise  # noqa: E402
from model import build_net  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weights(labels: torch.Tensor, power: float) -> torch.Tensor:
    counts = torch.bincount(labels, minlength=5).float().clamp(min=1)
    weights = (counts.sum() / counts) ** power
    return weights / (weights * counts).sum() * counts.sum()


@torch.no_grad()
def predict_logits(net, pixels, cfg, batch_size=128) -> torch.Tensor:
    net.eval()
    chunks = []
    for start in range(0, len(pixels), batch_size):
        x = normalise(pixels[start : start + batch_size], cfg["input"]["mean"], cfg["input"]["std"])
        chunks.append(net(x))
    return torch.cat(chunks)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature scaling (Guo et al. 2017): one scalar minimising val NLL."""
    log_t = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        optimiser.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.exp().item())


def ordinal_cost(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Expected squared grade error under the predicted distribution, class weighted.

    Quadratic weighted kappa penalises a miss by the square of its distance;
    cross-entropy alone treats calling a KL0 knee KL4 like calling it KL1.
    """
    grades = torch.arange(logits.shape[1], dtype=logits.dtype)
    distance = (grades.view(1, -1) - labels.view(-1, 1).to(logits.dtype)) ** 2
    cost = (torch.softmax(logits, dim=1) * distance).sum(dim=1)
    sample_weights = weights[labels]
    return (cost * sample_weights).sum() / sample_weights.sum()


def fit_head(state: dict, net) -> tuple[dict, str | None]:
    """Start weights for `net` from a state trained at another input size.

    The convolutions do not depend on the input size; a spatial head does (one
    weight per cell of the last map). Its weights are resampled bilinearly to the
    new map and scaled by the ratio of the cell counts, so each grade's logit,
    a sum over the cells, keeps its size when the map grows. Returns the state
    and a note of the resampling (None when the shapes already agree).
    """
    key = "classifier.weight"
    wanted = net.state_dict()[key].shape
    if state[key].shape == wanted:
        return state, None
    if net.head != "spatial":
        raise SystemExit(f"start weights have a {tuple(state[key].shape)} head; this network needs {tuple(wanted)}")
    channels, height, width = net.map_shape
    cells = state[key].shape[1] // channels
    side = int(round(math.sqrt(cells)))
    if side * side * channels != state[key].shape[1]:
        raise SystemExit(f"start weights' head ({tuple(state[key].shape)}) is not a square map of {channels} channels")
    grid = state[key].view(-1, channels, side, side)
    resized = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)
    state = dict(state)
    state[key] = (resized * (side * side) / (height * width)).reshape(wanted).contiguous()
    return state, f"{side}x{side} to {height}x{width}"


def update_ema(ema, net, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.state_dict().values(), net.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(decay).add_(p, alpha=1 - decay)
            else:
                e.copy_(p)


def learning_rate(step: int, total: int, peak: float, warmup: float) -> float:
    warm = max(1, int(total * warmup))
    if step < warm:
        return peak * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default=str(ROOT / "models/training/config.json"))
    parser.add_argument("--out", default=str(ROOT / "models/knee-kl"))
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--limit", type=int, help="use at most this many train images (experiments)")
    parser.add_argument(
        "--from-weights",
        help="skip training: calibrate, export and report these weights (e.g. after an inference setting changed)",
    )
    parser.add_argument(
        "--init-weights",
        help="start training from these weights (a warm restart of the schedule) instead of a random init",
    )
    args = parser.parse_args()

    cfg = json.loads(Path(args.config).read_text())
    tcfg = cfg["train"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg["seed"])
    torch.set_num_threads(tcfg["threads"])
    # Denormal floats (tiny Adam moments, late in training) make CPU kernels many times slower.
    torch.set_flush_denormal(True)
    size = cfg["input"]["size"]
    limit = 40 if args.smoke else None

    train_x, train_y, _ = load_split(str(ROOT / cfg["data"]["train"]), size, limit or args.limit)
    val_x, val_y, _ = load_split(str(ROOT / cfg["data"]["val"]), size, limit)
    epochs = 0 if args.from_weights else 1 if args.smoke else tcfg["epochs"]
    steps_per_epoch = 1 if args.smoke else len(train_x) // tcfg["batchSize"]
    total_steps = max(1, epochs * steps_per_epoch)

    net = build_net(cfg)
    warm = tcfg.get("warmStart")
    if warm is not None and not (args.init_weights or args.from_weights or args.smoke):
        parser.error(
            f"this recipe starts from the weights of {warm['from']}: train {warm['config']} first "
            "and pass its model.pt with --init-weights"
        )
    initialised_from = None
    if args.init_weights:
        state, resampled = fit_head(torch.load(args.init_weights, map_location="cpu"), net)
        net.load_state_dict(state)
        digest = hashlib.sha256(Path(args.init_weights).read_bytes()).hexdigest()
        initialised_from = {"file": Path(args.init_weights).name, "sha256": digest}
        if resampled is not None:
            initialised_from["headResampled"] = resampled
    ema = copy.deepcopy(net)
    weights = class_weights(train_y, tcfg["classWeightPower"])
    optimiser = torch.optim.AdamW(
        net.parameters(), lr=tcfg["learningRate"], weight_decay=tcfg["weightDecay"]
    )
    previous = {}
    if args.from_weights:
        ema.load_state_dict(torch.load(args.from_weights, map_location="cpu"))
        if (out / "metrics.json").exists():
            previous = json.loads((out / "metrics.json").read_text())
    log_path = out / "training-log.jsonl"
    # Weights given: the log of the run that made them stays as it is.
    log = open(os.devnull, "w") if args.from_weights else log_path.open("w")
    generator = torch.Generator().manual_seed(cfg["seed"])
    best = {"qwk": -1.0, "epoch": previous.get("selectedEpoch")}
    best_state = copy.deepcopy(ema.state_dict())
    step = 0
    started = time.time()

    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(train_x), generator=generator)
        running = 0.0
        for index in range(steps_per_epoch):
            batch = order[index * tcfg["batchSize"] : (index + 1) * tcfg["batchSize"]]
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(
                    step, total_steps, tcfg["learningRate"], tcfg["warmupFraction"]
                )
            x = normalise(
                augment_batch(train_x[batch], cfg["augment"], generator),
                cfg["input"]["mean"],
                cfg["input"]["std"],
            )
            logits = net(x)
            loss = F.cross_entropy(
                logits, train_y[batch], weight=weights, label_smoothing=tcfg["labelSmoothing"]
            ) + tcfg.get("ordinalWeight", 0.0) * ordinal_cost(logits, train_y[batch], weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            # The average starts short and lengthens, so early epochs are not dominated by the random init.
            decay = 0.0 if args.smoke else min(tcfg["emaDecay"], (1 + step) / (10 + step))
            update_ema(ema, net, decay)
            running += loss.item()
            step += 1
            if step % 50 == 0:
                print(json.dumps({"step": step, "loss": round(loss.item(), 4)}), flush=True)

        logits = predict_logits(ema, val_x, cfg)
        summary = summarise(torch.softmax(logits, 1).numpy(), val_y.numpy())
        record = {
            "epoch": epoch + 1,
            "loss": running / steps_per_epoch,
            "val_accuracy": summary["accuracy"],
            "val_qwk": summary["qwk"],
            "val_auc_kl2": summary["auc_kl2"],
            "val_recall": summary["recall"],
            "seconds": round(time.time() - started, 1),
        }
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(json.dumps(record), flush=True)
        if summary["qwk"] > best["qwk"]:
            best = {"qwk": summary["qwk"], "epoch": epoch + 1}
            best_state = copy.deepcopy(ema.state_dict())

    ema.load_state_dict(best_state)
    logits = predict_logits(ema, val_x, cfg)
    uncalibrated = summarise(torch.softmax(logits, 1).numpy(), val_y.numpy())
    temperature = fit_temperature(logits, val_y)
    calibrated = summarise(torch.softmax(logits / temperature, 1).numpy(), val_y.numpy())

    torch.save(ema.state_dict(), out / "model.pt")
    export_onnx(ema, temperature, cfg, out / "model.onnx")
    onnx_sha = hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    manifest = {
        "name": cfg["modelName"],
        "version": cfg["modelVersion"],
        "file": "model.onnx",
        "sha256": onnx_sha,
        "input": {"name": "image", "channels": 1, **cfg["input"]},
        "outputs": {"probabilities": "probabilities", "logits": "logits", "cam": "cam"},
        "grades": [0, 1, 2, 3, 4],
        "temperature": temperature,
        "smoke": args.smoke,
    }
    (out / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    metrics = {
        "model": f"{cfg['modelName']}@{cfg['modelVersion']}",
        "split": "val",
        "selectedEpoch": best.get("epoch"),
        "epochs": previous.get("epochs", epochs) if args.from_weights else epochs,
        "temperature": temperature,
        "initialisedFrom": previous.get("initialisedFrom") if args.from_weights else initialised_from,
        **calibrated,
        "ece_uncalibrated": uncalibrated["ece"],
        "trainingSeconds": previous.get("trainingSeconds")
        if args.from_weights
        else round(time.time() - started, 1),
        "torch": torch.__version__,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    log.close()
    print(json.dumps({k: metrics[k] for k in ("accuracy", "qwk", "auc_kl2", "mae", "ece")}))
    if not args.smoke:
        # metrics.json with the reliability table and card.md, from the saved weights. The
        # int8 build of new weights is `npm run quantize` (it measures in ONNX Runtime).
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("report.py")), "--out", str(out), "--config", args.config],
            check=True,
        )


if __name__ == "__main__":
    main()
