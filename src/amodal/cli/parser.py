"""The `amodal` argument parser: every subcommand, its arguments with their types (`arguments`)
and its handler (`commands`, `weights`, `doctor`).
"""

from __future__ import annotations

import argparse

from amodal.cli.arguments import (
    check_experiment,
    count_range,
    existing_dir,
    existing_file,
    folder_name,
    fraction,
    fraction_range,
    image_size,
    integer,
    min_image_size,
    models_of_config,
    output_dir,
    pair,
    query,
    url,
    weights_name,
)
from amodal.cli.commands import complete_one, instances, invalidate, make_benchmark
from amodal.cli.doctor import doctor
from amodal.cli.experiments import experiments_list
from amodal.cli.weights import weights_fetch, weights_list, weights_verify
from amodal.synthetic.params import default as scene_default

DESCRIPTION = "The `amodal` command line."


class _Parser(argparse.ArgumentParser):
    """argparse with errors on one line: `<prog>: error: <message>`, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_experiments_dir(command: argparse.ArgumentParser) -> None:
    """The `--experiments-dir` option of a command that reads experiment files."""
    command.add_argument(
        "--experiments-dir",
        default=None,
        type=existing_dir,
        help="folder of experiment files (default: the shipped experiments, the repository's config/experiments)",
    )


def _command(group, name: str, *, help: str, **kwargs) -> argparse.ArgumentParser:  # noqa: A002 - argparse's name
    """A (sub)command whose own --help starts with the line the command list shows for it."""
    return group.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".", **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from amodal import __version__
    from amodal.declarations import STAGE_ORDER as STAGES

    parser = _Parser(
        prog="amodal",
        description=DESCRIPTION,
        epilog="Relative paths on the command line are relative to the current folder; "
        "defaults name the files shipped with amodal.",
    )
    parser.add_argument("--version", action="version", version=f"amodal {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    bench = _command(commands, "make-benchmark", help="compose a synthetic-occlusion benchmark with exact ground truth")
    bench.add_argument("--out", required=True, type=output_dir, help="output folder")
    bench.add_argument("--n", type=integer(1), default=12, help="number of scenes (default 12)")
    bench.add_argument(
        "--seed",
        type=integer(0),
        default=scene_default("seed"),
        help=f"random seed (>= 0); scene i depends only on (seed, i) (default {scene_default('seed')})",
    )
    bench.add_argument(
        "--cutouts",
        type=existing_dir,
        default=None,
        help="folder of RGBA cutouts with cutouts.csv (default: the shipped data/cutouts)",
    )
    bench.add_argument(
        "--backgrounds",
        type=existing_dir,
        default=None,
        help="folder of background photos (default: the shipped data/backgrounds)",
    )
    bench.add_argument(
        "--hidden-fraction",
        type=fraction_range,
        default=scene_default("hidden_fraction"),
        help=f"range hidden by occluders, 0 <= low < high <= 1 (default {pair(scene_default('hidden_fraction'))})",
    )
    bench.add_argument(
        "--border-share",
        type=fraction,
        default=scene_default("border_share"),
        help=f"share of scenes whose target the border also cuts, 0-1 (default {scene_default('border_share')})",
    )
    bench.add_argument(
        "--occluders",
        type=count_range(1),
        default=scene_default("occluders"),
        help=f"inclusive range of occluder count, 1 <= low <= high (default {pair(scene_default('occluders'))})",
    )
    bench.add_argument(
        "--behind",
        type=count_range(0),
        default=scene_default("behind"),
        help=f"inclusive range of objects behind the target, 0 <= low <= high (default {pair(scene_default('behind'))})",
    )
    bench.add_argument(
        "--image-size",
        type=image_size,
        default=scene_default("image_size"),
        help=f"side of the square images in px, at least {min_image_size()} (default {scene_default('image_size')})",
    )
    bench.set_defaults(run=make_benchmark, command_parser=bench)

    table = _command(commands, "instances", help="print a dataset's normalised instance table as CSV")
    table.add_argument("--format", choices=["seed", "coco"], default="seed")
    table.add_argument("--annotations", required=True, type=existing_file, help="annotation file (JSON)")
    table.add_argument("--images", required=True, type=existing_dir, help="image folder")
    table.add_argument("--filenames", default=None, type=existing_file, help="seed format: optional list of filenames")
    table.set_defaults(run=instances, command_parser=table)

    forget = _command(
        commands,
        "invalidate",
        help="forget one stage's cached results for some instances, so the next run recomputes them",
    )
    forget.add_argument("instances", nargs="+", type=folder_name, help="instance ids")
    forget.add_argument("--stage", required=True, choices=STAGES)
    forget.add_argument(
        "--results", default="results", type=existing_dir, help="results folder (config 'results'; default results)"
    )
    forget.add_argument("--dataset", default=None, type=folder_name, help="only this dataset (default: every dataset)")
    forget.add_argument(
        "--key",
        default=None,
        type=folder_name,
        help="only this stage folder key, e.g. geometric-6cb33e9c (default: every key)",
    )
    forget.add_argument(
        "--experiment",
        default=None,
        help="only the stage folder this experiment uses (its key; the default: every experiment's)",
    )
    add_experiments_dir(forget)
    forget.set_defaults(run=invalidate, command_parser=forget)

    weights = _command(commands, "weights", help="the checkpoints the model backends use: list, fetch, verify")
    actions = weights.add_subparsers(dest="action", required=True)
    listing = _command(actions, "list", help="every checkpoint, where it is found (or missing) and what needs it")
    listing.add_argument("names", nargs="*", type=weights_name, help="weights names (default: all)")
    listing.set_defaults(run=weights_list, command_parser=listing)
    fetching = _command(actions, "fetch", help="download checkpoints (resumable, checked) on a machine with internet")
    fetching.add_argument(
        "names", nargs="*", type=weights_name, help="weights names (default: all that can be downloaded)"
    )
    fetching.add_argument(
        "--dest", default=None, type=output_dir, help="folder (default: $AMODAL_WEIGHTS or ~/.cache/amodal/weights)"
    )
    fetching.add_argument(
        "--base-url", default=None, type=url, help="a mirror to download from instead of the manifest's source"
    )
    fetching.set_defaults(run=weights_fetch, command_parser=fetching)
    checking = _command(actions, "verify", help="check the checkpoints on disk against the manifest")
    checking.add_argument("names", nargs="*", type=weights_name, help="weights names (default: all)")
    checking.add_argument("--no-sha256", action="store_true", help="compare sizes only (fast)")
    checking.set_defaults(run=weights_verify, command_parser=checking)

    listed = _command(
        commands, "experiments", help="every experiment, with the checkpoints it loads and the ground truth it reads"
    )
    add_experiments_dir(listed)
    listed.set_defaults(run=experiments_list, command_parser=listed)

    check = _command(
        commands, "doctor", help="what an experiment needs here: checkpoints (found or missing), device, versions"
    )
    check.add_argument("--experiment", required=True, help="an experiment name (config/experiments) or a .yaml path")
    add_experiments_dir(check)
    check.add_argument(
        "--config",
        default=None,
        type=models_of_config,
        help="a config.yaml whose `models` section says where checkpoints are",
    )
    check.set_defaults(run=doctor, check=check_experiment, command_parser=check)

    one = _command(commands, "complete", help="complete one object in one image, every stage in this process")
    one.add_argument("image", type=existing_file)
    one.add_argument("--query", required=True, type=query, help="the object, e.g. 'the cat'")
    one.add_argument("--experiment", default="paper", help="an experiment name (config/experiments) or a .yaml path")
    add_experiments_dir(one)
    one.add_argument(
        "--out", default="amodal_out", type=output_dir, help="folder for every file (as the workflow's results folder)"
    )
    one.add_argument(
        "--config",
        default=None,
        type=models_of_config,
        help="a config.yaml whose `models` section says where checkpoints are",
    )
    one.add_argument(
        "--wallpaper",
        default=None,
        type=existing_file,
        help="clean background for the first pass (default: the seed's, shipped in data/seed_examples)",
    )
    one.set_defaults(run=complete_one, check=check_experiment, command_parser=one)
    return parser
