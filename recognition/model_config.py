"""The small TOML file beside each ONNX model, as a frozen dataclass.

Training writes these files and inference reads them, through this one module, so the two
can never disagree on the alphabet, the input size or the colour mode. Unknown keys and
missing keys are refused with the file's name in the message.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the unit on JetPack 6 runs Python 3.10: the same parser, from PyPI
    import tomli as tomllib

# The weights and their configs are data in the top-level `models/` folder (installed beside
# this package); they are found by path, never imported.
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
READER_CONFIG = MODELS_DIR / "plate_reader.toml"
DETECTOR_CONFIG = MODELS_DIR / "plate_detector.toml"


class ModelConfigError(ValueError):
    """A model config file is missing, malformed, or does not match its model."""


@dataclass(frozen=True)
class ReaderConfig:
    """Plate reader (CTC): crop -> per-time-step character scores + a country score."""

    version: str
    onnx: str
    alphabet: str  # index 0 of the model output is the CTC blank; alphabet[i] is index i + 1
    countries: tuple[str, ...]  # country head classes; '' means no country
    input_height: int
    input_width: int
    colour_mode: str  # "rgb": channels R, G, B scaled to 0-1
    crop_pad_x: float  # context added each side of the detector box, in box widths
    crop_pad_y: float  # in box heights

    def __post_init__(self) -> None:
        if self.colour_mode not in ("rgb", "gray"):
            raise ModelConfigError(f"colour_mode must be 'rgb' or 'gray', not {self.colour_mode}")
        if len(set(self.alphabet)) != len(self.alphabet):
            raise ModelConfigError("alphabet repeats a character")

    @property
    def channels(self) -> int:
        return 3 if self.colour_mode == "rgb" else 1


@dataclass(frozen=True)
class DetectorConfig:
    """Plate detector: frame -> centre heat map and box sizes at one output stride."""

    version: str
    onnx: str
    input_height: int
    input_width: int
    colour_mode: str
    stride: int
    score_threshold: float
    box_scale: float  # box sides are predicted as exp(value) * box_scale input pixels

    @property
    def channels(self) -> int:
        return 3 if self.colour_mode == "rgb" else 1


def _load(cls, path: Path):
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelConfigError(
            f"{path}: model config not found; run the training make target"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ModelConfigError(f"{path}: not valid TOML: {error}") from None
    names = {f.name for f in fields(cls)}
    unknown = set(raw) - names
    missing = names - set(raw)
    if unknown or missing:
        raise ModelConfigError(
            f"{path}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
        )
    if "countries" in raw:
        raw["countries"] = tuple(raw["countries"])
    return cls(**raw)


def load_reader_config(path: Path = READER_CONFIG) -> ReaderConfig:
    return _load(ReaderConfig, path)


def load_detector_config(path: Path = DETECTOR_CONFIG) -> DetectorConfig:
    return _load(DetectorConfig, path)


def dump_toml(config: ReaderConfig | DetectorConfig) -> str:
    """The TOML text for a config (flat keys, strings, numbers, string lists)."""
    lines = []
    for field in fields(config):
        value = getattr(config, field.name)
        if isinstance(value, str):
            lines.append(f'{field.name} = "{value}"')
        elif isinstance(value, tuple):
            lines.append(
                f"{field.name} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]"
            )
        else:
            lines.append(f"{field.name} = {value!r}")
    return "\n".join(lines) + "\n"
