"""ONNX export of the inference graph, with the model's identity as metadata."""

import copy
from collections.abc import Callable
from pathlib import Path

import onnx
import torch

from model import KneeKLExport


def export_onnx(net, temperature: float, cfg: dict, path: Path) -> None:
    """The float inference graph of `net` (a copy; `net` is left as it is)."""
    write_onnx(KneeKLExport(copy.deepcopy(net).eval(), temperature).eval(), temperature, cfg, path)


def write_onnx(
    graph: torch.nn.Module,
    temperature: float,
    cfg: dict,
    path: Path,
    precision: str = "float32",
    transform: Callable[[onnx.ModelProto], None] | None = None,
) -> None:
    """Exports an inference graph (a KneeKLExport) with the model's identity as metadata.

    `transform` edits the exported model before it is checked and saved (the int8
    build folds its weight quantisers there); a build other than float32 names its
    precision in the metadata.
    """
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
    if transform is not None:
        transform(model)
    metadata = [("name", cfg["modelName"]), ("version", cfg["modelVersion"])]
    if precision != "float32":
        metadata.append(("precision", precision))
    metadata += [
        ("temperature", f"{temperature:.6f}"),
        ("input_mean", str(cfg["input"]["mean"])),
        ("input_std", str(cfg["input"]["std"])),
    ]
    for key, value in metadata:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.model_version = int(cfg["modelVersion"].split(".")[0])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
