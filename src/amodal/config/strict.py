"""Unknown keys in a config or experiment, found before anything runs.

A mapping whose schema lists its `properties` accepts only those keys, whether or not the
schema says `additionalProperties: false`: a misspelt setting (`complete.classical.methd`) would
otherwise be ignored and its default used, while the run looks configured. Mappings whose keys
are the user's names (datasets, `models.paths`, `models.architectures`) stay open; their values
are checked against the schema they give. Each unknown key is named by its path, with the
nearest valid key when one is close.
"""

from __future__ import annotations

import difflib


def unknown_keys(data, schema: dict) -> list[str]:
    """One line per key of a mapping in `data` that its part of `schema` does not know, as
    "`complete.classical.methd`: unknown; did you mean `method`?" (paths dotted from the top)."""
    found: list[str] = []
    _walk(data, schema, schema, (), found)
    return found


def _resolve(schema: dict, root: dict) -> dict:
    """`schema` with a local `$ref` ("#/$defs/name") followed."""
    while isinstance(schema, dict) and "$ref" in schema:
        part = root
        for name in schema["$ref"].removeprefix("#/").split("/"):
            part = part[name]
        schema = part
    return schema


def _object_alternative(schema: dict, root: dict) -> dict:
    """The schema a mapping is checked against: `schema` itself, or its first `oneOf`/`anyOf`
    alternative that describes a mapping (the others are for other types: `shard_size` is an
    integer or a mapping)."""
    for choice in schema.get("oneOf", []) + schema.get("anyOf", []):
        choice = _resolve(choice, root)
        if "properties" in choice or choice.get("type") == "object":
            return choice
    return schema


def _walk(data, schema, root: dict, path: tuple, found: list[str]) -> None:
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(data):
            _walk(item, schema["items"], root, (*path, str(index)), found)
        return
    if not isinstance(data, dict):
        return
    schema = _object_alternative(schema, root)
    known = schema.get("properties", {})
    extra = schema.get("additionalProperties", "properties" not in schema)
    for key, value in data.items():
        if key in known:
            _walk(value, known[key], root, (*path, key), found)
        elif isinstance(extra, dict):
            _walk(value, extra, root, (*path, str(key)), found)
        elif extra is not True:
            found.append(_unknown(path, str(key), list(known)))


def _unknown(path: tuple, key: str, known: list[str]) -> str:
    where = ".".join((*path, key))
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if near:
        return f"`{where}`: unknown; did you mean `{near[0]}`?"
    valid = ", ".join(f"`{name}`" for name in known) or "none"
    return f"`{where}`: unknown; valid keys here: {valid}"
