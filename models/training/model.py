"""Compact residual network for Kellgren-Lawrence grading of knee crops.

The head is linear in the last feature map, so each grade's logit is a sum of
contributions from the positions of that map, and the map of those
contributions is the class activation map (Zhou et al. 2016):

- head "gap": global average pooling and one linear layer (plain CAM);
- head "spatial": one linear layer over the whole flattened map, so a weight
  may depend on where a feature is (the joint line sits in the middle of the
  crop); the contribution map is exact, the bias aside.

`KneeKLExport` returns the maps next to the probabilities, from the same
forward pass.
"""

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + skip)


class KneeKLNet(nn.Module):
    """Grayscale 1xHxW in, five KL logits out."""

    def __init__(
        self,
        widths: list[int],
        blocks: list[int],
        classes: int = 5,
        head: str = "gap",
        input_size: int = 224,
        flip_average: bool = False,
    ):
        super().__init__()
        self.head = head
        # At inference only: average the logits of the image and of its mirror image.
        self.flip_average = flip_average
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 5, 2, 2, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        layers = []
        channels = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(BasicBlock(channels, width, stride))
                channels = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        with torch.no_grad():
            self.map_shape = tuple(self.feature_map(torch.zeros(1, 1, input_size, input_size)).shape[1:])
        channels, height, width = self.map_shape
        inputs = channels if head == "gap" else channels * height * width
        self.classifier = nn.Linear(inputs, classes)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.stem(x))

    def head_input(self, fmap: torch.Tensor) -> torch.Tensor:
        return fmap.mean(dim=(2, 3)) if self.head == "gap" else fmap.flatten(1)

    def contributions(self, fmap: torch.Tensor) -> torch.Tensor:
        """Per-grade, per-position share of the logits: (N, classes, H, W)."""
        weight = self.classifier.weight
        if self.head == "gap":
            return torch.einsum("kc,nchw->nkhw", weight, fmap)
        return torch.einsum("kchw,nchw->nkhw", weight.view(-1, *self.map_shape), fmap)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.dropout(self.head_input(self.feature_map(x))))
        if self.training or not self.flip_average:
            return logits
        mirrored = self.classifier(self.head_input(self.feature_map(torch.flip(x, dims=[3]))))
        return (logits + mirrored) / 2


class KneeKLExport(nn.Module):
    """Inference graph: calibrated probabilities, logits and per-grade CAMs."""

    def __init__(self, net: KneeKLNet, temperature: float):
        super().__init__()
        self.net = net
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature))

    def forward(self, x: torch.Tensor):
        fmap = self.net.feature_map(x)
        logits = self.net.classifier(self.net.head_input(fmap))
        cam = self.net.contributions(fmap)
        if self.net.flip_average:
            # The mirror image's map is mirrored back, so each cell stays where it is in the
            # image; the averaged map still sums (bias aside) to the averaged logits.
            mirrored = self.net.feature_map(torch.flip(x, dims=[3]))
            logits = (logits + self.net.classifier(self.net.head_input(mirrored))) / 2
            cam = (cam + torch.flip(self.net.contributions(mirrored), dims=[3])) / 2
        probabilities = torch.softmax(logits * self.inv_temperature, dim=1)
        return probabilities, logits, cam


def build_net(cfg: dict) -> KneeKLNet:
    """The network described by a training config (models/training/config.json)."""
    network = cfg["network"]
    return KneeKLNet(
        network["widths"],
        network["blocks"],
        head=network.get("head", "gap"),
        input_size=cfg["input"]["size"],
        flip_average=cfg.get("inference", {}).get("flipAverage", False),
    )
