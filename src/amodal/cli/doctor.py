"""The handler of `amodal doctor`: what an experiment needs here (checkpoints found or missing,
device, versions), as amodal.plan.preflight reports it.
"""

from __future__ import annotations


def doctor(args) -> int:
    from amodal.plan.preflight import report

    name, spec = args.loaded
    text, ok = report(name, spec, args.config or {})
    print(text)
    return 0 if ok else 1
