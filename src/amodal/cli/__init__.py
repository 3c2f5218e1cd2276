"""The `amodal` command line: `main` (the entry point), `parser` (every subcommand and its
arguments), `arguments` (the argument types) and one module of handlers per concern (`commands`,
`weights`, `doctor`). May import every other package.
"""
