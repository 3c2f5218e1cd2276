"""The handlers of `amodal weights list|fetch|verify`: each takes the parsed arguments and returns
the exit status.
"""

from __future__ import annotations

import sys


def weights_list(args) -> int:
    from amodal.cli.weights_table import format_rows, list_rows
    from amodal.models.weights.locate import weights_dir

    print(format_rows(list_rows(args.names or None), columns=("name", "needed_by", "path", "size", "licence")))
    print(f"\nweights folder: {weights_dir()} (set AMODAL_WEIGHTS to move it)")
    return 0


def weights_fetch(args) -> int:
    from amodal.models.weights.download import DownloadError, ManualDownloadRequired, fetch
    from amodal.models.weights.manifest import load_manifest

    names = args.names or [n for n, e in load_manifest().items() if e.kind != "manual"]
    failed = 0
    for name in names:
        try:
            path = fetch(name, dest=args.dest, base_url=args.base_url)
            print(f"{name}: {path}")
        except (ManualDownloadRequired, DownloadError, ValueError, KeyError) as error:
            print(f"{name}: {error}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def weights_verify(args) -> int:
    from amodal.models.weights.manifest import load_manifest
    from amodal.models.weights.verify import verify

    bad = 0
    for name in args.names or list(load_manifest()):
        status = verify(name, check_sha256=not args.no_sha256)
        print(status)
        bad += not status.ok
    return 1 if bad else 0
