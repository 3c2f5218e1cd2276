"""The completion stage (`stage`: its inputs, classical backend and files), the seed's pass loop
(`loop`), the diffusion backend (`diffusion`) and other methods' saved outputs (`external`).
"""
