"""What an experiment needs on this machine: its checkpoints (found or not), the remote apps it
calls (configured, answering), the device and the package versions. The workflow checks the
checkpoints and the apps' addresses when it parses, so a missing one is one message naming the
file (or the config key) and what to do, before any job starts. The evaluate stage's model
metrics are the exception: their checkpoints are optional (`metric_weights`), an absent one
makes its metric `missing` with the reason, and the run goes on."""

from __future__ import annotations

from pathlib import Path

from amodal.declarations import STAGES, resolve


def weights_needed(spec: dict) -> dict[str, list[str]]:
    """Weights name (or diffusers folder / id) -> the "stage/backend"s of `spec` that load it
    (each planned stage's backend declaration names the settings that hold its checkpoints;
    a stage the experiment does not plan, such as an external completion's tag, loads nothing)."""
    from amodal.plan.keys import planned_stages

    needs: dict[str, list[str]] = {}
    for stage in planned_stages(spec):
        where = f"{stage}/{spec[stage]['backend']}"
        for name in STAGES[stage].weights_of(spec[stage]):
            if where not in needs.setdefault(name, []):
                needs[name].append(where)
    return needs


def metric_weights(spec: dict) -> dict[str, list[str]]:
    """Weights name -> the "<stage>/<metric>"s of `spec` that load it (the evaluate stage's
    model metrics). Optional: without one the metric is reported missing with the reason, and
    nothing stops."""
    needs: dict[str, list[str]] = {}
    for stage in STAGES.values():
        for metric, name in stage.metric_weights_of(spec[stage.name]).items():
            needs.setdefault(name, []).append(f"{stage.name}/{metric}")
    return needs


def backends_in_use(spec: dict):
    """(stage, its backend's declaration) for every planned stage of `spec`."""
    from amodal.plan.keys import planned_stages

    return [(stage, STAGES[stage].backend(spec[stage])) for stage in planned_stages(spec)]


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


def missing_settings(experiments: dict[str, dict], models: dict | None) -> list[str]:
    """One line per setting some experiment's backend needs and the config or the experiment
    lacks (each backend's declared `settings_check`): the address of a remote model (whether it
    answers is `amodal doctor`'s question: at parse time the app may not be up yet), the folder
    of another method's outputs (a missing file is only its instance's `no_output`; a missing
    folder is a mistake in the experiment). Each line names its experiment."""
    lines = [
        resolve(backend.settings_check)(name, spec, models)
        for name, spec in experiments.items()
        for _, backend in backends_in_use(spec)
        if backend.settings_check
    ]
    return [line for line in lines if line]


def lisa_address_problem(experiment: str, spec: dict, models: dict | None) -> str | None:
    """Why the LISA app cannot be called: its address is not configured (None if it is)."""
    from amodal.models.lisa import settings

    if settings(models)["url"]:
        return None
    return (
        f"ground/lisa of experiment {experiment!r} calls the LISA app but models.lisa.url is not set; start the "
        "app (docs/lisa.md) and set models.lisa.url to its address, e.g. http://127.0.0.1:7860/"
    )


def external_folder_problem(name: str, spec: dict, models: dict | None = None) -> str | None:
    """Why an experiment scoring another method's outputs cannot find their folder (None if it can)."""
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


def external_folder_row(experiment: str, spec: dict, models: dict | None) -> tuple[str, str, bool]:
    """`amodal doctor`'s line for another method's outputs: where they are read from."""
    problem = external_folder_problem(experiment, spec)
    state = problem or "folder {dir} (pattern {pattern}, placement {placement})".format(**spec["complete"]["external"])
    return "external outputs", state, problem is None


def lisa_row(experiment: str, spec: dict, models: dict | None) -> tuple[str, str, bool]:
    """`amodal doctor`'s line for the LISA app: where it is configured and whether it answers there
    with its endpoint."""
    from amodal.models import lisa

    remote = lisa.settings(models)
    if not remote["url"]:
        return "LISA app", "NOT CONFIGURED: set models.lisa.url to the LISA app's address (docs/lisa.md)", False
    try:
        version = lisa.probe(remote["url"], remote["api_name"], min(remote["timeout_s"], 10))
    except lisa.LisaError as error:
        return "LISA app", f"{remote['url']}: NOT USABLE ({error})", False
    return "LISA app", f"{remote['url']}: a Gradio {version} app with endpoint {remote['api_name']}", True


def report(experiment: str, spec: dict, models: dict | None) -> tuple[str, bool]:
    """A readable report and whether everything needed is there."""
    from amodal.provenance import versions

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
    for stage, backend in backends_in_use(spec):
        if backend.doctor_row:
            what, state, usable = resolve(backend.doctor_row)(experiment, spec, models)
            ok &= usable
            lines.append(f"  {what:<26} {stage + '/' + backend.name:<40} {state}")
    lines.append(f"device: {device_line(models)}")
    lines.append("packages: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    return "\n".join(lines), ok


def device_line(models: dict | None) -> str:
    """The device the models run on, and whether this machine has it: a configured `cuda` on a
    machine whose torch sees no GPU is said to be unusable here."""
    from amodal.models.cache import device_of

    try:
        import torch
    except ImportError:
        return "cpu (torch not installed)"
    device = device_of(models)
    configured = (models or {}).get("device", "auto")
    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            return f"{device} (configured) but this machine's torch sees no such GPU: the GPU stages would fail here"
    return f"{device} (auto)" if configured == "auto" else device
