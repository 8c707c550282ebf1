"""PyTorch eager-mode peer of the ONNX Runtime benchmark (scripts/bench-grading.ts).

Runs the inference graph (KneeKLExport over KneeKLNet, weights from
<model-dir>/model.pt) under torch.no_grad() on the same preprocessed inputs,
for every combination of intra-op thread count and batch size, and prints one
JSON object. Each repeat is one pass over all inputs in batches of the given
size; warm-up batches run first and are not timed; the figure reported is the
median over repeats. It measures; it asserts nothing about speed.

    /usr/bin/python3 models/training/bench_torch.py --model-dir DIR \
        --tensors FILE [--threads 1,2] [--batch 1,16] [--warmup 3] [--repeats 5]
    /usr/bin/python3 models/training/bench_torch.py --model-dir DIR IMAGE...

--tensors is raw little-endian float32 of shape (N, 1, size, size), the
tensors the TypeScript side made with toModelInput; image paths instead are
preprocessed here with data.preprocess (the same definition).
"""

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import preprocess  # noqa: E402
from model import KneeKLExport, build_net  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip() != ""]
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,16, got {text!r}")
    return values


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def load_inputs(args: argparse.Namespace, size: int, mean: float, std: float) -> torch.Tensor:
    if args.tensors is not None:
        raw = np.fromfile(args.tensors, dtype="<f4")
        plane = size * size
        if raw.size == 0 or raw.size % plane != 0:
            raise SystemExit(f"{args.tensors}: {raw.size} floats are not N x {size} x {size}")
        return torch.from_numpy(raw.reshape(-1, 1, size, size).copy())
    if not args.images:
        raise SystemExit("give --tensors FILE or image paths")
    return torch.from_numpy(np.stack([preprocess(path, size, mean, std) for path in args.images]))


def blas_info() -> str:
    """BLAS_INFO of the build: "generic" is reference BLAS, used by convolutions oneDNN skips."""
    match = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return match.group(1) if match else "unknown"


def one_pass(graph: torch.nn.Module, inputs: torch.Tensor, batch: int) -> None:
    for start in range(0, inputs.shape[0], batch):
        graph(inputs[start : start + batch])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", default=str(ROOT / "models/knee-kl"))
    parser.add_argument("--config", default=str(ROOT / "models/training/config.json"))
    parser.add_argument("--tensors", help="raw float32 inputs, shape (N, 1, size, size)")
    parser.add_argument("--threads", type=int_list, default=[1], help="intra-op threads, e.g. 1,2")
    parser.add_argument("--batch", type=int_list, default=[1, 16], help="batch sizes, e.g. 1,16")
    parser.add_argument("--warmup", type=non_negative, default=3, help="untimed batches first")
    parser.add_argument("--repeats", type=non_negative, default=5, help="timed passes over inputs")
    parser.add_argument("images", nargs="*")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    # One inter-op thread, like the ONNX Runtime session (interOpNumThreads: 1);
    # this must happen before any parallel work starts.
    torch.set_num_interop_threads(1)

    cfg = json.loads(Path(args.config).read_text())
    model_dir = Path(args.model_dir)
    manifest = json.loads((model_dir / "model.json").read_text())
    spec = manifest["input"]

    started = time.perf_counter()
    net = build_net(cfg)
    net.load_state_dict(torch.load(model_dir / "model.pt", map_location="cpu"))
    graph = KneeKLExport(net.eval(), manifest["temperature"]).eval()
    load_ms = (time.perf_counter() - started) * 1000

    inputs = load_inputs(args, spec["size"], spec["mean"], spec["std"]).contiguous()
    count = int(inputs.shape[0])

    results = []
    with torch.no_grad():
        for threads in args.threads:
            torch.set_num_threads(threads)
            for batch in args.batch:
                warm = inputs[: min(batch, count)]
                for _ in range(args.warmup):
                    graph(warm)
                per_image = []
                for _ in range(args.repeats):
                    tick = time.perf_counter()
                    one_pass(graph, inputs, batch)
                    per_image.append((time.perf_counter() - tick) * 1000 / count)
                ms = statistics.median(per_image)
                results.append(
                    {
                        "threads": threads,
                        "effectiveThreads": torch.get_num_threads(),
                        "batch": batch,
                        "msPerImage": ms,
                        "imagesPerSecond": 1000 / ms,
                        "repeatsMsPerImage": per_image,
                    }
                )

    json.dump(
        {
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "blas": blas_info(),
            "interopThreads": torch.get_num_interop_threads(),
            "model": f"{manifest['name']}@{manifest['version']}",
            "loadMs": load_ms,
            "images": count,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "results": results,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
