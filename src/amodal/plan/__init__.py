"""Planning a run without Snakemake or torch: one declaration per stage, from which the rest is
derived (`declarations`), stage folder keys (`keys`), every path and file name
(`layout`), shard membership (`shards`), the jobs with their resources and fusing (`jobs`) and what
must exist before any job (`preflight`). Imports `datasets`, `config` and the model manifest
(`models.weights`), never a network.
"""
