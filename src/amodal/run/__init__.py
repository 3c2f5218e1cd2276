"""Running planned jobs: one shard job in this process (`job`) with what each stage's declaration
names (`bodies`: per-instance and shard bodies), per-instance failure isolation
(`isolation`), GPU claims (`devices`), the one-image driver (`one_image`) and invalidation.
Imports `declarations`, `provenance`, `plan`, `stages`, `datasets`, `imaging`, `models`.
"""
