"""The command line as a user runs it: a real subprocess, real files, one-line errors."""

import json

import pytest

from tests.helpers import assert_refused_in_process, run_cli
from xor_lightning.cli.main import main


def test_train_then_evaluate_through_the_cli(tmp_path):
    out = tmp_path / "run"
    res = run_cli("train", "seeds=4", f"hydra.run.dir={out}", "run_id=cli", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "population: 4 seeds (0..3): solved 4/4" in res.stdout
    assert "SOLVED: 4/4 rows right" in res.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["solved"] == 4 and (out / ".hydra" / "config.yaml").is_file()
    assert (out / "train.log").read_text().count("SOLVED") == 1
    best = tmp_path / "checkpoints" / "cli" / "best.ckpt"
    assert metrics["best_checkpoint"] == str(best) and best.is_file()
    assert list((tmp_path / "logs" / "cli").glob("events.out.tfevents.*"))
    assert "Traceback" not in res.stderr and "Seed set" not in res.stdout + res.stderr

    ev = run_cli("evaluate", f"checkpoint={best}", "member=2", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    assert "member 2 (seed 2)" in ev.stdout and "SOLVED: 4/4 rows right" in ev.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "logs", "run"]  # evaluate writes nothing


def test_help_lists_commands_and_groups(tmp_path, capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    res = run_cli("train", "--help", cwd=tmp_path)
    assert res.returncode == 0
    for text in ("loss: bce, bce_with_logits, hinge_embedding, kl_div, l1, mse, multilabel_soft_margin, poisson_nll, "
                 "smooth_l1, soft_margin",
                 "optimizer: adadelta, adagrad, adam, adamax, adamw, asgd, rmsprop, rprop, sgd",
                 "device: auto, cpu, cuda, mps", "trainer.max_epochs=1000"):
        assert text in res.stdout, text
    res = run_cli("evaluate", "--help", cwd=tmp_path)
    assert res.returncode == 0 and "checkpoint=PATH" in res.stdout
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "model.activation=foo"], "error: model.activation='foo' is not valid; choose one of: relu, leaky_relu, elu"),
        (["train", "model.hidden=[0]"], "error: model.hidden=[0] is not valid; expected a list of widths >= 1"),
        (["train", "optimizer.lr=-1"], "error: optimizer.lr=-1 is not valid; expected a number > 0"),
        (["train", "seeds=0"], "error: seeds=0 is not valid; expected an integer >= 1"),
        (["train", "loss=foo"],
         "error: loss='foo' is not a known choice; choose one of: bce, bce_with_logits, hinge_embedding, kl_div, l1, mse"),
        (["train", "model.depth=3"], "error: model.depth is not a config key; valid keys under model: hidden, activation"),
        (["train", "-m", "optimizer=sgd,foo"], "error: optimizer='foo' is not a known choice"),
        (["evaluate", "checkpoint=missing.ckpt"], "error: checkpoint=missing.ckpt: no such file"),
        (["evaluate"], "error: evaluate needs checkpoint=PATH"),
        (["fly"], "error: unknown command 'fly'; choose one of: train, evaluate"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(args, message, tmp_path, capsys)


def test_bad_input_through_the_real_cli_exits_2_without_traceback(tmp_path):
    res = run_cli("train", "model.activation=foo", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: model.activation='foo' is not valid") and res.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())
