"""Pixels and files: PNG/JSON/NPZ formats written atomically (`io`), the one box type `Region`,
frames and compositing (`frames`), border contact and the seed's crop (`geometry`, which imports
`frames`, never the reverse), the other segments of an image held within a frame's memory
(`segments`), segment matching (`matching`). Imports nothing else of amodal.
"""
