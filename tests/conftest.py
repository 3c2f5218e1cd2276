import os

# No test may reach a model hub: weights are never downloaded here or in CI.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# `make test` runs one pytest-xdist worker per core and one more. A worker whose torch (OpenMP)
# uses every core oversubscribes them with the other workers' threads, and spinning OpenMP threads
# then slow the model tests severalfold (a complete job measured 8x slower). One thread per
# worker; workflow runs cap their jobs' threads the same way (workflow_helpers.snakemake).
if "PYTEST_XDIST_WORKER" in os.environ:
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = "1"


# `make test` hands whole modules to the workers (--dist loadfile, --no-loadscope-reorder), in
# collection order: the modules that take longest come first, so that no long module starts last
# while the other workers idle. Slowest first, as measured on the 2-core machine; the other
# modules follow in their usual order.
SLOWEST_FIRST = (
    "test_workflow_paper.py",
    "test_workflow_models.py",
    "test_workflow.py",
    "test_workflow_sharding.py",
    "test_slurm.py",
    "test_workflow_hostile.py",
    "test_workflow_external.py",
    "test_ground_lisa.py",
    "test_report_in_browser.py",
    "test_workflow_config.py",
    "test_loop_batch.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
