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


class _Context(nn.Module):
    """A residual dilated 1-D convolution: each column sees further along the plate (the
    plate's colour and layout tell which characters can stand there)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class _Fold(nn.Module):
    """Two-row plates in reading order (3.0): the column features of the whole height, each
    column doubled, and those of the top half followed by those of the bottom half, mixed by
    a gate the plate's pooled features set. The sequence is twice as long (64 columns), so
    CTC can emit the top row's characters before the bottom row's."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.whole = nn.Conv1d(channels * 4, hidden, 1, bias=False)
        self.halves = nn.Conv1d(channels * 2, hidden, 1, bias=False)
        self.gate = nn.Linear(channels, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        n, c, h, w = f.shape  # h == 4
        whole = self.whole(f.reshape(n, c * h, w))
        whole = whole.unsqueeze(-1).expand(-1, -1, -1, 2).reshape(n, -1, w * 2)
        top = f[:, :, : h // 2].reshape(n, c * h // 2, w)
        bottom = f[:, :, h // 2 :].reshape(n, c * h // 2, w)
        halves = self.halves(torch.cat([top, bottom], dim=2))
        gate = torch.sigmoid(self.gate(f.mean(dim=(2, 3)))).unsqueeze(-1)
        return gate * halves + (1 - gate) * whole


class PlateReaderNet(nn.Module):
    """`width` scales every layer's channels (1.0: the 0.37 M-parameter reader of 1.0);
    `context` adds that many dilated 1-D layers (dilations 2, 4, 8, ...) over the columns;
    `fold` reads two-row plates in reading order over 64 columns (`_Fold`, 3.0)."""

    def __init__(
        self,
        classes: int,
        countries: int,
        channels: int = 3,
        width: float = 1.0,
        context: int = 0,
        fold: bool = False,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4, hidden = (round(c * width) for c in (24, 48, 64, 128, 192))
        self.features = nn.Sequential(
            _block(channels, c1),
            nn.MaxPool2d(2),  # 16 x 64
            _block(c1, c2),
            nn.MaxPool2d(2),  # 8 x 32
            _block(c2, c3),
            _block(c3, c3),
            nn.MaxPool2d((2, 1)),  # 4 x 32
            _block(c3, c4),
        )
        self.fold = _Fold(c4, hidden) if fold else None
        self.sequence = nn.Sequential(
            nn.Identity() if fold else nn.Conv1d(c4 * 4, hidden, 1, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, hidden, 3, padding=1, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            *(_Context(hidden, 2 ** (i + 1)) for i in range(context)),
            nn.Dropout(0.1),
        )
        self.characters = nn.Conv1d(hidden, classes, 1)
        self.country = nn.Linear(hidden, countries)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: N x C x 32 x 128 in 0-1 -> (N x T x classes logits, N x countries logits)."""
        f = self.features(x)
        n, c, h, w = f.shape
        s = self.sequence(self.fold(f) if self.fold is not None else f.reshape(n, c * h, w))
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
