"""Running planned jobs: one shard job in this process (`job`) with what each stage's declaration
names (`bodies`: per-instance and shard bodies), per-instance failure isolation
(`isolation`), GPU memory and GPU claims (`gpu_memory`, `devices`), the one-image driver
(`one_image`), invalidation and provenance. Imports `plan`, `stages`, `datasets`, `imaging`,
`models`.
"""
