"""The plate reader network: a small CRNN with a CTC head and a country head.

Convolutions only (no recurrent layers), so it exports to ONNX simply and runs in about a
millisecond per crop on one CPU thread. Height is pooled away; each of the width/4 columns
scores every character (CTC, index 0 = blank), and the pooled features score the country.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class PlateReaderNet(nn.Module):
    def __init__(self, classes: int, countries: int, channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _block(channels, 24),
            nn.MaxPool2d(2),  # 16 x 64
            _block(24, 48),
            nn.MaxPool2d(2),  # 8 x 32
            _block(48, 64),
            _block(64, 64),
            nn.MaxPool2d((2, 1)),  # 4 x 32
            _block(64, 128),
        )
        self.sequence = nn.Sequential(
            nn.Conv1d(128 * 4, 192, 1, bias=False),
            nn.BatchNorm1d(192),
            nn.ReLU(inplace=True),
            nn.Conv1d(192, 192, 3, padding=1, bias=False),
            nn.BatchNorm1d(192),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
        )
        self.characters = nn.Conv1d(192, classes, 1)
        self.country = nn.Linear(192, countries)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: N x C x 32 x 128 in 0-1 -> (N x T x classes logits, N x countries logits)."""
        f = self.features(x)
        n, c, h, w = f.shape
        s = self.sequence(f.reshape(n, c * h, w))
        logits = self.characters(s).permute(0, 2, 1)
        return logits, self.country(s.mean(dim=2))


class ExportedReader(nn.Module):
    """What ships: probabilities, not logits, so inference needs no softmax of its own."""

    def __init__(self, net: PlateReaderNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, country = self.net(x)
        return logits.softmax(-1), country.softmax(-1)
