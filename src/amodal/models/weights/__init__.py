"""The checkpoints the method uses: the manifest (`manifest`, read from `weights.yaml` beside it),
where each one is on this machine (`locate`: `models.paths`, `$AMODAL_WEIGHTS`, the Hugging Face
and torch hub caches), checking one against its published size and sha256 (`verify`), and
fetching one over HTTP (`download`). Imports the standard library, pyyaml, huggingface_hub (for
its cache, never its network) and `amodal.models`' `MissingCheckpoint`; no torch.
"""
