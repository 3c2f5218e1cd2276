"""amodal: open-world amodal appearance completion, as a library, a CLI and a Snakemake workflow.

Three modules at the bottom import nothing of amodal: `errors` (InstanceError, RemoteFailure),
`declarations` (one declaration per stage, from which planning, running, the checks and the
schema's backend lists are derived) and `provenance` (the stamp on every record, package
versions). The packages above them, from the bottom up (each may import only those listed
before it): `imaging` (file formats, frames with the one box type, mask geometry), `config`
(schemas and settings files, package-data paths), `models` (one module per network family, the
weights, the model cache, visible GPUs), `metrics`, `synthetic` (the benchmark generator),
`datasets` (the instance table and its formats), `plan` (folder keys, layout, shards, jobs,
preflight: no Snakemake, no torch), `stages` (one module per stage; `complete/` its backends),
`run` (running jobs, GPU claims, the one-image driver), `tables`, `report`, `cli`.
"""

__version__ = "0.1.0"
