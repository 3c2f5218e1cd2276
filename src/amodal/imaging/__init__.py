"""Pixels and files: PNG/JSON/NPZ formats written atomically (`io`), the one box type `Region`,
frames and compositing (`frames`), border contact and the seed's crop (`geometry`, which imports
`frames`, never the reverse), segment matching (`matching`). Imports nothing else of amodal.
"""
