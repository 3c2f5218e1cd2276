"""The `amodal` command line.

Its entry point (the console script): parse (`amodal.cli.parser`), then run the chosen command's
handler (`commands`, `weights`, `doctor`). Every argument with a constrained value is checked
while the command line is parsed (the `type=` functions of `amodal.cli.arguments`, and
`check_experiment` for what depends on two arguments): a bad one is one line,
`amodal <command>: error: argument --x: ...`, and exit status 2. Bad input found while running
(a malformed annotation file, an unreadable image) is one line, `amodal <command>: error: ...`,
and exit status 1; AMODAL_TRACEBACK=1 shows the traceback.
"""

from __future__ import annotations

import os
import sys

from amodal.cli.parser import build_parser


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
