"""Settings files read outside Snakemake (the command line, benchmarks): the config and experiment
schemas, `base:` merging, and input paths that do not depend on the working directory.
"""
