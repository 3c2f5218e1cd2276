"""The command line's argument types: each `type=` function returns the parsed value or raises
ArgumentTypeError, which argparse reports as one line, "argument --x: <message>", exit status 2;
and `check_experiment`, the check of what depends on two arguments.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from amodal.synthetic.params import MARGIN
from amodal.synthetic.params import default as scene_default


def integer(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie between 0 and 1, got {text}")
    return value


def two(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two comma-separated values (low,high), got {text!r}")
    return parts


def fraction_range(text: str) -> tuple[float, float]:
    """low,high with 0 <= low < high <= 1."""
    low, high = (fraction(p) for p in two(text))
    if not low < high:
        raise argparse.ArgumentTypeError(f"low must be below high (low,high with 0 <= low < high <= 1), got {text!r}")
    return low, high


def count_range(minimum: int):
    """low,high integers with minimum <= low <= high."""

    def parse(text: str) -> tuple[int, int]:
        low, high = (integer(minimum)(p) for p in two(text))
        if low > high:
            raise argparse.ArgumentTypeError(
                f"low must not exceed high (low,high with {minimum} <= low <= high), got {text!r}"
            )
        return low, high

    return parse


def min_image_size() -> int:
    """The smallest side that fits the default largest target with its margin on both sides
    (the check SceneParams itself makes: target_high * size <= size - 2 * MARGIN - 4)."""
    target_high = max(scene_default("target_size"))
    return math.ceil((2 * MARGIN + 4) / (1 - target_high))


def pair(values) -> str:
    """A range as the command line takes it: low,high."""
    return ",".join(str(v) for v in values)


def image_size(text: str) -> int:
    return integer(min_image_size())(text)


def existing_file(text: str) -> str:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"file not found: {text}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {text}")
    return text


def existing_dir(text: str) -> str:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"folder not found: {text}")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a folder: {text}")
    return text


def output_dir(text: str) -> str:
    """A folder to write into: it may not exist yet, but must not be a file."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder, got an empty string")
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return text


def folder_name(text: str) -> str:
    """One folder name (an instance id, a dataset, a stage key): no path separator, not . or .."""
    if not text or "/" in text or "\\" in text or text in (".", ".."):
        raise argparse.ArgumentTypeError(f"expected a single name without '/' (not '.' or '..'), got {text!r}")
    return text


def query(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the query is empty; name the object, e.g. 'the cat'")
    return text


def weights_name(text: str) -> str:
    from amodal.models.weights.manifest import load_manifest

    known = load_manifest()
    if text not in known:
        raise argparse.ArgumentTypeError(f"unknown weights {text!r}; one of {', '.join(known)}")
    return text


def url(text: str) -> str:
    from urllib.parse import urlparse

    parts = urlparse(text)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.netloc):
        raise argparse.ArgumentTypeError(f"expected an http(s):// or file:// URL, got {text!r}")
    return text


def models_of_config(text: str) -> dict:
    """The `models` section of a config file, checked against the config schema."""
    import yaml

    from amodal.config.schema import validated

    existing_file(text)
    try:
        data = yaml.safe_load(Path(text).read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise argparse.ArgumentTypeError(f"cannot read {text} as YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError(f"{text}: expected a mapping of config keys, got {type(data).__name__}")
    models = data.get("models", {})
    try:
        # Only `models` is used here; a stand-in dataset satisfies the schema's required key.
        return validated({"datasets": {"_": {"format": "seed"}}, "models": models}, "config.schema.yaml")["models"]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text}: {error}") from None


def check_experiment(args, parser) -> None:
    """--experiment names a file in --experiments-dir (or is a .yaml path) that the experiment
    schema accepts; its (name, spec) goes to args.loaded."""
    from amodal.config.schema import load_experiment

    try:
        args.loaded = load_experiment(args.experiment, args.experiments_dir)
    except (OSError, ValueError) as error:
        parser.error(f"argument --experiment: {error}")
