"""Batch augmentations that make MNIST look more like digits cut out of real photos.

Real uploads differ from MNIST in slant, size, stroke width and contrast once they are
normalized, so training sees those variations; `strength` scales all of them.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    n = images.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=gen) * 2 - 1) * limit * strength

    angle = uniform(math.radians(12))
    scale = 1 + uniform(0.12)
    shear = uniform(0.15)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / scale
    theta[:, 0, 1] = -torch.sin(angle) / scale + shear
    theta[:, 1, 0] = torch.sin(angle) / scale
    theta[:, 1, 1] = torch.cos(angle) / scale
    theta[:, 0, 2] = uniform(0.1)
    theta[:, 1, 2] = uniform(0.1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def random_stroke_width(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Blend towards a dilated (thicker) or eroded (thinner) copy by a random amount."""
    n = images.shape[0]
    amount = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.6 * strength
    thicker = F.max_pool2d(images, 3, stride=1, padding=1)
    thinner = -F.max_pool2d(-images, 3, stride=1, padding=1)
    grown = images + amount.clamp(min=0) * (thicker - images)
    return grown - (-amount).clamp(min=0) * (images - thinner)


def random_contrast(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    n = images.shape[0]
    peak = 1 - torch.rand(n, 1, 1, 1, generator=gen) * 0.35 * strength
    noise = torch.randn(images.shape, generator=gen) * 0.03 * strength
    return (images * peak + noise).clamp(0, 1)


def augment(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    images = random_affine(images, gen, strength)
    images = random_stroke_width(images, gen, strength)
    return random_contrast(images, gen, strength)
