"""Planning a run without Snakemake or torch, from the stage declarations (`amodal.declarations`):
stage folder keys (`keys`), every path and file name
(`layout`), shard membership (`shards`), one job (`job`), every job of a run (`jobs`), what a
job asks its scheduler for (`resources`), fused stage jobs (`fusing`) and what must exist before any job (`preflight`). Imports `declarations`, `provenance`, `datasets`,
`config` and, of `models`, the weights manifest and the visible GPUs; never a network.
"""
