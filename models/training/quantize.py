"""Post-training int8 quantisation of the KL grading network for CPU inference.

Usage (from the repository root): `npm run quantize` runs this, then measures
both graphs in ONNX Runtime (scripts/quantize.ts), then writes the card.
    /usr/bin/python3 models/training/quantize.py [--model-dir models/knee-kl]
        [--config models/training/config.json] [--calibration 512]

Reads `model.pt`, folds each batch normalisation into its convolution, and
marks where ONNX Runtime may compute in 8 bits with QuantizeLinear /
DequantizeLinear pairs (the "QDQ" format): convolution weights as int8 per
output channel, activations as uint8 per tensor. ONNX Runtime fuses each
DequantizeLinear -> Conv (-> Relu) -> QuantizeLinear group into one integer
convolution, and the residual additions into integer additions. The head (the
linear layer, the class activation maps, the softmax) stays in float.

Activation ranges come from `--calibration` train images and their mirror
images, never from val. The simulated int8 network is then run on val next
to the float one and the comparison is written to `model.json`
(`variants.int8.val`; scripts/quantize.ts replaces it with what ONNX Runtime
measures and keeps this one as `simulated`).

The float graph stays the reference: its parity with PyTorch is tested to
1e-4; the int8 graph's is not, by construction.
"""

import argparse
import copy
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import load_split, normalise  # noqa: E402
from export import write_onnx  # noqa: E402
from metrics import summarise  # noqa: E402
from model import KneeKLExport, KneeKLNet, build_net  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
UINT8 = (0, 255)
INT8 = (-128, 127)  # symmetric: the scale maps the largest weight to 127, so -128 is unused


class Observed(nn.Module):
    """A uint8 quantisation point: samples values while calibrating, then fake-quantises.

    The range runs from the 0.01th to the 99.99th percentile of the sampled
    values (plain min/max lets a few outliers coarsen every step), widened to
    contain 0 so that 0 (padding, a ReLU's floor) is exact. A point that follows
    a ReLU starts at 0 and its zero point is 0, which lets ONNX Runtime drop the
    ReLU into the integer convolution before it.
    """

    SAMPLES_PER_BATCH = 8192
    TAIL = 1e-4

    def __init__(self) -> None:
        super().__init__()
        self.calibrating = True
        self.samples: list[torch.Tensor] = []
        self.low = 0.0
        self.high = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.calibrating:
            flat = x.detach().flatten()
            pick = torch.randint(0, flat.numel(), (self.SAMPLES_PER_BATCH,))
            self.samples.append(flat[pick])
            return x
        scale, zero_point = self.parameters_uint8()
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, *UINT8)

    def finish(self) -> None:
        values = torch.cat(self.samples)
        self.low = min(0.0, float(torch.quantile(values, self.TAIL)))
        self.high = max(0.0, float(torch.quantile(values, 1 - self.TAIL)))
        self.samples = []

    def parameters_uint8(self) -> tuple[float, int]:
        scale = max(self.high - self.low, 1e-8) / (UINT8[1] - UINT8[0])
        return scale, int(round(-self.low / scale))


class QuantConv(nn.Module):
    """A convolution (batch norm folded in) whose weight is int8 per output channel."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        fused = fuse_conv_bn_eval(conv, bn)
        self.stride, self.padding = fused.stride, fused.padding
        weight = fused.weight.detach()
        scale = (weight.abs().amax(dim=(1, 2, 3)) / 127).clamp(min=1e-12)
        self.register_buffer("weight", weight)
        self.register_buffer("bias", fused.bias.detach())
        self.register_buffer("weight_scale", scale)
        self.register_buffer("weight_zero", torch.zeros_like(scale, dtype=torch.int32))
        self.calibrating = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        if not self.calibrating:
            weight = torch.fake_quantize_per_channel_affine(
                weight, self.weight_scale, self.weight_zero, 0, *INT8
            )
        return nn.functional.conv2d(x, weight, self.bias, self.stride, self.padding)


class QuantBlock(nn.Module):
    def __init__(self, block) -> None:
        super().__init__()
        self.conv1 = QuantConv(block.conv1, block.bn1)
        self.act1 = Observed()
        self.conv2 = QuantConv(block.conv2, block.bn2)
        self.out2 = Observed()
        self.shortcut = None
        self.out_skip = None
        if block.shortcut is not None:
            self.shortcut = QuantConv(block.shortcut[0], block.shortcut[1])
            self.out_skip = Observed()
        self.out = Observed()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(torch.relu(self.conv1(x)))
        y = self.out2(self.conv2(y))
        skip = x if self.shortcut is None else self.out_skip(self.shortcut(x))
        return self.out(torch.relu(y + skip))


class QuantFeatures(nn.Module):
    """KneeKLNet.feature_map with quantisation points; the input is quantised too."""

    def __init__(self, net: KneeKLNet) -> None:
        super().__init__()
        self.input = Observed()
        self.stem = QuantConv(net.stem[0], net.stem[1])
        self.stem_act = Observed()
        self.pool = net.stem[3]
        self.blocks = nn.Sequential(*[QuantBlock(block) for block in net.features])
        # The last map feeds the float head (and the activation maps): it stays float.
        self.blocks[-1].out = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem_act(torch.relu(self.stem(self.input(x))))
        return self.blocks(self.pool(y))


def quantised_net(net: KneeKLNet) -> KneeKLNet:
    """A copy of `net` whose feature extractor runs through QuantFeatures."""
    quantised = copy.deepcopy(net).eval()
    features = QuantFeatures(quantised)
    quantised.feature_map = features.forward  # type: ignore[method-assign]
    quantised.quant_features = features  # registered, so buffers travel with the module
    return quantised


def set_calibrating(module: nn.Module, calibrating: bool) -> None:
    for child in module.modules():
        if isinstance(child, (Observed, QuantConv)):
            if isinstance(child, Observed) and child.calibrating and not calibrating:
                child.finish()
            child.calibrating = calibrating


@torch.no_grad()
def calibrate(net: KneeKLNet, pixels: torch.Tensor, cfg: dict, batch_size: int = 64) -> None:
    set_calibrating(net, True)
    for start in range(0, len(pixels), batch_size):
        x = normalise(pixels[start : start + batch_size], cfg["input"]["mean"], cfg["input"]["std"])
        net.feature_map(x)
        net.feature_map(torch.flip(x, dims=[3]))
    set_calibrating(net, False)


@torch.no_grad()
def probabilities(net: KneeKLNet, pixels: torch.Tensor, cfg: dict, temperature: float) -> np.ndarray:
    net.eval()
    chunks = []
    for start in range(0, len(pixels), 128):
        x = normalise(pixels[start : start + 128], cfg["input"]["mean"], cfg["input"]["std"])
        chunks.append(torch.softmax(net(x) / temperature, dim=1))
    return torch.cat(chunks).numpy()


def fold_weight_quantisers(model: onnx.ModelProto) -> int:
    """Replaces QuantizeLinear over a constant weight by the int8 constant it computes.

    The export writes Q(weight) -> DQ; ONNX Runtime expects DQ over an int8
    initializer to recognise a quantised weight. Returns the number folded.
    """
    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:  # topological order: an Identity's input is known before it
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in constants:
            # The exporter shares a weight used by both passes (image, mirror) through Identity.
            constants[node.output[0]] = constants[node.input[0]]
    folded = 0
    kept = []
    for node in graph.node:
        if node.op_type == "QuantizeLinear" and all(name in constants for name in node.input):
            value, scale, zero = (constants[name] for name in node.input)
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            shape = [1] * value.ndim
            if scale.ndim == 1:
                shape[axis] = -1
            info = np.iinfo(zero.dtype)
            quantised = np.clip(
                np.rint(value / scale.reshape(shape)) + zero.reshape(shape).astype(np.int64),
                info.min,
                info.max,
            ).astype(zero.dtype)
            graph.initializer.append(numpy_helper.from_array(quantised, node.output[0]))
            folded += 1
            continue
        kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    # Constants, Identity nodes and float weights only the folded nodes used are now dead;
    # removing a dead Identity may kill the constant before it, hence the loop.
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        alive = [
            node
            for node in graph.node
            if node.op_type not in ("Constant", "Identity") or node.output[0] in used
        ]
        if len(alive) == len(graph.node):
            break
        del graph.node[:]
        graph.node.extend(alive)
    live = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    return folded


def export_int8(net: KneeKLNet, temperature: float, cfg: dict, path: Path) -> None:
    def fold(model: onnx.ModelProto) -> None:
        if fold_weight_quantisers(model) == 0:
            raise SystemExit("no quantised weight found in the exported graph")

    write_onnx(KneeKLExport(net, temperature).eval(), temperature, cfg, path, precision="int8", transform=fold)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default=str(ROOT / "models/knee-kl"))
    parser.add_argument("--config", default=str(ROOT / "models/training/config.json"))
    parser.add_argument("--calibration", type=int, default=512, help="train images for the ranges")
    parser.add_argument("--smoke", action="store_true", help="a few images only (CI)")
    args = parser.parse_args()

    started = time.time()
    directory = Path(args.model_dir)
    cfg = json.loads(Path(args.config).read_text())
    manifest = json.loads((directory / "model.json").read_text())
    if manifest["version"] != cfg["modelVersion"]:
        raise SystemExit(
            f"{directory}/model.json is version {manifest['version']}, the config {cfg['modelVersion']}"
        )
    torch.set_num_threads(cfg["train"]["threads"])
    torch.manual_seed(cfg["seed"])
    size = cfg["input"]["size"]
    temperature = float(manifest["temperature"])

    net = build_net(cfg)
    net.load_state_dict(torch.load(directory / "model.pt", map_location="cpu"))
    net.eval()
    quantised = quantised_net(net)
    calibration = 24 if args.smoke else args.calibration
    train_x, _, _ = load_split(str(ROOT / cfg["data"]["train"]), size, calibration)
    calibrate(quantised, train_x, cfg)

    val_x, val_y, _ = load_split(str(ROOT / cfg["data"]["val"]), size, 40 if args.smoke else None)
    reference = probabilities(net, val_x, cfg, temperature)
    approximate = probabilities(quantised, val_x, cfg, temperature)
    summary = summarise(approximate, val_y.numpy())

    target = directory / "model.int8.onnx"
    export_int8(quantised, temperature, cfg, target)
    variant = {
        "file": target.name,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "calibration": {"split": "train", "images": len(train_x), "mirrored": True},
        "val": {
            "n": len(val_y),
            "gradeAgreement": float((approximate.argmax(1) == reference.argmax(1)).mean()),
            "maxProbabilityDifference": float(np.abs(approximate - reference).max()),
            **{key: summary[key] for key in ("accuracy", "qwk", "auc_kl2", "mae", "ece", "recall")},
        },
    }
    manifest.setdefault("variants", {})["int8"] = variant
    (directory / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({"seconds": round(time.time() - started, 1), **variant["val"]}))


if __name__ == "__main__":
    main()
