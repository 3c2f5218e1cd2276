"""One planned job: what it reads, the folders it makes, each instance's files, and for a fused
job the jobs it runs (`Job`); rule names made of its parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Job:
    """One shard job: what it reads, the folders it makes, and each instance's files."""

    rule: str
    kind: str  # "scenes", a stage name, or "collect"
    dataset: str
    shard: str
    key: str  # the stage folder key; the experiment name for collect; "" for scenes
    spec: dict
    items: list[dict]
    inputs: list[str]  # upstream shard manifests (or source files) the job needs
    outputs: list[str]  # the instance folders it fills
    manifest: str  # written last: the shard's ids and statuses
    log: str
    benchmark: str  # Snakemake's timing of the job
    device: str = "cpu"
    shared: dict = field(default_factory=dict)  # job-wide input files by name (e.g. the wallpaper), besides `inputs`
    context: dict = field(default_factory=dict)  # upstream stage specs a backend needs (complete: segment, order)
    members: list["Job"] = field(default_factory=list)  # a fused job: the jobs it runs, in order (`fuse`)

    @property
    def manifests(self) -> list[str]:
        """The manifests the job writes: its own, or each member's."""
        return [member.manifest for member in self.members] if self.members else [self.manifest]

    @property
    def instance_runs(self) -> int:
        """Instances times stages the job processes (what its runtime grows with)."""
        return sum(len(member.items) for member in self.members) if self.members else len(self.items)


def rule_name(*parts: str) -> str:
    """A rule name (a Python identifier) made of the parts."""
    return "__".join(re.sub(r"[^A-Za-z0-9]", "_", part) for part in parts)
