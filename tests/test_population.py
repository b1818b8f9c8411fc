"""Promise 1: member i of a population trains exactly like a lone run seeded seed+i (full batch);
and a population of 100,000 seeds fits in memory."""

import resource

import pytest
import torch

from tests.conftest import run_cli
from xor_lightning.checkpoints import load_checkpoint
from xor_lightning.train import train

STEPS = 200


def weights_after(train_cfg, seed: int, seeds: int, optimizer: list[str]) -> list[torch.Tensor]:
    cfg = train_cfg(
        f"seed={seed}", f"seeds={seeds}", "early_stop.enabled=false", f"trainer.max_epochs={STEPS}",
        "model.hidden=[5]", *optimizer, run_id=f"s{seed}k{seeds}",
    )
    metrics = train(cfg)
    module = load_checkpoint(metrics["last_checkpoint"])
    return [p.detach() for p in module.net.parameters()]


@pytest.mark.parametrize(
    "optimizer",
    [
        ["optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9"],
        ["optimizer=adam", "optimizer.lr=0.05"],
    ],
    ids=["sgd_momentum", "adam"],
)
def test_member_i_matches_a_lone_run_with_seed_plus_i(train_cfg, optimizer):
    population = weights_after(train_cfg, seed=3, seeds=3, optimizer=optimizer)
    worst = 0.0
    for i in range(3):
        lone = weights_after(train_cfg, seed=3 + i, seeds=1, optimizer=optimizer)
        for p_pop, p_lone in zip(population, lone):
            worst = max(worst, (p_pop[i] - p_lone[0]).abs().max().item())
    print(f"max |population - lone| after {STEPS} steps: {worst:.3g}")
    assert worst <= 1e-5


def test_a_100000_seed_population_with_default_visuals_stays_within_4_gb(tmp_path):
    # A real process, so its peak RSS is the whole cost: build, fit, pictures, report, evaluation.
    res = run_cli("train", "seeds=100000", "trainer.max_epochs=3", "early_stop.enabled=false", "run_id=big", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    # The peak over every finished child of this process: at least this run's own peak.
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 < 4096  # KiB on Linux
    assert (tmp_path / "outputs" / "big" / "report.png").is_file()
