"""Running planned jobs: one shard job in this process (`job`) with what each stage's declaration
names (`bodies`: per-instance and shard bodies), per-instance failure isolation
(`isolation`), what a failed job keeps of its finished instances (`salvage`), the instance a
dead job was on run alone (`alone`), whether an instance fits in its job's memory (`memory`),
retrying only where it helps (`retry`), GPU claims (`devices`), the one-image driver
(`one_image`) and invalidation.
Imports `declarations`, `provenance`, `plan`, `stages`, `datasets`, `imaging`, `models`.
"""
