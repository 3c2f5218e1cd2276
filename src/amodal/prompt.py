"""Stage `prompt`: what should the inpainter draw?"""

from __future__ import annotations

import re

ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


def prompt_query(query: str) -> dict:
    """The query itself as the object name, without a leading article."""
    text = ARTICLE.sub("", query.strip()).strip()
    return {"backend": "query", "prompt": text or query.strip(), "candidates": {}}


def run_prompt(spec: dict, query: str, gt_path) -> dict:
    from . import io

    if spec["backend"] != "query":
        raise ValueError(f"unknown prompt backend {spec['backend']!r}")
    if not query and gt_path:
        query = io.read_json(gt_path)["query"]  # the benchmark's query lives in its scene file
    return prompt_query(query)
