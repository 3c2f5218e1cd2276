"""The synthetic-occlusion benchmark generator: cutouts pasted over photos with exact amodal ground
truth. `params` holds the knobs (SceneParams and the fixed constants), `sources` reads the cutouts
and backgrounds, `placement` draws and places the objects, `rendering` makes the pixels, and
`scenes` composes and writes scenes and benchmarks. Imports `imaging`, and `config` for the
shipped folders only.
"""
