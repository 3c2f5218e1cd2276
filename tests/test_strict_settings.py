"""A key no schema knows, at any depth of a config or an experiment, is refused with its path and
the nearest valid key (the issue's typos, each of which once ran silently with the default)."""

import pytest

from amodal.config.schema import EXPERIMENTS, load_experiment, validated


def refusal(data, schema, source=None):
    with pytest.raises(ValueError) as error:
        validated(data, schema, source=source)
    return str(error.value)


@pytest.mark.parametrize(
    "experiment,line",
    [
        ({"clasical": {}}, "`clasical`: unknown; valid keys here: `description`, `ground`"),  # top level
        ({"complete": {"max_pases": 1}}, "`complete.max_pases`: unknown; did you mean `max_passes`?"),  # a stage
        (
            {"complete": {"classical": {"methd": "ns"}}},  # a backend's settings
            "`complete.classical.methd`: unknown; did you mean `method`?",
        ),
        (
            {"segment": {"grounded_sam": {"box_treshold": 0.3}}},
            "`segment.grounded_sam.box_treshold`: unknown; did you mean `box_threshold`?",
        ),
    ],
)
def test_an_unknown_experiment_key_is_named_at_every_level(experiment, line):
    message = refusal(experiment, "experiment.schema.yaml", source="experiment mine.yaml")
    assert message.startswith("experiment mine.yaml: ") and line in message


GOOD = {"datasets": {"bench": {"format": "synthetic", "n_scenes": 2}}}


@pytest.mark.parametrize(
    "config,line",
    [
        ({**GOOD, "shard_sise": 1}, "`shard_sise`: unknown; did you mean `shard_size`?"),
        (
            {"datasets": {"bench": {"format": "synthetic", "n_scenes": 2, "image_sise": 256}}},  # a named dataset
            "`datasets.bench.image_sise`: unknown; did you mean `image_size`?",
        ),
        ({**GOOD, "shard_size": {"cpus": 4}}, "`shard_size.cpus`: unknown; did you mean `cpu`?"),  # one of two types
        ({**GOOD, "resources": {"gpu": {"mem": 1}}}, "`resources.gpu.mem`: unknown; did you mean `mem_mb`?"),  # $ref
        (
            {**GOOD, "models": {"batch": {"inpainting": 8}}},
            "`models.batch.inpainting`: unknown; did you mean `inpaint`?",
        ),
    ],
)
def test_an_unknown_config_key_is_named_at_every_level(config, line):
    assert line in refusal(config, "config.schema.yaml")


def test_every_unknown_key_is_named_at_once_before_any_other_problem():
    message = refusal(
        {"complete": {"max_pases": "one", "sise": 3}, "tag": {"backend": "nope"}}, "experiment.schema.yaml"
    )
    assert "`complete.max_pases`" in message and "`complete.sise`: unknown; did you mean `size`?" in message
    assert "nope" not in message  # the bad backend is reported once the keys are right


def test_the_users_own_names_stay_open_and_their_values_are_checked():
    config = {
        **GOOD,
        "models": {"paths": {"my_checkpoint": "/x.pth"}, "architectures": {"sam_vit_b": {"tiny": {"any": 1}}}},
    }
    assert validated(config, "config.schema.yaml")["models"]["paths"] == {"my_checkpoint": "/x.pth"}
    two = {"datasets": {"a": {"format": "seed", "annotation": "x.json"}, "b": {"format": "coco"}}}
    assert "`datasets.a.annotation`: unknown; did you mean `annotations`?" in refusal(two, "config.schema.yaml")


def test_every_shipped_experiment_is_known_key_for_key():
    names = sorted(path.stem for path in EXPERIMENTS.glob("*.yaml"))
    assert "paper" in names and len(names) > 3
    for name in names:
        load_experiment(name)
