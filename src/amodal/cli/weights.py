"""The handlers of `amodal weights list|fetch|verify`: each takes the parsed arguments and returns
the exit status.
"""

from __future__ import annotations

import sys


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
