"""Shell completion as a user installs it: the eval line of docs/usage.md in a real bash, then Tab presses
simulated the way bash does them (COMP_LINE, COMP_POINT, COMP_CWORD and the completion function)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from xor_lightning.cli.completion_values import names_in, value_candidates

SCRIPT = Path(sys.executable).parent / "xor-lightning"  # the console script of the installed package

pytestmark = pytest.mark.skipif(
    not SCRIPT.is_file() or shutil.which("bash") is None, reason="needs bash and the installed xor-lightning script"
)


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "XOR_LIGHTNING_RUN_ID"}
    env.update(PATH=f"{SCRIPT.parent}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(REPO))
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def tab(line: str, cwd: Path) -> list[str]:
    """The candidates bash shows for a Tab at the end of ``line``, with the completion installed."""
    res = bash(
        'eval "$(xor-lightning -sc install=bash)"\n'
        f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n"
        "words=($COMP_LINE); COMP_CWORD=${#words[@]}\n"
        '[[ "$COMP_LINE" == *" " ]] || COMP_CWORD=$((COMP_CWORD - 1))\n'
        "hydra_bash_completion\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n',
        cwd,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_install_registers_the_completion_for_the_console_script(tmp_path):
    res = bash('eval "$(xor-lightning -sc install=bash)"\ncomplete -p xor-lightning', tmp_path)
    assert res.returncode == 0, res.stderr
    assert "-F hydra_bash_completion" in res.stdout and res.stdout.strip().endswith("xor-lightning")


def test_commands_then_keys_groups_and_choices(tmp_path):
    assert tab("xor-lightning ", tmp_path) == ["train", "evaluate"]
    assert tab("xor-lightning tr", tmp_path) == ["train"]
    assert tab("xor-lightning train model.act", tmp_path) == ["model.activation="]
    assert tab("xor-lightning train loss=", tmp_path) == [
        "loss=bce", "loss=bce_with_logits", "loss=hinge_embedding", "loss=kl_div", "loss=l1", "loss=mse",
        "loss=multilabel_soft_margin", "loss=poisson_nll", "loss=smooth_l1", "loss=soft_margin"]
    assert tab("xor-lightning train seeds=8 optimizer=sgd optimizer.mom", tmp_path) == ["optimizer.momentum="]
    assert "hydra/launcher=submitit_local" in tab("xor-lightning train -m hydra/launcher=", tmp_path)


def test_evaluate_offers_only_its_own_keys(tmp_path):
    offered = tab("xor-lightning evaluate ", tmp_path)
    assert {"checkpoint=", "member=", "boundary=", "device="} <= set(offered)
    assert not {"model=", "loss=", "seeds="} & set(offered)
    assert not any(tmp_path.iterdir()), "completion writes nothing"


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_install_for_other_shells_names_the_console_script(tmp_path, shell):
    res = bash(f"xor-lightning -sc install={shell}", tmp_path)
    assert res.returncode == 0 and "xor-lightning" in res.stdout, res.stderr


def test_every_value_the_checks_accept_is_offered(tmp_path):
    from xor_lightning.core.nets import ACTIVATIONS

    assert sorted(tab("xor-lightning train model.activation=", tmp_path)) == sorted(f"model.activation={a}" for a in ACTIVATIONS)


def test_value_lists_come_from_their_homes_and_complete_a_sweep_item():
    from xor_lightning.core.devices import CHOICES
    from xor_lightning.core.nets import INITS
    from xor_lightning.run.checks import PRECISIONS

    assert value_candidates("train", "model.init=") == [f"model.init={i}" for i in INITS]
    assert value_candidates("train", "model.activation=relu,ta") == [
        "model.activation=relu,tanh", "model.activation=relu,tanhshrink"]
    assert value_candidates("evaluate", "device.precision=") == [f"device.precision={p}" for p in PRECISIONS]
    assert value_candidates("train", "device.accelerator=") == [f"device.accelerator={c}" for c in CHOICES]
    assert value_candidates("train", "seeds=") is None  # Hydra's turn: the current value


@pytest.mark.parametrize("module, name", [
    ("xor_lightning.core.nets", "ACTIVATIONS"), ("xor_lightning.core.nets", "INITS"), ("xor_lightning.core.verdict", "HEADS"),
    ("xor_lightning.core.losses", "LOSSES"), ("xor_lightning.core.devices", "CHOICES"),
    ("xor_lightning.run.checks", "PRECISIONS"),
])
def test_lists_read_from_the_source_are_the_lists_the_checks_use(module, name):
    import importlib

    assert names_in(module, name) == [str(v) for v in getattr(importlib.import_module(module), name)]


def test_checkpoint_paths_complete_folder_by_folder(tmp_path, monkeypatch):
    (tmp_path / "checkpoints" / "run1").mkdir(parents=True)
    for name in ("best.ckpt", "last.ckpt", "notes.txt"):
        (tmp_path / "checkpoints" / "run1" / name).write_text("")
    assert tab("xor-lightning evaluate checkpoint=", tmp_path) == ["checkpoint=checkpoints/"]
    monkeypatch.chdir(tmp_path)
    assert value_candidates("evaluate", "checkpoint=checkpoints/") == ["checkpoint=checkpoints/run1/"]
    assert value_candidates("evaluate", "checkpoint=checkpoints/run1/") == [
        "checkpoint=checkpoints/run1/best.ckpt", "checkpoint=checkpoints/run1/last.ckpt"]
    assert value_candidates("train", "ckpt_path=") == ["ckpt_path=last", "ckpt_path=checkpoints/"]
    assert value_candidates("evaluate", f"checkpoint={tmp_path}/checkpoints/run1/l") == [
        f"checkpoint={tmp_path}/checkpoints/run1/last.ckpt"]


def test_a_boolean_offers_both_values(tmp_path):
    assert tab("xor-lightning train early_stop.enabled=", tmp_path) == ["early_stop.enabled=false", "early_stop.enabled=true"]


def test_a_word_hydra_cannot_read_gets_no_candidates_and_no_traceback(tmp_path):
    for line in ("xor-lightning train ../../", "xor-lightning train model.../"):
        res = bash(f"COMP_LINE='{line}' xor-lightning -sc query=bash", tmp_path)
        assert (res.returncode, res.stdout.strip(), res.stderr) == (0, "", "")


def test_an_unknown_shell_is_one_line(tmp_path):
    res = bash("xor-lightning -sc install=tcsh", tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "bash, zsh, fish" in res.stderr, res.stderr
