"""Every checkpoint loader builds its network on the device it loads to (`amodal.models.built_on`),
not on the CPU first: built on the CPU and moved, a large model spends most of its load time on
the CPU's random initialisation (docs/PERFORMANCE.md, 'Loading'). Each loader must create every
parameter inside `built_on(its device)`; on torch's 'meta' device, where nothing is computed,
SAM and InstaOrder must come out with every parameter made there. (GroundingDINO, RAM++ and
CLIP do not build on 'meta': groundingdino-py's Swin calls `.item()`, RAM++'s loader compares
buffers, open_clip copies a tensor; benchmarks/load_gpu.py builds all five on an H200, with
weights equal to a CPU build.)"""

import contextlib

import pytest
import torch
from torch.nn.modules.module import register_module_parameter_registration_hook

from amodal.models import clip, grounding_dino, instaorder, ram_plus, sam

from tiny_models import write_tiny_checkpoints


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return write_tiny_checkpoints(tmp_path_factory.mktemp("weights"))


def loaders(models):
    paths, arch = models["paths"], models["architectures"]
    return {
        "sam": lambda device: sam.load_sam(paths["sam_vit_h"], "vit_h", device=device, **arch["sam_vit_h"]),
        "grounding_dino": lambda device: grounding_dino.load_grounding_dino(
            paths["groundingdino_swint_ogc"],
            "swint_ogc",
            paths["bert_base_uncased"],
            device=device,
            overrides=arch["groundingdino_swint_ogc"]["overrides"],  # its input size is the Grounder's
        ),
        "ram_plus": lambda device: ram_plus.load_ram_plus(
            paths["ram_plus_swin_large_14m"], device=device, **arch["ram_plus_swin_large_14m"]
        ),
        "clip": lambda device: (
            clip.load_clip(paths["clip_vit_b32_openai"], device=device, **arch["clip_vit_b32_openai"]).model
        ),
        "instaorder": lambda device: instaorder.load_instaorder(
            paths["instaorder_od"], device=device, **arch["instaorder_od"]
        ),
    }


FAMILIES = {"sam": sam, "grounding_dino": grounding_dino, "ram_plus": ram_plus, "clip": clip, "instaorder": instaorder}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_loader_creates_every_parameter_inside_built_on_its_device(models, family, monkeypatch):
    inside, asked, created = [False], [], []

    @contextlib.contextmanager
    def spy(device):
        asked.append(device)
        inside[0] = True
        try:
            yield
        finally:
            inside[0] = False

    monkeypatch.setattr(FAMILIES[family], "built_on", spy)
    handle = register_module_parameter_registration_hook(
        lambda module, name, param: created.append(inside[0]) if param is not None else None
    )
    device = torch.device("cpu")  # an object, not the loaders' default "cpu": the context gets the loader's own
    try:
        loaders(models)[family](device)
    finally:
        handle.remove()
    assert len(asked) == 1 and asked[0] is device
    assert len(created) > 10 and all(created)  # the network was built, all of it inside the context


@pytest.mark.parametrize("family", ["sam", "instaorder"])
def test_on_the_meta_device_every_parameter_is_made_there(models, family):
    devices = []
    handle = register_module_parameter_registration_hook(
        lambda module, name, param: devices.append(param.device.type) if param is not None else None
    )
    try:
        model = loaders(models)[family]("meta")
    finally:
        handle.remove()
    assert len(devices) > 10 and set(devices) == {"meta"}
    assert {p.device.type for p in model.parameters()} == {"meta"}


def test_on_the_cpu_the_loaded_weights_are_the_checkpoints(models):
    # built on the device or not, what comes out is the checkpoint: compare with the file itself
    model = loaders(models)["instaorder"]("cpu")
    saved = torch.load(models["paths"]["instaorder_od"], map_location="cpu", weights_only=True)["state_dict"]
    state = model.state_dict()
    assert {k.removeprefix("module.") for k in saved} == set(state)
    for key, value in saved.items():
        assert torch.equal(state[key.removeprefix("module.")], value), key
