"""Pixels and files: PNG/JSON/NPZ formats written atomically (`io`), frames and compositing
(`frames`), mask geometry and the seed's crop (`geometry`), segment matching (`matching`). Imports
nothing else of amodal.
"""
