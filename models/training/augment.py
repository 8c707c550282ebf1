"""Batch augmentation on uint8 tensors: small affine moves, flips, exposure."""

import math

import torch
import torch.nn.functional as F


def _uniform(generator, n, low, high):
    return torch.rand(n, generator=generator) * (high - low) + low


def augment_batch(pixels: torch.Tensor, cfg: dict, generator: torch.Generator) -> torch.Tensor:
    """uint8 (N,1,H,W) in, float in 0..255 out."""
    n = pixels.shape[0]
    x = pixels.float()
    angle = _uniform(generator, n, -cfg["rotationDeg"], cfg["rotationDeg"]) * math.pi / 180
    scale = _uniform(generator, n, cfg["scale"][0], cfg["scale"][1])
    shift = _uniform(generator, 2 * n, -cfg["translate"], cfg["translate"]).view(n, 2) * 2
    flip = torch.ones(n)
    if cfg["hflip"]:
        flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * flip
    theta[:, 1, 1] = cos
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    unit = (x / 255.0).clamp(0, 1)
    gamma = _uniform(generator, n, cfg["gamma"][0], cfg["gamma"][1]).view(n, 1, 1, 1)
    unit = unit.pow(gamma)
    contrast = 1 + _uniform(generator, n, -cfg["contrast"], cfg["contrast"]).view(n, 1, 1, 1)
    brightness = _uniform(generator, n, -cfg["brightness"], cfg["brightness"]).view(n, 1, 1, 1)
    mean = unit.mean(dim=(2, 3), keepdim=True)
    unit = ((unit - mean) * contrast + mean + brightness).clamp(0, 1)
    return unit * 255.0
