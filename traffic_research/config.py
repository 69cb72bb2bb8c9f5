"""The research service's TOML config, validated once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from node.config_file import ConfigError, path_resolver, read_toml, validate
from node.config_file import Section as _Section
from node.tls import MqttTransport, is_loopback

__all__ = ["ConfigError", "ResearchConfig", "load_config", "parse_config"]


class StorageConfig(_Section):
    data_dir: Path = Field(description="Research store, registry and day keys (research only)")


class SecretsConfig(_Section):
    signing_key_file: Path = Field(
        description="PEM Ed25519 key that signs day keys for the units (its .pub goes into "
        "each unit's config)"
    )


class MqttConfig(MqttTransport):
    client_id: str = Field(default="anpr-research", description="Fixed id: persistent session")


class FiguresConfig(_Section):
    k: int = Field(
        default=10, ge=2, le=1000, description="Cells with fewer vehicles are suppressed"
    )
    trip_window_minutes: int = Field(
        default=120, ge=1, le=1440,
        description="Two sightings of a vehicle further apart than this are not one trip",
    )  # fmt: skip


class WebConfig(_Section):
    host: str = Field(default="127.0.0.1", description="Listen address (loopback)")
    port: int = Field(default=8090, ge=1, le=65535, description="Listen port")

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not is_loopback(value):
            raise ValueError("the research pages listen on loopback; put a proxy in front")
        return value


class ResearchConfig(_Section):
    storage: StorageConfig
    secrets: SecretsConfig
    mqtt: MqttConfig = MqttConfig()
    figures: FiguresConfig = FiguresConfig()
    web: WebConfig = WebConfig()

    @property
    def store_path(self) -> Path:
        return self.storage.data_dir / "research.sqlite"

    @property
    def registry_path(self) -> Path:
        return self.storage.data_dir / "registry.sqlite"


def parse_config(raw: dict, base: Path, source: str = "research config") -> ResearchConfig:
    config = validate(ResearchConfig, raw, source)
    resolve = path_resolver(base)
    return config.model_copy(
        update={
            "storage": StorageConfig(data_dir=resolve(config.storage.data_dir)),
            "secrets": SecretsConfig(signing_key_file=resolve(config.secrets.signing_key_file)),
            "mqtt": config.mqtt.with_resolved_files(resolve),
        }
    )


def load_config(path: Path) -> ResearchConfig:
    return parse_config(read_toml(path, "research config"), path.parent, str(path))
