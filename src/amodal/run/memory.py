"""Whether an instance fits in its job's memory, asked before the stage runs it.

A stage's peak host memory beyond what its job already holds (libraries, loaded networks) grows
with the working image's pixels: `Stage.bytes_per_pixel` in amodal.declarations, measured by
`benchmarks/memory_per_stage.py` (docs/PERFORMANCE.md). Before an instance runs, that estimate
is compared with what the job has left: its `mem_mb` (what it asked the scheduler for, the
cgroup limit under SLURM) less the memory the process holds now, and the address-space limit
(`ulimit -v`) less the address space it uses. An instance that would not fit fails alone, with
a status naming its size, the stage and the limit; one whose estimate was low and that runs
out anyway fails alone too (`out_of_memory`, amodal.run.isolation).
"""

from __future__ import annotations

import resource

from amodal.errors import TooLarge

MB = 1024 * 1024


def _status_field(name: str) -> int | None:
    """A `Vm...` field of /proc/self/status in bytes (None where there is no /proc)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def resident_bytes() -> int:
    """Memory the process holds now (its resident set; the peak where /proc is missing)."""
    found = _status_field("VmRSS")
    return found if found is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MemoryLimit:
    """The job's memory: `mem_mb` (None: not stated) and the process's address-space limit."""

    def __init__(self, mem_mb: float | None = None):
        self.mem_mb = float(mem_mb) if mem_mb else None
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        self.address_space = None if soft == resource.RLIM_INFINITY else soft

    def describe(self) -> str:
        parts = [f"mem_mb {self.mem_mb:.0f}"] if self.mem_mb else []
        if self.address_space is not None:
            parts.append(f"address space {self.address_space / MB:.0f} MB")
        return ", ".join(parts) or "none stated"

    def headroom(self) -> tuple[float, str] | None:
        """(bytes the job has left, which limit) for the tighter limit; None when none is stated."""
        left = []
        if self.mem_mb:
            left.append((self.mem_mb * MB - resident_bytes(), f"mem_mb {self.mem_mb:.0f}"))
        if self.address_space is not None:
            used = _status_field("VmSize") or 0
            left.append((self.address_space - used, f"address space {self.address_space / MB:.0f} MB"))
        return min(left) if left else None

    def check(self, instance: str, stage: str, size_hw: tuple[int, int], bytes_per_pixel: float, image) -> None:
        """Raise TooLarge when the stage's estimate for this working size
        exceeds what the job has left."""
        headroom = self.headroom()
        if headroom is None or not bytes_per_pixel:
            return
        need = bytes_per_pixel * size_hw[0] * size_hw[1]
        left, which = headroom
        if need > left:
            raise TooLarge(
                instance,
                image,
                f"a {size_hw[1]}x{size_hw[0]} working image needs about {need / MB:.0f} MB in stage "
                f"{stage}, more than the {max(left, 0) / MB:.0f} MB its job has left ({which}); "
                "raise the job's mem_mb (config resources) or lower the dataset's max_side",
            )
