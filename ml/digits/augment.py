"""Batch augmentations that make MNIST look more like digits cut out of real photos.

Real uploads differ from MNIST in slant, size, stroke width and contrast once they are
normalized, so training sees those variations; `strength` scales all of them.

`strong=True` adds what other people's handwriting and small scans bring (issue 17):
a smooth elastic warp, a wider slant and aspect range, digits reduced to 7-12 px and
scaled back up (blocky and re-thresholded, or smooth and grey, as the preprocessing draws them), and
strokes broken by small gaps.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(n: int, gen: torch.Generator, limit: float) -> torch.Tensor:
    return (torch.rand(n, generator=gen) * 2 - 1) * limit


def random_affine(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0,
                  strong: bool = False) -> torch.Tensor:
    n = images.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return _uniform(n, gen, limit * strength)

    angle = uniform(math.radians(15 if strong else 12))
    scale = 1 + uniform(0.12)
    # Other writers' digits are narrower or wider than MNIST's once fitted in 20x20.
    aspect = 1 + uniform(0.2) if strong else torch.ones(n)
    shear = uniform(0.25 if strong else 0.15)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / scale * aspect
    theta[:, 0, 1] = -torch.sin(angle) / scale + shear
    theta[:, 1, 0] = torch.sin(angle) / scale
    theta[:, 1, 1] = torch.cos(angle) / scale
    theta[:, 0, 2] = uniform(0.1)
    theta[:, 1, 2] = uniform(0.1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    if strong:
        grid = grid + elastic_field(n, gen, images.shape[-1], 0.05 * strength)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def elastic_field(n: int, gen: torch.Generator, side: int, amount: float) -> torch.Tensor:
    """A smooth random displacement (N, side, side, 2) in grid units (1 px = 2/side):
    a 4x4 lattice of random offsets, interpolated, bends strokes as a hand does."""
    coarse = torch.randn(n, 2, 4, 4, generator=gen) * amount
    return F.interpolate(coarse, size=(side, side), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)


def random_stroke_width(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Blend towards a dilated (thicker) or eroded (thinner) copy by a random amount."""
    n = images.shape[0]
    amount = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.6 * strength
    thicker = F.max_pool2d(images, 3, stride=1, padding=1)
    thinner = -F.max_pool2d(-images, 3, stride=1, padding=1)
    grown = images + amount.clamp(min=0) * (thicker - images)
    return grown - (-amount).clamp(min=0) * (images - thinner)


def random_low_resolution(images: torch.Tensor, gen: torch.Generator, share: float = 0.25) -> torch.Tensor:
    """A share of the batch reduced to 10-17 px (the digit 7-12 px high) and scaled back up.
    Half the time re-thresholded, as the main preprocessing path draws a small scan; half
    the time smooth and grey with its contrast stretched, as the small-ink path does."""
    n, side = images.shape[0], images.shape[-1]
    chosen = torch.rand(n, generator=gen) < share
    if not chosen.any():
        return images
    small = int(torch.randint(10, 18, (1,), generator=gen))
    picked = F.interpolate(images[chosen], size=(small, small), mode="area")
    peak = picked.amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-3)
    out = images.clone()
    if torch.rand(1, generator=gen).item() < 0.5:
        picked = F.interpolate(picked, size=(side, side), mode="bicubic", align_corners=False)
        stretch = 0.5 + 0.4 * torch.rand(1, generator=gen).item()
        out[chosen] = (picked / peak / stretch).clamp(0, 1)
        return out
    mode = "nearest" if torch.rand(1, generator=gen).item() < 0.5 else "bilinear"
    picked = F.interpolate(picked, size=(side, side), mode=mode,
                           **({} if mode == "nearest" else {"align_corners": False}))
    threshold = 0.3 + 0.2 * torch.rand(1, generator=gen).item()
    picked = ((picked / peak - threshold) / 0.1 + 0.5).clamp(0, 1)
    out[chosen] = F.avg_pool2d(picked, 3, stride=1, padding=1, count_include_pad=False).clamp(0, 1) * 0.5 + picked * 0.5
    return out


def random_breaks(images: torch.Tensor, gen: torch.Generator, share: float = 0.15) -> torch.Tensor:
    """A share of the batch gets one 2-4 px gap cut where there is ink (a skipping pen)."""
    n, side = images.shape[0], images.shape[-1]
    chosen = torch.rand(n, generator=gen) < share
    if not chosen.any():
        return images
    weights = images[chosen].flatten(1) + 1e-6
    centre = torch.multinomial(weights, 1, generator=gen).squeeze(1)
    cy, cx = (centre // side).view(-1, 1, 1), (centre % side).view(-1, 1, 1)
    half = torch.randint(1, 3, (len(centre), 1, 1), generator=gen)
    ys = torch.arange(side).view(1, side, 1)
    xs = torch.arange(side).view(1, 1, side)
    gap = ((ys - cy).abs() <= half) & ((xs - cx).abs() <= half)
    out = images.clone()
    out[chosen] = images[chosen] * (~gap).unsqueeze(1)
    return out


def random_contrast(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    n = images.shape[0]
    peak = 1 - torch.rand(n, 1, 1, 1, generator=gen) * 0.35 * strength
    noise = torch.randn(images.shape, generator=gen) * 0.03 * strength
    return (images * peak + noise).clamp(0, 1)


def augment(images: torch.Tensor, gen: torch.Generator, strength: float = 1.0, strong: bool = False) -> torch.Tensor:
    images = random_affine(images, gen, strength, strong)
    images = random_stroke_width(images, gen, strength)
    if strong:
        images = random_low_resolution(images, gen)
        images = random_breaks(images, gen)
    return random_contrast(images, gen, strength)
