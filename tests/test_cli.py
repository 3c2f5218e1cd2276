"""`amodal`: a bad argument is one line naming it and exit status 2; bad input met while running
is one line and exit status 1; never a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amodal.cli.main import main as cli

ROOT = Path(__file__).resolve().parent.parent
AMODAL = Path(sys.executable).parent / "amodal"
SEED = ROOT / "data" / "seed_examples"
PHOTO = SEED / "gray_wallpaper.jpeg"


@pytest.fixture
def places(tmp_path):
    """A file, a folder and a path that does not exist."""
    (tmp_path / "a_file.txt").write_text("x")
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "list.yaml").write_text("- models\n")
    (tmp_path / "bad_models.yaml").write_text("models: {device: 3}\n")
    (tmp_path / "bad_experiment.yaml").write_text("complete: {backend: magic}\n")
    return {
        "file": str(tmp_path / "a_file.txt"),
        "folder": str(tmp_path / "a_folder"),
        "missing": str(tmp_path / "missing.json"),
        "list": str(tmp_path / "list.yaml"),
        "bad_models": str(tmp_path / "bad_models.yaml"),
        "bad_experiment": str(tmp_path / "bad_experiment.yaml"),
        "out": str(tmp_path / "out"),
    }


# (command line with {place} fields, the command's prog, the argument the message must name)
BAD_ARGUMENTS = [
    ("make-benchmark --out {out} --image-size 16", "make-benchmark", "--image-size"),
    ("make-benchmark --out {out} --image-size 111", "make-benchmark", "--image-size"),
    ("make-benchmark --out {out} --image-size big", "make-benchmark", "--image-size"),
    ("make-benchmark --out {out} --hidden-fraction 0.6,0.2", "make-benchmark", "--hidden-fraction"),
    ("make-benchmark --out {out} --hidden-fraction 0.3,0.3", "make-benchmark", "--hidden-fraction"),
    ("make-benchmark --out {out} --hidden-fraction 0.2", "make-benchmark", "--hidden-fraction"),
    ("make-benchmark --out {out} --hidden-fraction 0.2,1.5", "make-benchmark", "--hidden-fraction"),
    ("make-benchmark --out {out} --hidden-fraction x,0.5", "make-benchmark", "--hidden-fraction"),
    ("make-benchmark --out {out} --border-share 1.5", "make-benchmark", "--border-share"),
    ("make-benchmark --out {out} --border-share nan", "make-benchmark", "--border-share"),
    ("make-benchmark --out {out} --occluders 0,1", "make-benchmark", "--occluders"),
    ("make-benchmark --out {out} --occluders 2,1", "make-benchmark", "--occluders"),
    ("make-benchmark --out {out} --occluders 1,2,3", "make-benchmark", "--occluders"),
    ("make-benchmark --out {out} --behind -1,1", "make-benchmark", "--behind"),
    ("make-benchmark --out {out} --behind 0,1.5", "make-benchmark", "--behind"),
    ("make-benchmark --out {out} --n 0", "make-benchmark", "--n"),
    ("make-benchmark --out {out} --n two", "make-benchmark", "--n"),
    ("make-benchmark --out {out} --seed -1", "make-benchmark", "--seed"),
    ("make-benchmark --out {out} --cutouts {missing}", "make-benchmark", "--cutouts"),
    ("make-benchmark --out {out} --backgrounds {file}", "make-benchmark", "--backgrounds"),
    ("make-benchmark --out {file}", "make-benchmark", "--out"),
    ("instances --annotations {missing} --images {folder}", "instances", "--annotations"),
    ("instances --annotations {folder} --images {folder}", "instances", "--annotations"),
    ("instances --annotations {file} --images {missing}", "instances", "--images"),
    ("instances --annotations {file} --images {folder} --filenames {missing}", "instances", "--filenames"),
    ("instances --format xml --annotations {file} --images {folder}", "instances", "--format"),
    ("invalidate --stage paint scene_0000 --results {folder}", "invalidate", "--stage"),
    ("invalidate --stage order ../../x --results {folder}", "invalidate", "instances"),
    ("invalidate --stage order scene_0000 --results {folder} --dataset a/b", "invalidate", "--dataset"),
    ("invalidate --stage order scene_0000 --results {folder} --key ..", "invalidate", "--key"),
    ("invalidate --stage order scene_0000 --results {missing}", "invalidate", "--results"),
    ("weights list sam_vit_x", "weights list", "names"),
    ("weights verify sam_vit_x", "weights verify", "names"),
    ("weights fetch sam_vit_x", "weights fetch", "names"),
    ("weights fetch sam_vit_b --base-url mirror.example", "weights fetch", "--base-url"),
    ("weights fetch sam_vit_b --dest {file}", "weights fetch", "--dest"),
    ("doctor --experiment no_such_experiment", "doctor", "--experiment"),
    ("doctor --experiment {missing}.yaml", "doctor", "--experiment"),
    ("doctor --experiment {bad_experiment}", "doctor", "--experiment"),
    ("doctor --experiment paper --experiments-dir {missing}", "doctor", "--experiments-dir"),
    ("doctor --experiment paper --config {missing}", "doctor", "--config"),
    ("doctor --experiment paper --config {list}", "doctor", "--config"),
    ("doctor --experiment paper --config {bad_models}", "doctor", "--config"),
    ("complete {missing} --query cat", "complete", "image"),
    ("complete {photo} --query cat --experiment no_such_experiment", "complete", "--experiment"),
    ("complete {photo} --query cat --wallpaper {missing}", "complete", "--wallpaper"),
    ("complete {photo} --query cat --out {file}", "complete", "--out"),
    ("complete {photo} --query cat --config {missing}", "complete", "--config"),
    ("complete {photo} --query cat --experiments-dir {file}", "complete", "--experiments-dir"),
]


@pytest.mark.parametrize("line, prog, argument", BAD_ARGUMENTS, ids=[case[0] for case in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_naming_it_and_status_2(line, prog, argument, places, capsys):
    argv = line.format(photo=PHOTO, **places).split()
    with pytest.raises(SystemExit) as exit_:
        cli(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"amodal {prog}: error: argument {argument}: "), lines[0]
    assert captured.out == ""
    assert not Path(places["out"]).exists()  # nothing was written


def test_the_empty_query_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(["complete", str(PHOTO), "--query", "  "])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("amodal complete: error: argument --query: ")


def test_a_missing_required_argument_or_command_is_one_line(capsys):
    for argv, prefix in (
        (["make-benchmark"], "amodal make-benchmark: error: "),
        ([], "amodal: error: "),
        (["weights"], "amodal weights: error: "),
    ):
        with pytest.raises(SystemExit) as exit_:
            cli(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith(prefix), err


def test_the_smallest_image_size_accepted_builds_a_benchmark(tmp_path, capsys):
    # The largest target is 75 % of the side and needs 12 px (+4 px slack) on both sides:
    # 0.75 * s <= s - 28, so s >= 112.
    assert cli(["make-benchmark", "--out", str(tmp_path / "b"), "--n", "1", "--image-size", "112"]) == 0
    assert (tmp_path / "b" / "scene_0000" / "scene.json").is_file()


def test_the_edges_of_the_ranges_are_accepted(tmp_path):
    assert (
        cli(
            [
                "make-benchmark",
                "--out",
                str(tmp_path / "b"),
                "--n",
                "1",
                "--seed",
                "0",
                "--image-size",
                "160",
                "--hidden-fraction",
                "0,1",
                "--border-share",
                "1",
                "--occluders",
                "1,1",
                "--behind",
                "0,0",
            ]
        )
        == 0
    )
    params = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    assert params["hidden_fraction"] == [0.0, 1.0] and params["border_share"] == 1.0
    assert params["occluders"] == [1, 1] and params["behind"] == [0, 0]


def test_bad_input_found_while_running_is_one_line_and_status_1(tmp_path, capsys):
    broken = tmp_path / "ann.json"
    broken.write_text('{"annotations": [')
    assert cli(["instances", "--annotations", str(broken), "--images", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("amodal instances: error: ") and str(broken) in err[0]

    not_an_image = tmp_path / "photo.jpg"
    not_an_image.write_text("not a JPEG")
    assert (
        cli(
            [
                "complete",
                str(not_an_image),
                "--query",
                "the cat",
                "--experiment",
                "baseline_classical",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("amodal complete: error: ") and str(not_an_image) in err[0]


def test_a_hidden_fraction_no_scene_reaches_is_one_line_naming_what_to_change(tmp_path, capsys):
    out = tmp_path / "bench"
    assert cli(["make-benchmark", "--out", str(out), "--n", "1", "--hidden-fraction", "0.97,0.99"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("amodal make-benchmark: error: scene_0000: no placement"), err
    assert "(0.97, 0.99)" in err[0] and "widen hidden_fraction" in err[0]
    assert "target_size" not in err[0]  # no option of that name exists to widen


def test_amodal_traceback_shows_the_traceback(tmp_path, monkeypatch):
    broken = tmp_path / "ann.json"
    broken.write_text('{"annotations": [')
    monkeypatch.setenv("AMODAL_TRACEBACK", "1")
    with pytest.raises(ValueError):
        cli(["instances", "--annotations", str(broken), "--images", str(tmp_path)])


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["make-benchmark", "--out", "b", "--hidden-fraction", "0.6,0.2"],
            "amodal make-benchmark: error: argument --hidden-fraction: ",
        ),
        (
            ["make-benchmark", "--out", "b", "--image-size", "16"],
            "amodal make-benchmark: error: argument --image-size: ",
        ),
        (
            ["instances", "--annotations", "missing.json", "--images", "."],
            "amodal instances: error: argument --annotations: file not found: missing.json",
        ),
    ],
)
def test_the_installed_command_prints_no_traceback(tmp_path, args, message):
    done = subprocess.run([str(AMODAL), *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "b").exists()


def test_experiments_lists_each_with_the_weights_and_ground_truth_it_needs(tmp_path, capsys):
    import yaml

    folder = tmp_path / "exps"
    folder.mkdir()
    (folder / "weight_free.yaml").write_text(yaml.safe_dump({"description": "Oracle all the way. More text."}))
    models = {
        "ground": {"backend": "grounded_sam", "grounded_sam": {"sam": "sam_vit_b"}},
        "tag": {"backend": "clip_vocab"},
        "segment": {"backend": "oracle"},
        "order": {"backend": "geometric"},
        "prompt": {"backend": "query"},
    }
    (folder / "models.yaml").write_text(yaml.safe_dump(models))
    (folder / "typo.yaml").write_text(yaml.safe_dump({"complete": {"max_pases": 1}}))
    assert cli(["experiments", "--experiments-dir", str(folder)]) == 1  # the bad file
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    # the defaults ground, tag and segment with the oracle, order geometric, complete classically
    assert lines["weight_free"].split()[1:6] == ["none", "ground/oracle,", "tag/oracle,", "segment/oracle", "Oracle"]
    assert lines["weight_free"].rstrip().endswith("Oracle all the way")
    fields = lines["models"].split()
    assert fields[1:5] == ["groundingdino_swint_ogc,", "bert_base_uncased,", "sam_vit_b,", "clip_vit_b32_openai"]
    assert fields[5] == "segment/oracle"
    assert "`complete.max_pases`: unknown" in lines["typo"]


def test_version_is_the_packages_and_every_command_describes_itself(capsys):
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as done:
        cli(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"amodal {version}"
    for command in (["make-benchmark"], ["invalidate"], ["weights", "fetch"], ["doctor"], ["complete"]):
        with pytest.raises(SystemExit):
            cli([*command, "--help"])
        out = capsys.readouterr().out
        description = out.split("\n\n")[1].strip()
        assert description[:1].isupper() and description.endswith("."), (command, description)
