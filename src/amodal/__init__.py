"""amodal: open-world amodal appearance completion, as a library, a CLI and a Snakemake workflow.

Packages, from the bottom up (each may import only those listed before it, plus `errors`):
`imaging` (file formats, frames, mask geometry), `models` (one module per network family and
the job's model cache), `metrics`, `datasets` (the instance table), `synthetic` (the
benchmark generator), `config` (settings files), `plan` (stage declarations, folder keys,
layout, jobs: no Snakemake, no torch), `stages` (one module per stage; `complete/` its
backends), `run` (running jobs, the one-image driver), `tables`, `report`, `cli`.
"""

__version__ = "0.1.0"
