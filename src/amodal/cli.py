"""The `amodal` command line."""

from __future__ import annotations

import argparse
import sys


def _pair(kind):
    def parse(text: str):
        parts = text.split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"expected two comma-separated values, got {text!r}")
        return tuple(kind(p) for p in parts)

    return parse


def make_benchmark(args) -> int:
    from .benchmark import make_benchmark as build

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
    from .datasets import load_seed, load_coco

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
    from .invalidate import invalidate as remove

    removed = remove(args.results, args.stage, args.instances, dataset=args.dataset, key=args.key)
    for folder in removed:
        print(f"removed {folder}")
    if not removed:
        print(f"no {args.stage} folder found for {', '.join(args.instances)} under {args.results}/stages", file=sys.stderr)
        return 1
    print("the next snakemake run recomputes these (with the rest of their shards) and what depends on them")
    return 0


def weights_list(args) -> int:
    from .models import weights

    print(weights.format_rows(weights.list_rows(args.names or None), columns=("name", "needed_by", "path", "size", "licence")))
    print(f"\nweights folder: {weights.weights_dir()} (set AMODAL_WEIGHTS to move it)")
    return 0


def weights_fetch(args) -> int:
    from .models import weights

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
    from .models import weights

    bad = 0
    for name in args.names or list(weights.load_manifest()):
        status = weights.verify(name, check_sha256=not args.no_sha256)
        print(status)
        bad += not status.ok
    return 1 if bad else 0


def doctor(args) -> int:
    import yaml

    from .doctor import report
    from .schema import load_experiment

    models = {}
    if args.config:
        models = (yaml.safe_load(open(args.config)) or {}).get("models", {})
    name, spec = load_experiment(args.experiment, args.experiments_dir)
    text, ok = report(name, spec, models)
    print(text)
    return 0 if ok else 1


def complete_one(args) -> int:
    import yaml

    from .pipeline import complete_image

    models = (yaml.safe_load(open(args.config)) or {}).get("models", {}) if args.config else {}
    result = complete_image(args.image, args.query, experiment=args.experiment, out=args.out, models=models,
                            experiments_dir=args.experiments_dir, wallpaper=args.wallpaper)
    if result["status"] == "ok":
        print(f"{result['rgba']} (placed at x, y = {result['offset_xy']} in the photo)")
        return 0
    print(f"no completion for {result['instance']}: {result['reason']}", file=sys.stderr)
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="amodal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("make-benchmark", help="compose a synthetic-occlusion benchmark with exact ground truth")
    bench.add_argument("--out", required=True, help="output folder")
    bench.add_argument("--n", type=int, default=12, help="number of scenes (default 12)")
    bench.add_argument("--seed", type=int, default=0, help="random seed; scene i depends only on (seed, i)")
    bench.add_argument("--cutouts", default="data/cutouts", help="folder of RGBA cutouts with cutouts.csv")
    bench.add_argument("--backgrounds", default="data/backgrounds", help="folder of background photos")
    bench.add_argument("--hidden-fraction", type=_pair(float), default=(0.15, 0.6), help="range hidden by occluders, e.g. 0.15,0.6")
    bench.add_argument("--border-share", type=float, default=0.25, help="share of scenes whose target the border also cuts")
    bench.add_argument("--occluders", type=_pair(int), default=(1, 2), help="inclusive range of occluder count, e.g. 1,2")
    bench.add_argument("--behind", type=_pair(int), default=(0, 1), help="inclusive range of objects behind the target, e.g. 0,1")
    bench.add_argument("--image-size", type=int, default=512, help="side of the square images")
    bench.set_defaults(run=make_benchmark)

    table = commands.add_parser("instances", help="print a dataset's normalised instance table as CSV")
    table.add_argument("--format", choices=["seed", "coco"], default="seed")
    table.add_argument("--annotations", required=True)
    table.add_argument("--images", required=True)
    table.add_argument("--filenames", default=None, help="seed format: optional list of filenames")
    table.set_defaults(run=instances)

    forget = commands.add_parser("invalidate", help="forget one stage's cached results for some instances, so the next run recomputes them")
    forget.add_argument("instances", nargs="+", help="instance ids")
    forget.add_argument("--stage", required=True, help="ground, tag, segment, order, prompt, complete, rgba or evaluate")
    forget.add_argument("--results", default="results", help="results folder (config 'results'; default results)")
    forget.add_argument("--dataset", default=None, help="only this dataset (default: every dataset)")
    forget.add_argument("--key", default=None, help="only this stage folder key, e.g. geometric-6cb33e9c (default: every key)")
    forget.set_defaults(run=invalidate)

    weights = commands.add_parser("weights", help="the checkpoints the model backends use: list, fetch, verify")
    actions = weights.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every checkpoint, where it is found (or missing) and what needs it")
    listing.add_argument("names", nargs="*")
    listing.set_defaults(run=weights_list)
    fetching = actions.add_parser("fetch", help="download checkpoints (resumable, checked) on a machine with internet")
    fetching.add_argument("names", nargs="*", help="weights names (default: all that can be downloaded)")
    fetching.add_argument("--dest", default=None, help="folder (default: $AMODAL_WEIGHTS or ~/.cache/amodal/weights)")
    fetching.add_argument("--base-url", default=None, help="a mirror to download from instead of the manifest's source")
    fetching.set_defaults(run=weights_fetch)
    checking = actions.add_parser("verify", help="check the checkpoints on disk against the manifest")
    checking.add_argument("names", nargs="*")
    checking.add_argument("--no-sha256", action="store_true", help="compare sizes only (fast)")
    checking.set_defaults(run=weights_verify)

    check = commands.add_parser("doctor", help="what an experiment needs here: checkpoints (found or missing), device, versions")
    check.add_argument("--experiment", required=True, help="an experiment name (config/experiments) or a .yaml path")
    check.add_argument("--experiments-dir", default=None, help="folder of experiment files (default: the repository's config/experiments)")
    check.add_argument("--config", default=None, help="a config.yaml whose `models` section says where checkpoints are")
    check.set_defaults(run=doctor)

    one = commands.add_parser("complete", help="complete one object in one image, every stage in this process")
    one.add_argument("image")
    one.add_argument("--query", required=True, help="the object, e.g. 'the cat'")
    one.add_argument("--experiment", default="paper", help="an experiment name (config/experiments) or a .yaml path")
    one.add_argument("--experiments-dir", default=None)
    one.add_argument("--out", default="amodal_out", help="folder for every file (as the workflow's results folder)")
    one.add_argument("--config", default=None, help="a config.yaml whose `models` section says where checkpoints are")
    one.add_argument("--wallpaper", default=None, help="clean background for the first pass (default the seed's)")
    one.set_defaults(run=complete_one)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
