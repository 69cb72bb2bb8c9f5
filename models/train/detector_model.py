"""The plate detector network: a tiny CenterNet-style fully convolutional net.

Three scales (strides 4, 8, 16) merged top-down into one stride-4 map. Per cell it predicts a
plate-centre score (sigmoid), the box size as log(size / box_scale), and the centre's
offset inside the cell. Depthwise-separable blocks keep a 640x384 frame near 10 ms on one
CPU thread.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _separable(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class PlateDetectorNet(nn.Module):
    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv(channels, 16, 2), _separable(16, 32, 2), _separable(32, 32))
        self.down8 = nn.Sequential(_separable(32, 64, 2), _separable(64, 64), _separable(64, 64))
        self.down16 = nn.Sequential(
            _separable(64, 128, 2), _separable(128, 128), _separable(128, 128), _separable(128, 128)
        )
        self.lat16 = nn.Conv2d(128, 64, 1)
        self.merge8 = _separable(64, 64)
        self.lat8 = nn.Conv2d(64, 32, 1)
        self.merge4 = _separable(32, 32)
        self.head = nn.Sequential(_conv(32, 32), nn.Conv2d(32, 5, 1))
        nn.init.constant_(self.head[-1].bias[:1], -4.0)  # start with "no plate anywhere"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x C x H x W in 0-1 -> N x 5 x H/4 x W/4 (score logit, log w, log h, dx, dy)."""
        c4 = self.stem(x)
        c8 = self.down8(c4)
        c16 = self.down16(c8)
        p8 = self.merge8(c8 + F.interpolate(self.lat16(c16), size=c8.shape[-2:], mode="nearest"))
        p4 = self.merge4(c4 + F.interpolate(self.lat8(p8), size=c4.shape[-2:], mode="nearest"))
        return self.head(p4)


class ExportedDetector(nn.Module):
    """What ships: the score as a probability, and a 3x3 peak mask so decoding is a threshold."""

    def __init__(self, net: PlateDetectorNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        score = out[:, :1].sigmoid()
        peaks = (F.max_pool2d(score, 3, 1, 1) == score).float() * score
        return torch.cat([peaks, out[:, 1:]], dim=1)
