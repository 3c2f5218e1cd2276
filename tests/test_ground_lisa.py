"""Ground backend lisa against a real Gradio app: tests/lisa_server/app.py serves the seed's LISA
interface with gradio 3.39 (the seed's server) from its own environment (`make lisa-server`),
with a mask made from the image (the pixels brighter than its mean) instead of LISA. The mask
comes back as the app made it; a hung, failing, garbled or absent app fails only its instance,
as `remote_failed` with what went wrong, after a bounded number of calls (the client's waits
between them are recorded, not waited; a hang is the test runner's timeout to catch)."""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from amodal.errors import RemoteFailure
from amodal.imaging import io
from amodal.cli.main import main as cli
from amodal.stages.ground import run_ground
from amodal.models import lisa
from amodal.models.cache import ModelCache
from amodal.models.lisa import LisaError, read_answer
from amodal.run.job import run_stage_job
from amodal.config.schema import validated
from workflow_helpers import ROOT, command, environment, snakemake

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # neither the client nor the app reports usage
SERVER_PYTHON = Path(os.environ.get("AMODAL_LISA_SERVER_PYTHON", ROOT / "build" / "lisa-server" / "bin" / "python"))
APP = ROOT / "tests" / "lisa_server" / "app.py"
FAST = {"timeout_s": 20, "attempts": 3, "backoff_s": 0.05}


class App:
    """The running stand-in app: its address, what it does per prompt, the calls it saw."""

    def __init__(self, url: str, folder: Path):
        self.url, self.folder = url, folder

    def behave(self, prompt: str, behaviour: str) -> None:
        path = self.folder / "behaviours.json"
        table = json.loads(path.read_text())
        table[prompt] = behaviour
        path.write_text(json.dumps(table))

    def calls(self, prompt: str) -> list[dict]:
        lines = (self.folder / "calls.jsonl").read_text().splitlines()
        return [call for call in map(json.loads, lines) if call["prompt"] == prompt]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not SERVER_PYTHON.exists():
        pytest.fail(f"the stand-in LISA app's environment is missing ({SERVER_PYTHON}): run `make lisa-server`")
    folder = tmp_path_factory.mktemp("lisa_app")
    (folder / "behaviours.json").write_text("{}")
    (folder / "calls.jsonl").write_text("")
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", GRADIO_TEMP_DIR=str(folder / "tmp"))
    with open(folder / "app.log", "w") as log:
        process = subprocess.Popen(
            [str(SERVER_PYTHON), str(APP), str(folder / "behaviours.json"), str(folder / "calls.jsonl")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 120
        while "LISTENING" not in (folder / "app.log").read_text():
            assert process.poll() is None and time.monotonic() < deadline, (folder / "app.log").read_text()
            time.sleep(0.1)
        url = (folder / "app.log").read_text().split("LISTENING ")[1].split()[0]
        yield App(url, folder)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def box_image(folder: Path, name="box.png", shape=(48, 80), rows=(10, 30), cols=(20, 50)) -> tuple[Path, np.ndarray]:
    """A black image with a white box, and the box as a mask (what the stand-in app finds)."""
    image = np.zeros((*shape, 3), np.uint8)
    image[rows[0] : rows[1], cols[0] : cols[1]] = 255
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    io.write_image(folder / name, image)
    return folder / name, mask


def lisa_spec(template: str = "{}") -> dict:
    experiment = {"ground": {"backend": "lisa", "lisa": {"prompt_template": template}}}
    return validated(experiment, "experiment.schema.yaml")["ground"]


def ground(app, image, query, template="{}", **remote):
    models = ModelCache({"lisa": dict(FAST, url=app.url, **remote)})
    return run_ground(lisa_spec(template), image, "", "inst", query=query, models=models)


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """The client's waits between attempts, recorded instead of waited."""
    waited: list[float] = []
    monkeypatch.setattr(lisa, "pause", waited.append)
    return waited


def remote_failure(app, image, query, **remote) -> RemoteFailure:
    with pytest.raises(RemoteFailure) as caught:
        ground(app, image, query, **remote)
    return caught.value


def test_the_mask_comes_back_as_the_app_made_it_with_the_seeds_score(app, tmp_path):
    image, expected = box_image(tmp_path)
    mask, record = ground(app, image, "white box", template="Can you segment the {} in this image?")
    assert mask.dtype == bool and np.array_equal(mask, expected)
    prompt = "Can you segment the white box in this image?"
    assert (record["status"], record["score"], record["area"], record["box_xyxy"]) == (
        "ok",
        1.0,
        600,
        [20, 10, 50, 30],
    )  # x0, y0, x1, y1, ends exclusive
    assert record["lisa"] == {
        "model": "LISA-13B-llama2-v1",
        "prompt": prompt,
        "calls": 1,
        "url": app.url,
        "answer": f"ASSISTANT: Sure, [SEG] for: {prompt}",
    }
    assert [call["shape"] for call in app.calls(prompt)] == [[48, 80]]


def test_the_seeds_template_sends_the_query_alone_and_its_validity_test_applies(app, tmp_path):
    image, _ = box_image(tmp_path, rows=(0, 3), cols=(0, 10))  # 30 px of 3840: below 1 % of the image
    mask, record = ground(app, image, "tiny box")
    assert len(app.calls("tiny box")) == 1 and mask.sum() == 30
    assert record["status"] == "invalid_query" and "0.0078" in record["reason"]


def test_a_photo_stored_sideways_is_sent_upright(app, tmp_path):
    upright, expected = box_image(tmp_path, shape=(80, 48), rows=(5, 60), cols=(10, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown after a quarter turn clockwise
    Image.fromarray(np.rot90(io.read_rgb(upright))).save(tmp_path / "sideways.png", exif=exif)
    mask, record = ground(app, tmp_path / "sideways.png", "sideways box")
    assert [call["shape"] for call in app.calls("sideways box")] == [[80, 48]]
    assert np.array_equal(mask, expected) and record["status"] == "ok"


def test_an_empty_query_is_invalid_without_a_call(app, tmp_path):
    image, _ = box_image(tmp_path)
    mask, record = ground(app, image, "  \t")
    assert (record["status"], record["reason"]) == ("invalid_query", "the query is empty") and not mask.any()
    assert app.calls("  \t") == []


def test_an_app_slower_than_the_timeout_fails_the_instance_after_its_attempts(app, tmp_path, pauses):
    image, _ = box_image(tmp_path)
    app.behave("slow box", "sleep:8")
    error = remote_failure(app, image, "slow box", timeout_s=1, attempts=2, backoff_s=0.1)
    assert pauses == [0.1]  # one wait, of backoff_s, between the two calls
    assert error.status == "remote_failed" and error.instance == "inst"
    assert str(error).startswith(
        "instance 'inst': remote_failed (timeout) calling the LISA app: no answer within 1 s (2 calls)"
    )
    assert error.details == {"failure": "remote_failed", "remote": {"error": "timeout", "calls": 2, "url": app.url}}
    assert len(app.calls("slow box")) == 2


def test_an_app_that_raises_is_called_attempts_times_with_backoff_then_fails(app, tmp_path, pauses):
    image, _ = box_image(tmp_path)
    app.behave("broken box", "raise")
    error = remote_failure(app, image, "broken box", attempts=3, backoff_s=0.3)
    assert pauses == [0.3, 0.6]  # waited before the second and, doubled, before the third call
    assert "remote_failed (server_error)" in str(error) and "(3 calls)" in str(error)
    time.sleep(0.5)
    assert len(app.calls("broken box")) == 3  # and no more


def test_the_seed_apps_refusal_of_a_query_is_a_server_error(app, tmp_path):
    # the seed's app returns two values for its three outputs when its input check fails
    image, _ = box_image(tmp_path)
    app.behave("refused box", "two_outputs")
    error = remote_failure(app, image, "refused box", attempts=2)
    assert "remote_failed (server_error)" in str(error) and len(app.calls("refused box")) == 2
    assert "refuses prompts" not in str(error)  # the seed's app accepts this prompt: no hint
    app.behave("box #2", "two_outputs")
    error = remote_failure(app, image, "box #2", attempts=1)
    assert "the seed's LISA app refuses prompts with characters other than letters, spaces and" in str(error)


@pytest.mark.parametrize(
    "behaviour, words",
    [
        ("wrong_shape", "the mask is 47×80, the image sent 48×80"),
        ("not_binary", "the mask is not binary: it holds 0.5 besides 0 and 1"),
        ("no_mask", "the mask is 1×3, the image sent 48×80"),  # gradio 3.39 shows None as an empty 1×3 table
    ],
)
def test_a_garbled_answer_fails_the_instance_after_one_call(app, tmp_path, behaviour, words, pauses):
    image, _ = box_image(tmp_path)
    app.behave(f"{behaviour} box", behaviour)
    error = remote_failure(app, image, f"{behaviour} box", attempts=3)
    assert pauses == []
    assert f"remote_failed (bad_output) calling the LISA app: {words} (1 call)" in str(error)
    assert len(app.calls(f"{behaviour} box")) == 1  # the same question would get the same answer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_closed_port_is_unreachable_after_every_attempt(tmp_path, pauses):
    image, _ = box_image(tmp_path)
    closed = App(f"http://127.0.0.1:{free_port()}/", tmp_path)
    error = remote_failure(closed, image, "box", attempts=2, backoff_s=0.1)
    assert pauses == [0.1]
    assert error.details["remote"] == {"error": "unreachable", "calls": 2, "url": closed.url}
    assert "remote_failed (unreachable) calling the LISA app: cannot connect" in str(error)


def test_a_server_that_accepts_and_never_answers_times_out(tmp_path, pauses):
    image, _ = box_image(tmp_path)
    with socket.socket() as silent:  # the kernel completes connections into its backlog; nothing answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mute = App(f"http://127.0.0.1:{silent.getsockname()[1]}/", tmp_path)
        error = remote_failure(mute, image, "box", timeout_s=1, attempts=2, backoff_s=0.1)
    assert pauses == [0.1]
    assert error.details["remote"] == {"error": "timeout", "calls": 2, "url": mute.url}
    assert "remote_failed (timeout) calling the LISA app: no answer within 1 s (2 calls)" in str(error)


def test_without_an_address_the_backend_says_which_setting_is_missing(tmp_path):
    image, _ = box_image(tmp_path)
    with pytest.raises(ValueError, match="models.lisa.url"):
        run_ground(lisa_spec(), image, "", "inst", query="box", models=ModelCache())


# The app's outputs as gradio_client hands them over, built by hand: what the server cannot send.
def outputs_with(table, tmp_path):
    if isinstance(table, str):
        (tmp_path / "mask.json").write_text(table)
        table = str(tmp_path / "mask.json")
    return (str(tmp_path / "overlay.png"), table, "text")


def test_a_gradio_4_table_and_a_gradio_3_file_give_the_same_mask(tmp_path):
    rows = [[False, True, True], [0, 1, 0]]
    expected = np.array([[False, True, True], [False, True, False]])
    for table in (
        {"headers": ["1", "2", "3"], "data": rows, "metadata": None},
        json.dumps({"headers": [1, 2, 3], "data": rows}),
    ):
        mask, text = read_answer(outputs_with(table, tmp_path), (2, 3))
        assert np.array_equal(mask, expected) and text == "text"


@pytest.mark.parametrize(
    "table, words",
    [
        ('{"headers": [1, 2, 3]}', "the mask output has no 'data'"),
        ("[[true, false, true]]", "the mask output has no 'data'"),
        ("{not json", "cannot be read as JSON"),
        ({"data": [[True, False, True], [True]]}, "the mask's rows have different lengths"),
        ({"data": [["yes", "no", "no"], ["no", "no", "no"]]}, "the mask is not binary: it holds str 'yes'"),
        ({"data": [[0, 1, float("nan")], [0, 0, 0]]}, "the mask is not binary: it holds nan"),
        ({"data": [[0, 2, 0], [0, 0, 0]]}, "the mask is not binary: it holds 2"),
        ({"data": [[[0, 1, 0]], [[0, 1, 0]]]}, "the mask is 2×1×3, the image sent 2×3"),
        ({"data": []}, "the mask is empty, the image sent 2×3"),
        ({"data": "true"}, "the mask is a single value, the image sent 2×3"),
    ],
)
def test_garbage_in_the_mask_table_is_a_bad_output(tmp_path, table, words):
    with pytest.raises(LisaError) as caught:
        read_answer(outputs_with(table, tmp_path), (2, 3))
    assert caught.value.kind == "bad_output" and words in caught.value.message


def test_a_missing_mask_file_and_missing_outputs_are_bad_outputs(tmp_path):
    for outputs, words in [
        (("a.png", str(tmp_path / "gone.json"), ""), "cannot be read as JSON"),
        (("a.png", "ASSITANT: a cat"), "the app gives 2 outputs, not the seed's three"),  # LISA's app.py
        ("a.png", "expected the app's outputs (image, mask, text)"),
        (None, "expected the app's outputs"),
    ]:
        with pytest.raises(LisaError) as caught:
            read_answer(outputs, (2, 3))
        assert caught.value.kind == "bad_output" and words in caught.value.message


def test_one_instance_whose_call_fails_leaves_the_other_of_its_shard_running(app, tmp_path):
    image, expected = box_image(tmp_path)
    app.behave("shard broken box", "raise")
    items = [
        {"id": name, "image": str(image), "gt": "", "query": query, "folder": str(tmp_path / name), "reads": {}}
        for name, query in [("first", "shard broken box"), ("second", "shard white box")]
    ]
    statuses = run_stage_job(
        "ground", lisa_spec(), "lisa-00000000", items, {"models": ModelCache({"lisa": dict(FAST, url=app.url)})}
    )
    assert statuses == {"first": "remote_failed", "second": "ok"}
    failed = io.read_json(tmp_path / "first" / "ground.json")
    assert failed["status"] == "failed" and failed["failure"] == "remote_failed"
    assert failed["reason"].startswith("instance 'first': remote_failed (server_error) calling the LISA app")
    assert failed["remote"] == {"error": "server_error", "calls": 3, "url": app.url}
    assert io.read_json(tmp_path / "second" / "ground.json")["status"] == "ok"
    assert np.array_equal(io.read_mask(tmp_path / "second" / "visible_mask.png"), expected)


def lisa_experiment(folder: Path) -> Path:
    spec = yaml.safe_load((ROOT / "config" / "experiments" / "baseline_classical.yaml").read_text())
    spec.update(description="LISA's visible mask, the rest without weights.", ground={"backend": "lisa"})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lisa_classical.yaml").write_text(yaml.safe_dump(spec))
    return folder


def scene_queries(folder: Path, seed: int) -> list[str]:
    """The queries of a 2-scene benchmark (the workflow builds the same scenes)."""
    from amodal.synthetic.params import SceneParams
    from amodal.synthetic.scenes import build_scenes

    ids = ["scene_0000", "scene_0001"]
    build_scenes(
        folder,
        ids,
        params=SceneParams(seed=seed, image_size=128),
        cutouts_dir=ROOT / "data" / "cutouts",
        backgrounds_dir=ROOT / "data" / "backgrounds",
    )
    return [json.loads((folder / i / "scene.json").read_text())["query"] for i in ids]


def test_through_the_workflow_a_failed_call_fails_its_instance_and_the_other_completes(app, tmp_path):
    seed = next(s for s in range(20) if len(set(scene_queries(tmp_path / f"probe{s}", s))) == 2)
    failing, working = scene_queries(tmp_path / "queries", seed)
    app.behave(failing, "raise")
    workdir = tmp_path / "run"
    config = {
        "results": "results",
        "experiments_dir": str(lisa_experiment(workdir / "experiments")),
        "experiments": ["lisa_classical"],
        "shard_size": 2,
        "models": {"lisa": {"url": app.url, "timeout_s": 20, "attempts": 2, "backoff_s": 0.05}},
        "datasets": {"bench": {"format": "synthetic", "n_scenes": 2, "seed": seed, "image_size": 128}},
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir)
    table = pd.read_csv(
        workdir / "results" / "lisa_classical" / "bench" / "metrics.csv", keep_default_na=False
    ).set_index("id")
    assert table.loc["scene_0000", "status"] == "failed"
    assert table.loc["scene_0000", "reason"].startswith("instance 'scene_0000': remote_failed (server_error)")
    assert table.loc["scene_0000", "failure"] == "remote_failed"  # the kind travels from ground to the tables
    assert table.loc["scene_0001", "status"] == "ok"
    manifests = list((workdir / "results" / "shards" / "bench" / "ground").rglob("*.json"))
    assert [json.loads(m.read_text())["instances"] for m in manifests] == [
        {"scene_0000": "remote_failed", "scene_0001": "ok"}
    ]
    assert len(app.calls(failing)) == 2 and len(app.calls(working)) == 1
    # once the app answers again, invalidating the failed instance's ground reruns its shard
    app.behave(failing, "mask")
    assert cli(["invalidate", "--stage", "ground", "scene_0000", "--results", str(workdir / "results")]) == 0
    snakemake(workdir)
    table = pd.read_csv(
        workdir / "results" / "lisa_classical" / "bench" / "metrics.csv", keep_default_na=False
    ).set_index("id")
    assert list(table["status"]) == ["ok", "ok"]
    assert len(app.calls(failing)) == 3 and len(app.calls(working)) == 2


def test_the_workflow_refuses_a_lisa_experiment_without_the_apps_address(tmp_path):
    workdir = tmp_path / "run"
    config = {
        "experiments_dir": str(lisa_experiment(workdir / "experiments")),
        "experiments": ["lisa_classical"],
        "datasets": {"bench": {"format": "synthetic", "n_scenes": 2, "image_size": 128}},
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(command(workdir, "--dry-run"), capture_output=True, text=True, env=environment(), timeout=300)
    assert done.returncode != 0
    assert (
        "ground/lisa of experiment 'lisa_classical' calls the LISA app but models.lisa.url is not set"
        in done.stderr + done.stdout
    )


def doctor(tmp_path, experiment: str, lisa: dict | None, capsys) -> tuple[int, str]:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"models": {"lisa": lisa} if lisa else {}}))
    code = cli(["doctor", "--experiment", experiment, "--config", str(tmp_path / "config.yaml")])
    return code, capsys.readouterr().out


def test_doctor_reports_the_lisa_app_only_for_experiments_that_call_it(app, tmp_path, capsys):
    experiment = str(lisa_experiment(tmp_path / "experiments") / "lisa_classical.yaml")
    code, out = doctor(tmp_path, experiment, {"url": app.url}, capsys)
    assert code == 0 and f"{app.url}: a Gradio 3.39.0 app with endpoint /predict" in out
    code, out = doctor(tmp_path, experiment, {"url": app.url, "api_name": "/segment"}, capsys)
    assert code == 1 and "NOT USABLE (server_error: the app has no endpoint /segment (it has /predict))" in out
    closed = f"http://127.0.0.1:{free_port()}/"
    code, out = doctor(tmp_path, experiment, {"url": closed}, capsys)
    assert code == 1 and f"{closed}: NOT USABLE (unreachable: cannot connect" in out
    code, out = doctor(tmp_path, experiment, None, capsys)
    assert code == 1 and "NOT CONFIGURED: set models.lisa.url" in out
    code, out = doctor(tmp_path, "baseline_classical", None, capsys)
    assert code == 0 and "LISA" not in out
