"""Every dataset format normalised to one instance table (`table`), a synthetic scene's ground truth
(`truth`) and the bounded working image every stage reads (`working`). Imports `imaging` only.
"""
