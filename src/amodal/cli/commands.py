"""The handlers of `amodal make-benchmark`, `instances`, `invalidate` and `complete`: each takes the
parsed arguments and returns the exit status.
"""

from __future__ import annotations

import sys


def make_benchmark(args) -> int:
    from amodal.synthetic.params import SceneParams
    from amodal.synthetic.scenes import make_benchmark as build

    params = SceneParams(
        seed=args.seed,
        hidden_fraction=args.hidden_fraction,
        border_share=args.border_share,
        occluders=args.occluders,
        behind=args.behind,
        image_size=args.image_size,
    )
    table = build(args.out, n_scenes=args.n, params=params, cutouts_dir=args.cutouts, backgrounds_dir=args.backgrounds)
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

    key = args.key
    if args.experiment:
        from amodal.config.schema import load_experiment
        from amodal.plan.keys import experiment_keys

        if key:
            args.command_parser.error("give --key or --experiment, not both")
        name, spec = load_experiment(args.experiment, args.experiments_dir)
        key = experiment_keys(spec).get(args.stage)
        if key is None:
            args.command_parser.error(f"experiment {name} plans no {args.stage} stage")
    removed = remove(args.results, args.stage, args.instances, dataset=args.dataset, key=key)
    for folder in removed:
        print(f"removed {folder}")
    if not removed:
        which = f" with key {key}" if key else ""
        print(
            f"no {args.stage} folder{which} found for {', '.join(args.instances)} under {args.results}/stages",
            file=sys.stderr,
        )
        return 1
    print("the next snakemake run recomputes these (with the rest of their shards) and what depends on them")
    return 0


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
