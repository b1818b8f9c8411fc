"""What a Lightning + Hydra user expects of the command line: --version, a --help that says what
each key does, --cfg that shows a config even when a value is wrong, the profiler's report."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from tests.helpers import run_cli
from xor_lightning.base.config_dir import config_dir
from xor_lightning.cli.config_help import descriptions, leaf_keys
from xor_lightning.cli.main import main

# configs/networks holds weight files (weights_file.py), data rather than config.
GROUPS = [p.name for p in sorted(Path(config_dir()).iterdir())
          if p.is_dir() and p.name not in ("hydra", "experiment", "networks")]


def test_version(capsys, tmp_path):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"xor-lightning {version('xor-lightning')}\n"
    res = run_cli("--version", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"xor-lightning {version('xor-lightning')}"


def _options() -> list[tuple[str, str]]:
    return [(g, p.stem) for g in GROUPS for p in sorted((Path(config_dir()) / g).glob("*.yaml"))]


@pytest.mark.parametrize("group, option", _options())
def test_every_key_of_every_config_file_has_a_description(group, option):
    """A key added to a config file without a `# what it does` comment fails here."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", [f"{group}={option}"], return_hydra_config=True)
    known = descriptions("train", dict(cfg.hydra.runtime.choices))
    missing = [k for k in leaf_keys(cfg) if k not in known]
    assert not missing, f"add a comment beside these keys in configs/: {missing}"


def test_evaluate_keys_have_descriptions():
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("evaluate", return_hydra_config=True)
    known = descriptions("evaluate", dict(cfg.hydra.runtime.choices))
    assert [k for k in leaf_keys(cfg) if k not in known] == []


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_help_gives_every_key_its_default_and_meaning_on_one_line(tmp_path, command):
    args = ["optimizer=sgd"] if command == "train" else []
    res = run_cli(command, *args, "--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    section = res.stdout.split("== Config (KEY=DEFAULT  what it does) ==", 1)[1].split("\n\n", 1)[0]
    lines = section.strip("\n").splitlines()
    keys = [line.split()[0].split("=", 1)[0] for line in lines]
    assert all(len(line.split(None, 1)) == 2 and "(added" not in line for line in lines), section
    if command == "train":
        assert {"seeds", "torch_threads", "ckpt_path", "checkpoint.last_every_n_epochs", "optimizer.momentum",
                "trainer.max_epochs", "callbacks"} <= set(keys)
        assert "  optimizer.momentum=0.0" in section and "momentum factor" in section
    else:
        assert keys[:5] == ["checkpoint", "weights", "member", "boundary", "space"]
    assert not any(tmp_path.iterdir())


def test_cfg_job_prints_the_config_then_says_what_is_wrong(tmp_path):
    res = run_cli("train", "--cfg", "job", "optimizer.lr=-1", "model.hidden=[3]", cwd=tmp_path)
    assert res.returncode == 2
    assert "  lr: -1" in res.stdout and "  - 3" in res.stdout  # the composed config, as given
    assert res.stderr == "error: optimizer.lr=-1 is not valid; expected a number > 0.0\n"
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("flags", [["--cfg", "hydra"], ["--cfg", "all", "--resolve"]])
def test_other_cfg_forms_also_print_before_the_error(tmp_path, flags):
    res = run_cli("train", *flags, "seeds=0", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr == "error: seeds=0 is not valid; expected an integer >= 1\n"
    assert "hydra:" in res.stdout or "run:" in res.stdout


def test_cfg_of_a_config_that_does_not_compose_is_the_one_line_error(tmp_path):
    res = run_cli("train", "--cfg", "job", "loss=foo", cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("error: loss='foo' is not a known choice") and res.stderr.count("\n") == 1


def test_cfg_of_a_good_config_exits_0(tmp_path):
    res = run_cli("train", "--cfg", "job", "seeds=5", cwd=tmp_path)
    assert res.returncode == 0 and "seeds: 5" in res.stdout and res.stderr == ""


def test_the_profiler_report_reaches_the_console_and_train_log(tmp_path):
    res = run_cli("train", "+trainer.profiler=simple", "trainer.max_epochs=3", "early_stop.enabled=false",
                  "visuals.report=false", "run_id=prof", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "FIT Profiler Report" in res.stdout and "run_training_epoch" in res.stdout
    log = (tmp_path / "run" / "train.log").read_text()
    assert "FIT Profiler Report" in log and "run_training_epoch" in log
