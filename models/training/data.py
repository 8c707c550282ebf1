"""Loading and preprocessing of knee crops.

`preprocess` is the single definition of the model's input; the TypeScript
implementation in src/grading/preprocess.ts must produce the same tensor
(checked by test/grading/parity.test.ts).
"""

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

GRADES = 5


def preprocess(path: str, size: int, mean: float, std: float) -> np.ndarray:
    """Image file to a float32 array of shape (1, size, size)."""
    image = Image.open(path).convert("L")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return ((pixels - mean) / std)[None, :, :].astype(np.float32)


def list_split(root: str) -> list[tuple[str, int]]:
    """(path, grade) pairs of a split laid out as <root>/<grade>/<file>."""
    items = []
    for grade in range(GRADES):
        folder = Path(root) / str(grade)
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith((".png", ".jpg", ".jpeg")):
                items.append((str(folder / name), grade))
    return items


def load_split(root: str, size: int, limit: int | None = None):
    """Whole split as uint8 tensor (N, 1, size, size) and int64 labels."""
    items = list_split(root)
    if limit is not None:
        step = max(1, len(items) // limit)
        items = items[::step][:limit]
    pixels = np.zeros((len(items), 1, size, size), dtype=np.uint8)
    for index, (path, _) in enumerate(items):
        image = Image.open(path).convert("L")
        if image.size != (size, size):
            image = image.resize((size, size), Image.BILINEAR)
        pixels[index, 0] = np.asarray(image)
    labels = torch.tensor([grade for _, grade in items], dtype=torch.int64)
    return torch.from_numpy(pixels), labels, [path for path, _ in items]


def normalise(batch: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (batch.float() / 255.0 - mean) / std
