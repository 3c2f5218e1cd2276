"""The `amodal` command line.

Every argument with a constrained value is checked while the command line is parsed (the
`type=` functions below, and `_check_experiment` for what depends on two arguments): a bad
one is one line, `amodal <command>: error: argument --x: ...`, and exit status 2. Bad input
found while running (a malformed annotation file, an unreadable image) is one line,
`amodal <command>: error: ...`, and exit status 1; AMODAL_TRACEBACK=1 shows the traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    """argparse with errors on one line: `<prog>: error: <message>`, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


# ----------------------------------------------------------------------------- value checks
# Each returns the parsed value or raises ArgumentTypeError, which argparse reports as
# "argument --x: <message>".


def _integer(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _fraction(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie between 0 and 1, got {text}")
    return value


def _two(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two comma-separated values (low,high), got {text!r}")
    return parts


def _fraction_range(text: str) -> tuple[float, float]:
    """low,high with 0 <= low < high <= 1."""
    low, high = (_fraction(p) for p in _two(text))
    if not low < high:
        raise argparse.ArgumentTypeError(f"low must be below high (low,high with 0 <= low < high <= 1), got {text!r}")
    return low, high


def _count_range(minimum: int):
    """low,high integers with minimum <= low <= high."""

    def parse(text: str) -> tuple[int, int]:
        low, high = (_integer(minimum)(p) for p in _two(text))
        if low > high:
            raise argparse.ArgumentTypeError(
                f"low must not exceed high (low,high with {minimum} <= low <= high), got {text!r}"
            )
        return low, high

    return parse


def _min_image_size() -> int:
    """The smallest side that fits make_benchmark's largest target with its margin on both sides
    (the check make_benchmark itself makes: target_high * size <= size - 2 * MARGIN - 4)."""
    import inspect

    from amodal.synthetic.scenes import MARGIN, make_benchmark

    target_high = max(inspect.signature(make_benchmark).parameters["target_size"].default)
    return math.ceil((2 * MARGIN + 4) / (1 - target_high))


def _image_size(text: str) -> int:
    return _integer(_min_image_size())(text)


def _existing_file(text: str) -> str:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"file not found: {text}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {text}")
    return text


def _existing_dir(text: str) -> str:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"folder not found: {text}")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a folder: {text}")
    return text


def _output_dir(text: str) -> str:
    """A folder to write into: it may not exist yet, but must not be a file."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder, got an empty string")
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return text


def _folder_name(text: str) -> str:
    """One folder name (an instance id, a dataset, a stage key): no path separator, not . or .."""
    if not text or "/" in text or "\\" in text or text in (".", ".."):
        raise argparse.ArgumentTypeError(f"expected a single name without '/' (not '.' or '..'), got {text!r}")
    return text


def _query(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the query is empty; name the object, e.g. 'the cat'")
    return text


def _weights_name(text: str) -> str:
    from amodal.models.weights import load_manifest

    known = load_manifest()
    if text not in known:
        raise argparse.ArgumentTypeError(f"unknown weights {text!r}; one of {', '.join(known)}")
    return text


def _url(text: str) -> str:
    from urllib.parse import urlparse

    parts = urlparse(text)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.netloc):
        raise argparse.ArgumentTypeError(f"expected an http(s):// or file:// URL, got {text!r}")
    return text


def _models_of_config(text: str) -> dict:
    """The `models` section of a config file, checked against the config schema."""
    import yaml

    from amodal.config.schema import validated

    _existing_file(text)
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


def _check_experiment(args, parser) -> None:
    """--experiment names a file in --experiments-dir (or is a .yaml path) that the experiment
    schema accepts; its (name, spec) goes to args.loaded."""
    from amodal.config.schema import load_experiment

    try:
        args.loaded = load_experiment(args.experiment, args.experiments_dir)
    except (OSError, ValueError) as error:
        parser.error(f"argument --experiment: {error}")


# ----------------------------------------------------------------------------- commands


def make_benchmark(args) -> int:
    from amodal.synthetic.scenes import make_benchmark as build

    table = build(
        args.out,
        cutouts_dir=args.cutouts,
        backgrounds_dir=args.backgrounds,
        n_scenes=args.n,
        seed=args.seed,
        hidden_fraction=args.hidden_fraction,
        border_share=args.border_share,
        occluders=args.occluders,
        behind=args.behind,
        image_size=args.image_size,
    )
    print(f"wrote {len(table)} scenes to {args.out} (instances.csv, benchmark.json, one folder per scene)")
    return 0


def instances(args) -> int:
    from amodal.datasets.coco import load_coco
    from amodal.datasets.seed import load_seed

    if args.format == "seed":
        table = load_seed(args.annotations, args.images, args.filenames)
    else:
        table = load_coco(args.annotations, args.images)
    table.to_csv(sys.stdout, index=False)
    bad = table[table["status"] != "ok"]
    for row in bad.itertuples():
        print(f"warning: {row.message}", file=sys.stderr)
    return 0


def invalidate(args) -> int:
    from amodal.run.invalidate import invalidate as remove

    removed = remove(args.results, args.stage, args.instances, dataset=args.dataset, key=args.key)
    for folder in removed:
        print(f"removed {folder}")
    if not removed:
        print(
            f"no {args.stage} folder found for {', '.join(args.instances)} under {args.results}/stages", file=sys.stderr
        )
        return 1
    print("the next snakemake run recomputes these (with the rest of their shards) and what depends on them")
    return 0


def weights_list(args) -> int:
    from amodal.models import weights

    print(
        weights.format_rows(
            weights.list_rows(args.names or None), columns=("name", "needed_by", "path", "size", "licence")
        )
    )
    print(f"\nweights folder: {weights.weights_dir()} (set AMODAL_WEIGHTS to move it)")
    return 0


def weights_fetch(args) -> int:
    from amodal.models import weights

    names = args.names or [n for n, e in weights.load_manifest().items() if e.kind != "manual"]
    failed = 0
    for name in names:
        try:
            path = weights.fetch(name, dest=args.dest, base_url=args.base_url)
            print(f"{name}: {path}")
        except (weights.ManualDownloadRequired, weights.DownloadError, ValueError, KeyError) as error:
            print(f"{name}: {error}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def weights_verify(args) -> int:
    from amodal.models import weights

    bad = 0
    for name in args.names or list(weights.load_manifest()):
        status = weights.verify(name, check_sha256=not args.no_sha256)
        print(status)
        bad += not status.ok
    return 1 if bad else 0


def doctor(args) -> int:
    from amodal.plan.preflight import report

    name, spec = args.loaded
    text, ok = report(name, spec, args.config or {})
    print(text)
    return 0 if ok else 1


def complete_one(args) -> int:
    from amodal.run.one_image import complete_image

    result = complete_image(
        args.image,
        args.query,
        experiment=args.experiment,
        out=args.out,
        models=args.config or {},
        experiments_dir=args.experiments_dir,
        wallpaper=args.wallpaper,
    )
    if result["status"] == "ok":
        print(f"{result['rgba']} (placed at x, y = {result['offset_xy']} in the photo)")
        return 0
    print(f"no completion for {result['instance']}: {result['reason']}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    from amodal.plan.keys import STAGES

    parser = _Parser(
        prog="amodal",
        description=__doc__.split("\n\n")[0],
        epilog="Relative paths on the command line are relative to the current folder; "
        "defaults name the files shipped with amodal.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser(
        "make-benchmark", help="compose a synthetic-occlusion benchmark with exact ground truth"
    )
    bench.add_argument("--out", required=True, type=_output_dir, help="output folder")
    bench.add_argument("--n", type=_integer(1), default=12, help="number of scenes (default 12)")
    bench.add_argument(
        "--seed", type=_integer(0), default=0, help="random seed (>= 0); scene i depends only on (seed, i)"
    )
    bench.add_argument(
        "--cutouts",
        type=_existing_dir,
        default=None,
        help="folder of RGBA cutouts with cutouts.csv (default: the shipped data/cutouts)",
    )
    bench.add_argument(
        "--backgrounds",
        type=_existing_dir,
        default=None,
        help="folder of background photos (default: the shipped data/backgrounds)",
    )
    bench.add_argument(
        "--hidden-fraction",
        type=_fraction_range,
        default=(0.15, 0.6),
        help="range hidden by occluders, 0 <= low < high <= 1 (default 0.15,0.6)",
    )
    bench.add_argument(
        "--border-share",
        type=_fraction,
        default=0.25,
        help="share of scenes whose target the border also cuts, 0-1 (default 0.25)",
    )
    bench.add_argument(
        "--occluders",
        type=_count_range(1),
        default=(1, 2),
        help="inclusive range of occluder count, 1 <= low <= high (default 1,2)",
    )
    bench.add_argument(
        "--behind",
        type=_count_range(0),
        default=(0, 1),
        help="inclusive range of objects behind the target, 0 <= low <= high (default 0,1)",
    )
    bench.add_argument(
        "--image-size",
        type=_image_size,
        default=512,
        help="side of the square images in px, at least 112 (default 512)",
    )
    bench.set_defaults(run=make_benchmark, command_parser=bench)

    table = commands.add_parser("instances", help="print a dataset's normalised instance table as CSV")
    table.add_argument("--format", choices=["seed", "coco"], default="seed")
    table.add_argument("--annotations", required=True, type=_existing_file, help="annotation file (JSON)")
    table.add_argument("--images", required=True, type=_existing_dir, help="image folder")
    table.add_argument("--filenames", default=None, type=_existing_file, help="seed format: optional list of filenames")
    table.set_defaults(run=instances, command_parser=table)

    forget = commands.add_parser(
        "invalidate", help="forget one stage's cached results for some instances, so the next run recomputes them"
    )
    forget.add_argument("instances", nargs="+", type=_folder_name, help="instance ids")
    forget.add_argument("--stage", required=True, choices=STAGES)
    forget.add_argument(
        "--results", default="results", type=_existing_dir, help="results folder (config 'results'; default results)"
    )
    forget.add_argument("--dataset", default=None, type=_folder_name, help="only this dataset (default: every dataset)")
    forget.add_argument(
        "--key",
        default=None,
        type=_folder_name,
        help="only this stage folder key, e.g. geometric-6cb33e9c (default: every key)",
    )
    forget.set_defaults(run=invalidate, command_parser=forget)

    weights = commands.add_parser("weights", help="the checkpoints the model backends use: list, fetch, verify")
    actions = weights.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every checkpoint, where it is found (or missing) and what needs it")
    listing.add_argument("names", nargs="*", type=_weights_name, help="weights names (default: all)")
    listing.set_defaults(run=weights_list, command_parser=listing)
    fetching = actions.add_parser("fetch", help="download checkpoints (resumable, checked) on a machine with internet")
    fetching.add_argument(
        "names", nargs="*", type=_weights_name, help="weights names (default: all that can be downloaded)"
    )
    fetching.add_argument(
        "--dest", default=None, type=_output_dir, help="folder (default: $AMODAL_WEIGHTS or ~/.cache/amodal/weights)"
    )
    fetching.add_argument(
        "--base-url", default=None, type=_url, help="a mirror to download from instead of the manifest's source"
    )
    fetching.set_defaults(run=weights_fetch, command_parser=fetching)
    checking = actions.add_parser("verify", help="check the checkpoints on disk against the manifest")
    checking.add_argument("names", nargs="*", type=_weights_name, help="weights names (default: all)")
    checking.add_argument("--no-sha256", action="store_true", help="compare sizes only (fast)")
    checking.set_defaults(run=weights_verify, command_parser=checking)

    check = commands.add_parser(
        "doctor", help="what an experiment needs here: checkpoints (found or missing), device, versions"
    )
    check.add_argument("--experiment", required=True, help="an experiment name (config/experiments) or a .yaml path")
    check.add_argument(
        "--experiments-dir",
        default=None,
        type=_existing_dir,
        help="folder of experiment files (default: the repository's config/experiments)",
    )
    check.add_argument(
        "--config",
        default=None,
        type=_models_of_config,
        help="a config.yaml whose `models` section says where checkpoints are",
    )
    check.set_defaults(run=doctor, check=_check_experiment, command_parser=check)

    one = commands.add_parser("complete", help="complete one object in one image, every stage in this process")
    one.add_argument("image", type=_existing_file)
    one.add_argument("--query", required=True, type=_query, help="the object, e.g. 'the cat'")
    one.add_argument("--experiment", default="paper", help="an experiment name (config/experiments) or a .yaml path")
    one.add_argument(
        "--experiments-dir",
        default=None,
        type=_existing_dir,
        help="folder of experiment files (default: the repository's config/experiments)",
    )
    one.add_argument(
        "--out", default="amodal_out", type=_output_dir, help="folder for every file (as the workflow's results folder)"
    )
    one.add_argument(
        "--config",
        default=None,
        type=_models_of_config,
        help="a config.yaml whose `models` section says where checkpoints are",
    )
    one.add_argument(
        "--wallpaper",
        default=None,
        type=_existing_file,
        help="clean background for the first pass (default: the seed's, shipped in data/seed_examples)",
    )
    one.set_defaults(run=complete_one, check=_check_experiment, command_parser=one)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    chosen = args.command_parser  # the chosen (sub)command's parser: its name and errors
    if getattr(args, "check", None):
        args.check(args, chosen)
    try:
        return args.run(args)
    except (OSError, ValueError) as error:  # bad input met while running: named by the library's message
        if os.environ.get("AMODAL_TRACEBACK"):
            raise
        print(f"{chosen.prog}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
