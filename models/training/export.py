"""ONNX export of the inference graph, with the model's identity as metadata."""

import copy
from pathlib import Path

import onnx
import torch

from model import KneeKLExport


def export_onnx(net, temperature: float, cfg: dict, path: Path) -> None:
    graph = KneeKLExport(copy.deepcopy(net).eval(), temperature).eval()
    size = cfg["input"]["size"]
    dummy = torch.zeros(1, 1, size, size)
    torch.onnx.export(
        graph,
        dummy,
        str(path),
        input_names=["image"],
        output_names=["probabilities", "logits", "cam"],
        dynamic_axes={name: {0: "batch"} for name in ("image", "probabilities", "logits", "cam")},
        opset_version=13,
        do_constant_folding=True,
    )
    model = onnx.load(str(path))
    for key, value in (
        ("name", cfg["modelName"]),
        ("version", cfg["modelVersion"]),
        ("temperature", f"{temperature:.6f}"),
        ("input_mean", str(cfg["input"]["mean"])),
        ("input_std", str(cfg["input"]["std"])),
    ):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.model_version = int(cfg["modelVersion"].split(".")[0])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
