"""Compact residual network for Kellgren-Lawrence grading of knee crops.

The network ends in global average pooling and one linear layer, so the class
activation map (Zhou et al. 2016) of every grade is the linear layer applied to
each position of the last feature map. `KneeKLExport` returns it next to the
probabilities, from the same forward pass.
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

    def __init__(self, widths: list[int], blocks: list[int], classes: int = 5):
        super().__init__()
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
        self.classifier = nn.Linear(channels, classes)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.feature_map(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(pooled))


class KneeKLExport(nn.Module):
    """Inference graph: calibrated probabilities, logits and per-grade CAMs."""

    def __init__(self, net: KneeKLNet, temperature: float):
        super().__init__()
        self.net = net
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature))

    def forward(self, x: torch.Tensor):
        fmap = self.net.feature_map(x)
        logits = self.net.classifier(fmap.mean(dim=(2, 3)))
        probabilities = torch.softmax(logits * self.inv_temperature, dim=1)
        weight = self.net.classifier.weight
        cam = torch.einsum("kc,nchw->nkhw", weight, fmap)
        return probabilities, logits, cam
