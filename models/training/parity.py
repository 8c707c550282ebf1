"""Reference outputs for the TypeScript parity test.

Prints one JSON object: for each image, the preprocessed tensor (as a flat
list) and the probabilities, logits and CAM of the PyTorch model in
models/knee-kl/model.pt, run through the same export wrapper as the ONNX graph.

    /usr/bin/python3 models/training/parity.py [--model-dir DIR] IMAGE...
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import preprocess  # noqa: E402
from model import KneeKLExport, build_net  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default=str(ROOT / "models/knee-kl"))
    parser.add_argument("--config", default=str(ROOT / "models/training/config.json"))
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()

    torch.set_num_threads(1)
    cfg = json.loads(Path(args.config).read_text())
    manifest = json.loads((Path(args.model_dir) / "model.json").read_text())
    net = build_net(cfg)
    net.load_state_dict(torch.load(Path(args.model_dir) / "model.pt", map_location="cpu"))
    graph = KneeKLExport(net.eval(), manifest["temperature"]).eval()
    spec = manifest["input"]

    results = []
    for path in args.images:
        tensor = preprocess(path, spec["size"], spec["mean"], spec["std"])
        with torch.no_grad():
            probabilities, logits, cam = graph(torch.from_numpy(tensor)[None])
        results.append(
            {
                "image": path,
                "tensor": tensor.flatten().tolist(),
                "probabilities": probabilities[0].tolist(),
                "logits": logits[0].tolist(),
                "cam": cam[0].flatten().tolist(),
            }
        )
    json.dump({"model": f"{manifest['name']}@{manifest['version']}", "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
