import os

# No test may reach a model hub: weights are never downloaded here or in CI.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# `make test` runs one pytest-xdist worker per core. A worker whose torch (OpenMP) uses every core
# oversubscribes them with the other workers' threads, and spinning OpenMP threads then slow the
# model tests severalfold (a complete job measured 8x slower). One thread per worker; workflow
# runs cap their jobs' threads the same way (workflow_helpers.snakemake).
if "PYTEST_XDIST_WORKER" in os.environ:
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = "1"
