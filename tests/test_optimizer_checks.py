"""Optimizer arguments are checked against the torch.optim class before anything runs."""

from __future__ import annotations

import pytest

from tests.helpers import assert_refused_in_process, run_cli
from xor_lightning.cli.main import main

MOMENTUM = ("error: optimizer.momentum: torch.optim.Adam (optimizer=adam) has no argument momentum; "
            "optimizers with momentum: sgd, rmsprop (e.g. optimizer=sgd optimizer.momentum=...)")


@pytest.mark.parametrize(
    "args, message",
    [
        (["+optimizer.momentum=0.9"], MOMENTUM),
        (["optimizer.momentum=0.9"], MOMENTUM),  # without +: the same answer, not "use +optimizer.momentum"
        (["optimizer=adagrad", "optimizer.betas=[0.9,0.99]"],
         "error: optimizer.betas: torch.optim.Adagrad (optimizer=adagrad) has no argument betas; "
         "optimizers with betas: adam, adamw"),
        (["+optimizer.foo=1"],
         "error: optimizer.foo is not an argument of torch.optim.Adam (optimizer=adam); valid: lr, betas, eps,"),
        (["optimizer=sgd", "optimizer.foo=1"],
         "error: optimizer.foo is not an argument of torch.optim.SGD (optimizer=sgd); valid: lr,"),
        (["optimizer.maximize=true"], "error: optimizer.maximize is not a config key; valid keys under optimizer:"),
        (["optimizer.amsgrad=abc"], "error: optimizer.amsgrad='abc' is not valid; expected true or false"),
        (["optimizer.betas=5"], "error: optimizer.betas=5 is not valid; expected a list of 2 numbers, e.g. [0.9,0.999]"),
        (["optimizer.betas=null"], "error: optimizer.betas=null is not valid; expected a list of 2 numbers"),
        (["optimizer.betas=[0.9,abc]"], "error: optimizer.betas=[0.9, 'abc'] is not valid; expected a list of 2 numbers"),
        (["optimizer.betas=[0.9,1.5]"], "error: optimizer.betas=[0.9, 1.5] is not valid; expected two numbers in [0, 1)"),
        (["optimizer.eps=abc"], "error: optimizer.eps='abc' is not valid; expected a number"),
        (["optimizer.lr=null"], "error: optimizer.lr=null is not valid; expected a number"),
        (["optimizer=sgd", "optimizer.nesterov=abc"], "error: optimizer.nesterov='abc' is not valid; expected true or false"),
        (["optimizer=rmsprop", "optimizer.centered=1"], "error: optimizer.centered=1 is not valid; expected true or false"),
        (["+optimizer.foreach=abc"], "error: optimizer.foreach='abc' is not valid; expected true, false or null"),
        (["optimizer=lbfgs"], "error: optimizer=lbfgs is not supported: LBFGS is not elementwise"),
        (["+optimizer.fused=true"], "error: optimizer.fused=True is not valid: torch's fused implementation is not used "
                                    "(xor-lightning's population optimizer, core/optim.py, has one); set it to false or null"),
        (["optimizer=rprop", "optimizer.etas=0.5"],
         "error: optimizer.etas=0.5 is not valid; expected a list of 2 numbers, e.g. [0.5,1.2]"),
        (["optimizer=asgd", "optimizer.t0=abc"], "error: optimizer.t0='abc' is not valid; expected a number"),
    ],
)
def test_bad_optimizer_arguments_are_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", *args], message, tmp_path, capsys)


def test_momentum_with_adam_through_the_real_cli_makes_no_folder(tmp_path):
    res = run_cli("train", "-m", "+optimizer.momentum=0.9", "seeds=2,3", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr == MOMENTUM + "\n"
    assert not any(tmp_path.iterdir())


def test_a_real_argument_of_the_class_may_be_added(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "+optimizer.maximize=false", "--cfg", "job"]) == 0
    assert "maximize: false" in capsys.readouterr().out
