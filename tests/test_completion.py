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
