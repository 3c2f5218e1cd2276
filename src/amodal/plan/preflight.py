"""What an experiment needs on this machine: its checkpoints (found or not), the remote apps it
calls (configured, answering), the device and the package versions. The workflow checks the
checkpoints and the apps' addresses when it parses, so a missing one is one message naming the
file (or the config key) and what to do, before any job starts. The evaluate stage's model
metrics are the exception: their checkpoints are optional (`metric_weights`), an absent one
makes its metric `missing` with the reason, and the run goes on."""

from __future__ import annotations

from pathlib import Path


def weights_needed(spec: dict) -> dict[str, list[str]]:
    """Weights name (or diffusers folder / id) -> the "stage/backend"s of `spec` that load it."""
    needs: dict[str, list[str]] = {}

    def add(name: str, where: str) -> None:
        needs.setdefault(name, [])
        if where not in needs[name]:
            needs[name].append(where)

    from amodal.plan.keys import planned_stages

    # stages the experiment does not run (an external completion's tag, segment, order, prompt) load nothing
    spec = {
        stage: spec[stage] if stage in planned_stages(spec) else {"backend": None}
        for stage in spec
        if isinstance(spec[stage], dict)
    }
    for stage in ("ground", "segment"):
        if spec[stage]["backend"] == "grounded_sam":
            params = spec[stage]["grounded_sam"]
            for key in ("detector", "text_encoder", "sam"):
                add(params[key], f"{stage}/grounded_sam")
    if spec["tag"]["backend"] == "clip_vocab":
        add(spec["tag"]["clip_vocab"]["model"], "tag/clip_vocab")
    if spec["tag"]["backend"] == "ram_plus":
        add(spec["tag"]["ram_plus"]["model"], "tag/ram_plus")
    if spec["prompt"]["backend"] == "clip":
        add(spec["prompt"]["clip"]["model"], "prompt/clip")
    if spec["order"]["backend"] in ("instaorder", "depth"):
        backend = spec["order"]["backend"]
        add(spec["order"][backend]["model"], f"order/{backend}")
    if spec["complete"]["backend"] == "diffusers":
        add(spec["complete"]["diffusers"]["model"], "complete/diffusers")
    return needs


def metric_weights(spec: dict) -> dict[str, list[str]]:
    """Weights name -> the "evaluate/<metric>"s of `spec` that load it. Optional: without one
    the metric is reported missing with the reason, and nothing stops."""
    from amodal.plan.keys import MODEL_METRIC_SETTINGS

    needs: dict[str, list[str]] = {}
    for metric in MODEL_METRIC_SETTINGS:
        settings = spec["evaluate"][metric]
        if settings["enabled"]:
            needs.setdefault(settings["model"], []).append(f"evaluate/{metric}")
    return needs


def find(name: str, models: dict | None) -> tuple[Path | None, str]:
    """(where it is, or None; where it was looked for)."""
    from amodal.models.weights.locate import locate, weights_dir
    from amodal.models.weights.manifest import load_manifest

    configured = (models or {}).get("paths", {}).get(name)
    manifest = load_manifest()
    if name in manifest:
        looked = configured or str(weights_dir() / manifest[name].file)
        return locate(name, configured), looked
    path = Path(configured or name).expanduser()
    if path.exists():
        return path, str(path)
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(str(name), "model_index.json")
    return (Path(cached).parent if isinstance(cached, str) else None), f"{path} or the Hugging Face cache ({name})"


def missing_weights(experiments: dict[str, dict], models: dict | None) -> list[str]:
    """One line per checkpoint some experiment needs and this machine lacks."""
    lines = []
    seen = set()
    for experiment, spec in experiments.items():
        for name, where in weights_needed(spec).items():
            if name in seen:
                continue
            seen.add(name)
            found, looked = find(name, models)
            if found is None:
                lines.append(
                    f"{name} (for {', '.join(where)} of experiment {experiment!r}) not found at {looked}; "
                    f"run `amodal weights fetch {name}` on a machine with internet, or set models.paths.{name}"
                )
    return lines


def uses_lisa(spec: dict) -> bool:
    return spec["ground"]["backend"] == "lisa"


def missing_settings(experiments: dict[str, dict], models: dict | None) -> list[str]:
    """One line per remote model some experiment calls whose address the config lacks (whether
    it answers is `amodal doctor`'s question: at parse time the app may not be up yet), and per
    experiment scoring another method's outputs whose folder is unset or absent (a missing file
    is only its instance's `no_output`; a missing folder is a mistake in the experiment)."""
    from amodal.models.lisa import settings

    lines = [external_folder_problem(name, spec) for name, spec in experiments.items()]
    lines = [line for line in lines if line]
    users = [name for name, spec in experiments.items() if uses_lisa(spec)]
    if not users or settings(models)["url"]:
        return lines
    return lines + [
        f"ground/lisa of experiment {', '.join(map(repr, users))} calls the LISA app but models.lisa.url is "
        f"not set; start the app (docs/lisa.md) and set models.lisa.url to its address, e.g. http://127.0.0.1:7860/"
    ]


def external_folder_problem(name: str, spec: dict) -> str | None:
    """Why an experiment scoring another method's outputs cannot find their folder (None if it can)."""
    if spec["complete"]["backend"] != "external":
        return None
    folder = (spec["complete"].get("external") or {}).get("dir")
    if not folder:
        return (
            f"complete/external of experiment {name!r} reads another method's outputs but complete.external.dir is "
            "not set; set it to the folder holding them (docs/external.md)"
        )
    if not Path(folder).is_dir():
        return (
            f"complete/external of experiment {name!r}: folder {folder} (complete.external.dir) does not exist; "
            "export the method's outputs there (docs/external.md) or correct the path"
        )
    return None


def lisa_line(models: dict | None) -> tuple[str, bool]:
    """Where the LISA app is configured and whether it answers there with its endpoint."""
    from amodal.models import lisa

    remote = lisa.settings(models)
    if not remote["url"]:
        return "NOT CONFIGURED: set models.lisa.url to the LISA app's address (docs/lisa.md)", False
    try:
        version = lisa.probe(remote["url"], remote["api_name"], min(remote["timeout_s"], 10))
    except lisa.LisaError as error:
        return f"{remote['url']}: NOT USABLE ({error})", False
    return f"{remote['url']}: a Gradio {version} app with endpoint {remote['api_name']}", True


def report(experiment: str, spec: dict, models: dict | None) -> tuple[str, bool]:
    """A readable report and whether everything needed is there."""
    from amodal.models.cache import device_of
    from amodal.run.provenance import versions

    lines = [f"experiment {experiment}"]
    ok = True
    needs = weights_needed(spec)
    if not needs:
        lines.append("  its stages need no checkpoints")
    for name, where in needs.items():
        found, looked = find(name, models)
        ok &= found is not None
        state = f"found at {found}" if found else f"MISSING (looked at {looked}): amodal weights fetch {name}"
        lines.append(f"  {name:<26} {', '.join(where):<40} {state}")
    for name, where in metric_weights(spec).items():
        found, looked = find(name, models)
        state = (
            f"found at {found}"
            if found
            else f"missing (looked at {looked}), so the metric is reported missing: amodal weights fetch {name}"
        )
        lines.append(f"  {name:<26} {', '.join(where):<40} {state}")
    if spec["complete"]["backend"] == "external":
        problem = external_folder_problem(experiment, spec)
        ok &= problem is None
        state = problem or "folder {dir} (pattern {pattern}, placement {placement})".format(
            **spec["complete"]["external"]
        )
        lines.append(f"  {'external outputs':<26} {'complete/external':<40} {state}")
    if uses_lisa(spec):
        state, reachable = lisa_line(models)
        ok &= reachable
        lines.append(f"  {'LISA app':<26} {'ground/lisa':<40} {state}")
    try:
        device = device_of(models)
    except ImportError:
        device = "cpu (torch not installed)"
    lines.append(f"device: {device}")
    lines.append("packages: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    return "\n".join(lines), ok
