"""The synthetic benchmark's knobs: `SceneParams`, the ones a caller sets (each default written
here once), and the fixed constants of placement and ground truth. Standard library only, so the
command line can read the defaults without loading the generator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# Scenes without a border cut keep the target this far from every side, so the seed's
# 10-px border-touch test (geometry.sides_touched) cannot fire on them.
MARGIN = 12
# Share of the target's amodal area that a border cut puts outside the frame.
BORDER_FRACTION = (0.10, 0.40)
# Each occluder must visibly cover at least this share of the target, so that every
# occluder really occludes and is not hidden behind a later one.
MIN_OCCLUDER_SHARE = 0.03
# An occluder or object behind must keep at least this share of its own mask inside the
# frame, so it reads as an object in the picture and not as a sliver at the edge.
MIN_OCCLUDER_IN_FRAME = 0.5
# Occluder longer side, relative to the target's longer side.
OCCLUDER_SIZE = (0.40, 0.90)
# Object-behind longer side, relative to the target's longer side: somewhat larger than an
# occluder, since the target hides part of it and the rest must still read as an object.
BEHIND_SIZE = (0.50, 1.00)
# Share of an object behind's in-frame mask that the target's amodal mask must cover (so the
# target really hides part of it), and share that must stay visible in the final picture
# (so it is a segment a method can see and has to judge).
MIN_BEHIND_COVERED = 0.10
MIN_BEHIND_VISIBLE = 0.30
# Rejection sampling bounds: placements per object combination, combinations per scene.
PLACEMENT_TRIES = 40
COMBINATION_TRIES = 60
MASK_THRESHOLD = 127  # ground-truth masks are alpha > 127


@dataclass(frozen=True)
class SceneParams:
    """What a benchmark's scenes are drawn from besides the cutouts and backgrounds.

    Checked and normalised on construction (ranges become tuples of float or int), so a
    SceneParams always describes scenes that can be built; a bad value raises ValueError.
    """

    seed: int = 0  # scene i draws from np.random.default_rng([seed, i])
    hidden_fraction: tuple[float, float] = (0.15, 0.60)  # target share hidden by occluders
    border_share: float = 0.25  # share of scenes whose target the image border also cuts
    occluders: tuple[int, int] = (1, 2)  # inclusive range of occluder counts
    behind: tuple[int, int] = (0, 1)  # inclusive range of objects behind the target
    image_size: int = 512  # side of the square images, px
    target_size: tuple[float, float] = (0.45, 0.75)  # target's longer side / image side

    def __post_init__(self):
        lo, hi = (float(v) for v in self.hidden_fraction)
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(
                f"hidden_fraction must be (low, high) with 0 <= low < high <= 1, got {self.hidden_fraction}"
            )
        if not 0.0 <= float(self.border_share) <= 1.0:
            raise ValueError(f"border_share must lie in [0, 1], got {self.border_share}")
        n_lo, n_hi = (int(v) for v in self.occluders)
        if not 1 <= n_lo <= n_hi:
            raise ValueError(f"occluders must be (min, max) counts with 1 <= min <= max, got {self.occluders}")
        b_lo, b_hi = (int(v) for v in self.behind)
        if not 0 <= b_lo <= b_hi:
            raise ValueError(f"behind must be (min, max) counts with 0 <= min <= max, got {self.behind}")
        t_lo, t_hi = (float(v) for v in self.target_size)
        if not 0.0 < t_lo <= t_hi:
            raise ValueError(f"target_size must be (low, high) with 0 < low <= high, got {self.target_size}")
        # The target must fit inside the frame with MARGIN on both sides (plus resampling slack).
        if t_hi * self.image_size > self.image_size - 2 * MARGIN - 4:
            raise ValueError(
                f"target_size {self.target_size} is too large for image_size {self.image_size} "
                f"with a {MARGIN}-px margin"
            )
        normalised = {
            "seed": int(self.seed),
            "hidden_fraction": (lo, hi),
            "border_share": float(self.border_share),
            "occluders": (n_lo, n_hi),
            "behind": (b_lo, b_hi),
            "image_size": int(self.image_size),
            "target_size": (t_lo, t_hi),
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_spec(cls, spec: dict) -> SceneParams:
        """The parameters in a synthetic dataset's config entry (keys named as the fields; one
        left out takes the default; other keys, such as n_scenes or cutouts, are not read)."""
        return cls(**{f.name: spec[f.name] for f in fields(cls) if f.name in spec})

    def as_record(self) -> dict:
        """The parameters as benchmark.json records them (ranges as lists)."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()}


def default(name: str):
    """The default of one SceneParams field (what the command line offers)."""
    return next(f.default for f in fields(SceneParams) if f.name == name)
