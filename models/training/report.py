"""Val figures and the model card for a trained model.

Recomputes the val metrics of models/knee-kl/model.pt (calibrated with the
temperature in model.json, and uncalibrated for comparison), writes
metrics.json and renders card.md from card-template.md, so the card's
figures always come from the shipped weights.

    /usr/bin/python3 models/training/report.py [--out models/knee-kl]
"""

import argparse
import json
import sys
from pathlib import Path
from string import Template

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import load_split, normalise  # noqa: E402
from metrics import summarise  # noqa: E402
from model import build_net  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


@torch.no_grad()
def val_logits(net, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    pixels, labels, _ = load_split(str(ROOT / cfg["data"]["val"]), cfg["input"]["size"])
    net.eval()
    chunks = []
    for start in range(0, len(pixels), 128):
        chunks.append(net(normalise(pixels[start : start + 128], cfg["input"]["mean"], cfg["input"]["std"])))
    return torch.cat(chunks), labels


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def tables(metrics: dict) -> dict:
    confusion = metrics["confusion"]
    header = "| reference \\ predicted | KL0 | KL1 | KL2 | KL3 | KL4 | recall |\n|---|---|---|---|---|---|---|\n"
    rows = "".join(
        f"| KL{g} | " + " | ".join(str(c) for c in row) + f" | {percent(metrics['recall'][g])} |\n"
        for g, row in enumerate(confusion)
    )
    predicted = [sum(row[g] for row in confusion) for g in range(5)]
    precision = [confusion[g][g] / predicted[g] if predicted[g] else float("nan") for g in range(5)]
    per_grade = "| grade | val knees | recall | precision |\n|---|---|---|---|\n" + "".join(
        f"| KL{g} | {sum(confusion[g])} | {percent(metrics['recall'][g])} | {percent(precision[g])} |\n"
        for g in range(5)
    )
    reliability = "| confidence bin | knees | mean confidence | accuracy |\n|---|---|---|---|\n" + "".join(
        f"| {r['from']:.2f}–{r['to']:.2f} | {r['count']} | {r['confidence']:.3f} | {r['accuracy']:.3f} |\n"
        for r in metrics["reliability"]
    )
    return {"confusion_table": header + rows, "per_grade_table": per_grade, "reliability_table": reliability}


# The floor this project set itself: at least DeepKnee (Tiulpin 2018) on its own test set.
TARGETS = {"accuracy": 0.66, "qwk": 0.83, "auc_kl2": 0.93}


def targets_paragraph(metrics: dict) -> str:
    missed = [f"{key} {metrics[key]:.3f} < {floor}" for key, floor in TARGETS.items() if metrics[key] < floor]
    if not missed:
        return "This model meets the project's floor (accuracy 0.66, QWK 0.83, AUC 0.93, as DeepKnee)."
    return (
        "**This model does not yet meet the project's floor** (accuracy 0.66, QWK 0.83, AUC 0.93, "
        "as DeepKnee): " + "; ".join(missed) + ". See Limitations."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default=str(HERE / "config.json"))
    parser.add_argument("--out", default=str(ROOT / "models/knee-kl"))
    args = parser.parse_args()
    out = Path(args.out)
    torch.set_num_threads(2)

    cfg = json.loads(Path(args.config).read_text())
    manifest = json.loads((out / "model.json").read_text())
    previous = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else {}
    net = build_net(cfg)
    net.load_state_dict(torch.load(out / "model.pt", map_location="cpu"))
    logits, labels = val_logits(net, cfg)
    bins = cfg["calibration"]["bins"]
    temperature = manifest["temperature"]
    raw = summarise(torch.softmax(logits, 1).numpy(), labels.numpy(), bins)
    calibrated = summarise(torch.softmax(logits / temperature, 1).numpy(), labels.numpy(), bins)

    metrics = {
        "model": f"{manifest['name']}@{manifest['version']}",
        "sha256": manifest["sha256"],
        "split": "val",
        "selectedEpoch": previous.get("selectedEpoch"),
        "epochs": previous.get("epochs"),
        "initialisedFrom": previous.get("initialisedFrom"),
        "trainingSeconds": previous.get("trainingSeconds"),
        "temperature": temperature,
        **calibrated,
        "ece_uncalibrated": raw["ece"],
        "parameters": sum(p.numel() for p in net.parameters()),
        "torch": torch.__version__,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    values = {
        "model": metrics["model"],
        "sha256": manifest["sha256"],
        "parameters": f"{metrics['parameters']:,}",
        "accuracy": f"{metrics['accuracy']:.3f}",
        "qwk": f"{metrics['qwk']:.3f}",
        "mae": f"{metrics['mae']:.3f}",
        "auc_kl2": f"{metrics['auc_kl2']:.3f}",
        "ece": f"{metrics['ece']:.3f}",
        "ece_uncalibrated": f"{metrics['ece_uncalibrated']:.3f}",
        "temperature": f"{temperature:.3f}",
        "epochs": str(metrics["epochs"]),
        "selected_epoch": str(metrics["selectedEpoch"]),
        "training_minutes": f"{(metrics['trainingSeconds'] or 0) / 60:.0f}",
        "config": json.dumps(cfg, indent=2),
        "input_size": str(cfg["input"]["size"]),
        "ordinal_weight": f"{cfg['train'].get('ordinalWeight', 0.0):g}",
        "inference": (
            "the logits of the image and of its mirror image are averaged inside the graph "
            "(the heat map likewise, mirrored back), which added 0.015 accuracy and 0.009 kappa "
            "on val for the same weights; inference costs two passes"
            if cfg.get("inference", {}).get("flipAverage", False)
            else "one pass over the image as given"
        ),
        "targets": targets_paragraph(metrics),
        "int8": int8_paragraph(manifest, metrics),
        "start": start_sentence(cfg, metrics),
        "reproduce": reproduce_sentence(cfg),
        "map_size": " x ".join(str(n) for n in net.map_shape[1:]),
        **tables(metrics),
    }
    template = Template((HERE / "card-template.md").read_text())
    (out / "card.md").write_text(template.substitute(values))
    print(json.dumps({k: metrics[k] for k in ("accuracy", "qwk", "mae", "auc_kl2", "ece", "ece_uncalibrated")}))


def warm_chain(cfg: dict) -> list[tuple[str, dict]]:
    """The configurations from the from-scratch run to this one, following `warmStart`."""
    chain = [("models/training/config.json", cfg)]
    while (warm := chain[0][1]["train"].get("warmStart")) is not None:
        chain.insert(0, (warm["config"], json.loads((ROOT / warm["config"]).read_text())))
    return chain


def start_sentence(cfg: dict, metrics: dict) -> str:
    """How the weights started: from scratch, or warm restarts from earlier versions."""
    warm = cfg["train"].get("warmStart")
    if warm is None or metrics.get("initialisedFrom") is None:
        return "Trained from scratch (no pretrained weights can be downloaded on the build machines)"
    chain = warm_chain(cfg)
    steps = [f"{c['modelVersion']} ({c['input']['size']} px)" for _, c in chain]
    sentence = (
        f"Started from the weights of {warm['from']} and trained again with a new warm-up and cosine "
        f"schedule at a lower peak learning rate; the line of versions is {' → '.join(steps)}, the "
        "first trained from scratch (no pretrained weights can be downloaded on the build machines)"
    )
    resampled = (metrics.get("initialisedFrom") or {}).get("headResampled")
    if resampled is not None:
        sentence += (
            f". The input grew from {chain[-2][1]['input']['size']} to {cfg['input']['size']} px, so "
            f"the last map grew too: the head's weights were resampled bilinearly ({resampled}) and "
            "scaled by the ratio of cell counts, and the convolutions kept as they were"
        )
    return sentence


def reproduce_sentence(cfg: dict) -> str:
    chain = warm_chain(cfg)
    if len(chain) == 1:
        return "`npm run train` (seeded; log in `training-log.jsonl`)"
    commands = []
    for index, (path, _) in enumerate(chain):
        start = "" if index == 0 else f" --init-weights /tmp/step{index}/model.pt"
        out = " --out models/knee-kl" if index == len(chain) - 1 else f" --out /tmp/step{index + 1}"
        commands.append(f"`npm run train -- --config {path}{start}{out}`")
    return (
        ", then ".join(commands)
        + " (each seeded; the last run's log is `training-log.jsonl`; each start's SHA-256 is in "
        "the configuration that uses it)"
    )


def int8_paragraph(manifest: dict, metrics: dict) -> str:
    """The int8 build's cost on val, from what quantize.py measured."""
    variant = (manifest.get("variants") or {}).get("int8")
    if variant is None:
        return "No int8 build accompanies these weights (`npm run quantize` makes one)."
    val = variant["val"]
    calibration = variant["calibration"]
    measured = val.get("measuredWith", "PyTorch's simulation of the int8 arithmetic")
    return (
        f"`{variant['file']}` (SHA-256 `{variant['sha256']}`), made by `npm run quantize`: the "
        "convolutions' weights in int8 per output channel, activations in uint8 per tensor "
        f"(ranges from {calibration['images']} train images and their mirror images, 0.01–99.99th "
        "percentiles), the head in float. Chosen with `JOINTSPACE_PRECISION=int8`; results then "
        f"name `{manifest['name']}@{manifest['version']}+int8`. On val, measured with {measured}, it gives the float graph's "
        f"grade for {val['gradeAgreement'] * 100:.1f} % of knees (largest probability difference "
        f"{val['maxProbabilityDifference']:.3f}): accuracy {val['accuracy']:.3f} "
        f"({metrics['accuracy']:.3f} in float), kappa {val['qwk']:.3f} ({metrics['qwk']:.3f}), "
        f"AUC {val['auc_kl2']:.3f} ({metrics['auc_kl2']:.3f}), MAE {val['mae']:.3f} "
        f"({metrics['mae']:.3f}), ECE {val['ece']:.3f} ({metrics['ece']:.3f}). The float graph is "
        "the reference: only it is held to PyTorch within 1e-4."
    )


if __name__ == "__main__":
    main()
