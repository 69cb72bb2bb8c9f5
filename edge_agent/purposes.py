"""What a camera is for, and so what it may emit: the `[purposes]` section of the agent config.

One camera can serve police purposes (hotlist matching; the 28-day store where it is in the
camera plan) and traffic research beside them. Each purpose receives only what it may: a
camera without a police purpose emits no passage at all (nothing with a plate leaves it),
and a camera without traffic research emits no research sightings. The research purpose
carries its owner, legal basis and validity dates, as the central's registry does, so that
the unit stops on its own when the purpose lapses.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from node.config_file import Section
from wire.research import AREA


class TrafficResearchConfig(Section):
    area: str = Field(
        description="Research area whose day keys this camera uses, e.g. 'utrecht-oost' "
        "([a-z0-9][a-z0-9-]{0,39}); cameras of one area link a vehicle within a day"
    )
    owner: str = Field(
        min_length=1, max_length=200, description="Who the research is done for (road authority)"
    )
    legal_basis: str = Field(
        min_length=1, max_length=500, description="The legal basis of the research, as recorded"
    )
    valid_from: date = Field(description="First UTC day the purpose applies")
    valid_until: date | None = Field(
        default=None, description="Last UTC day the purpose applies (inclusive); None: open"
    )
    flush_s: float = Field(
        default=10.0, gt=0, le=3600, description="A batch of sightings goes out at least this often"
    )
    max_queued_batches: int = Field(
        default=10_000,
        ge=10,
        le=1_000_000,
        description="Batches kept while the broker is unreachable; beyond, the oldest is "
        "dropped (counted, reported)",
    )
    state_dir: Path | None = Field(
        default=None,
        description="Folder for the day keys and the research queue (mode 0700); None: "
        "'research' beside the spool",
    )

    @field_validator("area")
    @classmethod
    def _area(cls, value: str) -> str:
        if not AREA.fullmatch(value):
            raise ValueError("lower-case letters, digits and '-', 1 to 40 characters")
        return value

    @model_validator(mode="after")
    def _period(self) -> TrafficResearchConfig:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until lies before valid_from")
        return self

    def valid_on(self, day: date) -> bool:
        """Whether the purpose applies on this UTC day."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class PurposesConfig(Section):
    hotlist: bool = Field(
        default=True,
        description="Hotlist matching: passages go to the central (and the unit's own hotlist "
        "is matched)",
    )
    store: bool = Field(
        default=True,
        description="The 28-day store: passages go to the central, which stores them while "
        "the camera is in the camera plan",
    )
    traffic_research: TrafficResearchConfig | None = Field(
        default=None, description="Traffic research: pseudonymised sightings, no plates; None: off"
    )

    @property
    def emits_passages(self) -> bool:
        """Passages (plates, photos) leave the unit only for a police purpose."""
        return self.hotlist or self.store

    @model_validator(mode="after")
    def _some_purpose(self) -> PurposesConfig:
        if not (self.hotlist or self.store or self.traffic_research is not None):
            raise ValueError("a camera without any purpose may not run: enable one")
        return self
