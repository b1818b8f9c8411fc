"""The command line as a user runs it: a real subprocess, real files, one-line errors."""

import json
import subprocess
import sys

import pytest

from tests.helpers import _env, assert_refused_in_process, run_cli
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
        (["train", "trainer.accelerator=gpu"], "error: trainer.accelerator is not available: use device=cuda"),
        (["train", "+trainer.accelerator=gpu"], "error: trainer.accelerator is not available: use device=cuda"),
        # a typo gets the nearest valid name
        (["train", "loss=mes"], "error: loss='mes' is not a known choice; did you mean loss=mse? choose one of: bce,"),
        (["train", "optimizer=sdg"], "error: optimizer='sdg' is not a known choice; did you mean optimizer=sgd?"),
        (["train", "logger=[tensorboard,cvs]"], "error: logger='cvs' is not a known choice; did you mean logger=csv?"),
        (["trian"], "error: unknown command 'trian'; did you mean train? choose one of: train, evaluate"),
        (["train", "modle.hidden=[4]"], "error: modle.hidden is not a config key; did you mean model.hidden? to add"),
        (["train", "model.hiden=[4]"], "error: model.hiden is not a config key; did you mean model.hidden? valid keys"),
        (["train", "model.activation=tahn"], "error: model.activation='tahn' is not valid; did you mean tanh? choose"),
        (["train", "optimizer.lrr=0.1"], "error: optimizer.lrr is not an argument of torch.optim.Adam (optimizer=adam); "
                                          "did you mean optimizer.lr?"),
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


def test_one_network_reads_as_one_network_and_says_how_to_train_many(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "run_id=one", "visuals.report=false", "progress.bar=false"]) == 0
    out = capsys.readouterr().out
    assert "SOLVED: 4/4 rows right" in out
    assert "member" not in out.lower() and "margin" not in out.split("early_stop.margin=0.4", 1)[0], out
    assert "epoch 38/1000: solved, loss" in out  # the progress line, in a single network's words
    assert out.rstrip().splitlines()[-1].startswith("one network (seed 0); how reliably does this configuration learn "
                                                   "XOR? seeds=1000 trains 1000 at once")


@pytest.mark.slow
def test_cfg_job_prints_and_checks_the_config_without_importing_lightning(tmp_path):
    """--cfg runs nothing: the config's values are checked (torch's optimizers), Lightning is not imported."""
    script = ("import sys; from xor_lightning.cli.main import main; code = main(sys.argv[1:]); "
              "print('LIGHTNING' if 'pytorch_lightning' in sys.modules else 'NO LIGHTNING'); sys.exit(code)")
    ok = subprocess.run([sys.executable, "-c", script, "train", "--cfg", "job", "optimizer=sgd"], cwd=tmp_path,
                        env=_env(), capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "_target_: torch.optim.SGD" in ok.stdout and ok.stdout.endswith("NO LIGHTNING\n"), ok
    bad = subprocess.run([sys.executable, "-c", script, "train", "--cfg", "job", "model.activation=tahn"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "activation: tahn" in bad.stdout and "did you mean tanh?" in bad.stderr
    assert not any(tmp_path.iterdir())


def test_a_sweep_shows_a_status_line_while_it_checks_its_jobs_then_erases_it():
    import io

    from xor_lightning.cli.precheck import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    status = Progress(3, screen)
    for done in (1, 2, 3):
        status.tick(done)
    status.close()
    frames = screen.getvalue().split("\r")[1:]
    assert frames[0] == "checking 3 jobs before the sweep starts: 0/3 checked\033[K"
    assert frames[3] == "checking 3 jobs before the sweep starts: 3/3 checked\033[K" and frames[-1] == "\033[K"
    off = io.StringIO()  # not a terminal (a log, CI): nothing, so a refusal there stays one line
    Progress(3, off).close()
    assert off.getvalue() == ""


def test_help_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    import subprocess
    import sys

    from tests.helpers import REPO

    # The reader closes the pipe before the help is written (`train --help | head -1`, a race that always loses).
    line = f"'{sys.executable}' -m xor_lightning train --help 2>err.txt; echo $? > rc.txt"
    subprocess.run(["bash", "-c", f"({line}) | (exec 0<&-; sleep 3)"], cwd=tmp_path, env={"PYTHONPATH": str(REPO)},
                   timeout=60, check=True)
    assert (tmp_path / "rc.txt").read_text().strip() == "141" and (tmp_path / "err.txt").read_text() == ""
