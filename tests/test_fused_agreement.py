"""engine=fused against engine=torch (the eager block loop): the same run to float tolerance, the
same promises within the fused engine, and the same statistics over many seeds (slow).

"Float tolerance" is measured, not assumed: both float32 engines are compared with the torch
engine in float64. Over 20 epochs the fused engine is never more than 5x as far from the float64
run as the float32 torch engine is (Adam-like optimizers divide by the gradient's size, so a last
bit of a small gradient moves a weight by ~1e-5; SGD stays within ~1e-7 of torch).
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
import pytorch_lightning as pl
import torch

from tests.helpers import compose_config
from xor_lightning.base.errors import UserError
from xor_lightning.core import engines
from xor_lightning.core.data import INPUTS, TARGETS, TruthTableDataModule
from xor_lightning.core.stats import wilson_interval
from xor_lightning.core.verdict import probability, right
from xor_lightning.run.checks import check_train_config
from xor_lightning.run.trainer_setup import build_module, loop_plan

# One thread, as the app trains populations below 5,000 seeds: the kernel's serial variant (the
# threaded one is compiled on its first use, ~10 s more).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fit(engine: str, *overrides: str, seeds: int = 64, epochs: int = 20, members: dict | None = None):
    """A module trained by a real Trainer with ``engine`` (nothing written: no logger, no checkpoints);
    ``members``: a member table's lists (members with numbers of their own)."""
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    cfg = compose_config("train", [f"seeds={seeds}", f"trainer.max_epochs={epochs}", *overrides])
    module = build_module(cfg, dataclasses.replace(loop_plan(cfg), engine=engine))
    if members is not None:
        module = type(module)(**{**module.hparams, "members": members}, loop=module.loop)
    trainer = pl.Trainer(accelerator="cpu", precision=cfg.device.precision, max_epochs=-1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    trainer.fit(module, TruthTableDataModule(module.task, cfg.data.batch_size, cfg.data.shuffle, cfg.seed, seeds))
    assert module.engine == engine or engine == "auto", module.engine_reason
    return module


def params(module) -> list[torch.Tensor]:
    return [p.detach().double() for p in module.net.parameters()]


def farthest(a, b) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(params(a), params(b)))


FACTS = ("first_solved", "best_epoch", "stopped_at", "diverged_at", "right_at")


def assert_agree(*overrides: str, seeds: int = 64) -> None:
    fused, eager = fit("fused", *overrides, seeds=seeds), fit("torch", *overrides, seeds=seeds)
    exact = fit("torch", *overrides, "device.precision=64-true", seeds=seeds)
    assert farthest(fused, exact) <= 5 * farthest(eager, exact) + 1e-6, overrides
    for name in FACTS:
        assert torch.equal(getattr(fused.facts, name), getattr(eager.facts, name)), name
    assert torch.allclose(fused.facts.best_loss, eager.facts.best_loss, rtol=1e-4, atol=1e-6)
    # torch.optim's own state, as checkpoints carry it, to the same tolerance; for members still
    # training (a member done is never stepped again: the torch loop steps its moments and puts its
    # weights back, the kernel leaves both alone).
    going = eager.facts.stopped_at < 0
    states = [m.trainer.optimizers[0].state for m in (fused, eager, exact)]
    for p, q, r in zip(fused.net.parameters(), eager.net.parameters(), exact.net.parameters()):
        assert states[0][p].keys() == states[1][q].keys()
        for key in states[1][q]:
            a, b, c = (st[x][key].double() for st, x in zip(states, (p, q, r)))
            a, b, c = (t[going] for t in (a, b, c)) if b.dim() else (a, b, c)
            assert float((a - c).abs().max()) <= 5 * float((b - c).abs().max()) + 1e-6, key
    assert fused.trainer.global_step == eager.trainer.global_step  # Lightning counts blocks the same


@pytest.mark.slow  # three real fits: ~4 s on two busy cores
def test_default_run_agrees_with_the_torch_engine():
    assert_agree("budgets=[5,20]", "early_stop.margin=0.1", seeds=16)  # some members stop early


# Every activation, loss and optimizer the kernel covers, and the options that change its formulas.
CONFIGS = [
    ("model.activation=sigmoid", "loss=bce", "optimizer=sgd", "optimizer.momentum=0.9"),
    ("model.activation=relu", "loss=mse", "optimizer=adamw"),
    ("model.activation=leaky_relu", "loss=l1", "optimizer=rmsprop", "optimizer.momentum=0.5", "optimizer.centered=true"),
    ("model.activation=elu", "loss=bce_with_logits", "optimizer=adagrad", "optimizer.lr_decay=0.01",
     "optimizer.initial_accumulator_value=0.1"),
    ("model.activation=identity", "loss=mse", "optimizer=sgd", "optimizer.momentum=0.9", "optimizer.nesterov=true",
     "optimizer.weight_decay=0.01"),
    ("model.activation=tanh", "loss=bce_with_logits", "loss.input=probabilities", "optimizer=adam",
     "optimizer.weight_decay=0.001"),
    ("model.activation=tanh", "loss=mse", "loss.input=logits", "optimizer=rmsprop", "optimizer.weight_decay=0.01"),
    ("model.hidden=[3]", "model.init=normal", "model.init_std=3.0", "optimizer=sgd", "optimizer.lr=0.5",
     "optimizer.dampening=0.3", "optimizer.momentum=0.5"),
]


@pytest.mark.slow
@pytest.mark.parametrize("overrides", CONFIGS, ids=lambda o: " ".join(o))
def test_every_covered_choice_agrees_with_the_torch_engine(overrides):
    assert_agree(*overrides)


def test_member_i_is_the_lone_run_of_seed_plus_i():
    """Within the fused engine bit for bit: lanes, chunks and population size change nothing."""
    many = fit("fused", "seed=10", "early_stop.margin=0.3", seeds=300, epochs=150)
    for i in (3, 140, 299):  # lanes of the first chunk, the second, the last (padded) one
        lone = fit("fused", f"seed={10 + i}", "early_stop.margin=0.3", seeds=1, epochs=150)
        for p, q in zip(many.net.parameters(), lone.net.parameters()):
            assert torch.equal(p[i], q[0])
        for name in (*FACTS[:-1], "best_loss"):
            assert torch.equal(getattr(many.facts, name)[i], getattr(lone.facts, name)[0]), name
    assert len(many.facts.stopped_at.unique()) > 5  # members stopped early at many epochs, the others went on


def test_auto_takes_the_fused_engine_only_where_it_covers_the_run_and_pays(monkeypatch):
    small = fit("auto", seeds=4, epochs=2)  # 8 member-epochs: loading the compiler would cost more than it saves
    assert small.engine == "torch" and small.engine_reason.startswith("engine=auto: 8 network-epochs"), small.engine_reason
    monkeypatch.setattr(engines, "PAYS_FROM", 8)
    assert fit("auto", seeds=4, epochs=2).engine == "fused"
    for overrides, reason in ((("data.batch_size=2",), "mini-batches"), (("model.hidden=[4,4]",), "one hidden layer"),
                              (("+trainer.gradient_clip_val=1.0",), "gradient clipping"),
                              (("model.activation=gelu",), "model.activation=gelu"),
                              (("optimizer=adam", "optimizer.amsgrad=true"), "amsgrad"),
                              (("data=playground",), "held-out test part"), (("data=parity", "data.bits=9"), "512 rows")):
        cfg = compose_config("train", ["seeds=4", "trainer.max_epochs=2", *overrides])
        module = build_module(cfg)
        trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                             gradient_clip_val=None)
        trainer.fit(module, TruthTableDataModule(module.task, cfg.data.batch_size, cfg.data.shuffle, cfg.seed, 4))
        assert module.engine == "torch" and reason in module.engine_reason, (overrides, module.engine_reason)


def test_engine_fused_where_not_covered_and_unknown_engines_are_refused():
    with pytest.raises(UserError, match=r"^engine=fused does not cover this run: mini-batches"):
        check_train_config(compose_config("train", ["engine=fused", "data.batch_size=2"]))
    with pytest.raises(UserError, match=r"^engine='fast' is not valid; choose one of: auto, fused, torch"):
        check_train_config(compose_config("train", ["engine=fast"]))
    check_train_config(compose_config("train", ["engine=fused"]))  # the default run is covered


def solved(module) -> torch.Tensor:
    """[K] whether each member's own best weights get every row right (what metrics.json counts)."""
    with module.facts.best_in_place(module.net), torch.no_grad():
        p = probability(module.net(INPUTS).squeeze(-1))
    return right(p, TARGETS.squeeze(-1)).all(dim=1)


STUDIES = [
    (),  # the default run
    ("model.hidden=[5]", "optimizer=sgd", "optimizer.lr=0.03", "model.activation=relu", "loss=mse"),  # forum_sweep cells
    ("model.hidden=[5]", "optimizer=adam", "optimizer.lr=0.03", "model.activation=sigmoid", "loss=l1"),
    ("model.hidden=[5]", "optimizer=adam", "optimizer.lr=0.03", "model.activation=elu", "loss=bce_with_logits"),
    ("experiment=init_scale_article", "model.init_std=1.58", "trainer.max_epochs=1000"),
    ("experiment=init_scale_article", "model.init_std=8.89", "trainer.max_epochs=1000"),
]


@pytest.mark.slow
@pytest.mark.parametrize("overrides", STUDIES, ids=lambda o: " ".join(o) or "default")
def test_success_rates_agree_over_a_thousand_seeds(overrides):
    """1,000 seeds x 1,000 epochs: each engine's success rate within the other's 95% interval, and at
    least 99% of members with the same verdict (chaotic members near a boundary may differ)."""
    a, b = (solved(fit(engine, *overrides, "visuals.every_n_epochs=0", seeds=1000, epochs=1000))
            for engine in ("fused", "torch"))
    n = len(a)
    low_a, high_a = wilson_interval(int(a.sum()), n)
    low_b, high_b = wilson_interval(int(b.sum()), n)
    assert low_b <= float(a.float().mean()) <= high_b and low_a <= float(b.float().mean()) <= high_a
    assert float((a == b).float().mean()) >= 0.99, int((a != b).sum())


def test_hyperparameters_per_member():
    """A [K] learning rate (the population optimizer keeps one per member) trains member i as a lone
    run with that rate: the kernel reads every hyperparameter per member."""
    from xor_lightning.core.facts import MemberFacts
    from xor_lightning.core.fused_engine import FusedBlock
    from xor_lightning.core.nets import Population
    from xor_lightning.core.optim import make_optimizer
    from xor_lightning.core.task import XOR

    def train(seeds: int, seed: int, lr) -> Population:
        pop = Population(seeds, [8], "tanh", "pytorch", 1.0, seed=seed)
        opt = make_optimizer({"_target_": "torch.optim.Adam", "lr": 0.05}, pop.parameters(), hyper={"lr": lr})
        facts = MemberFacts(pop, XOR.solved)
        facts.begin(50)
        FusedBlock("tanh", "bce_with_logits", None, opt, seeds).run(
            opt, list(pop.parameters()), facts.best_params(), facts, INPUTS, TARGETS, 0, 50, None)
        return pop

    rates = [0.01, 0.05, 0.1, 0.2]
    many = train(4, 7, torch.tensor(rates, dtype=torch.float64))
    for i, lr in enumerate(rates):
        lone = train(1, 7 + i, lr)
        assert all(torch.equal(p[i], q[0]) for p, q in zip(many.parameters(), lone.parameters()))


def test_the_log_and_metrics_say_which_engine_ran(train_cfg, caplog):
    from xor_lightning.run.train import train

    with caplog.at_level(logging.INFO):
        metrics = train(train_cfg("engine=torch", "trainer.max_epochs=3", "visuals.report=false"))
    assert metrics["engine"] == "torch" and metrics["engine_reason"] == "engine=torch"
    assert "engine: torch (engine=torch)" in caplog.text


# Jobs of one grid that the fused engine packs: one rule (Adam, then SGD) and one activation and
# loss, members differing in seed, init scale, learning rate, betas, momentum, early-stop margin and budgets.
GRIDS = {
    "adam": [(3, 1.0, ("optimizer.lr=0.05", "budgets=[20,140]")), (3, 2.0, ("optimizer.lr=0.2", "early_stop.margin=0.2")),
             (8, 0.5, ("optimizer.lr=0.02", "optimizer.betas=[0.8,0.99]", "early_stop.margin=0.45", "budgets=[30]"))],
    "sgd": [(3, 1.0, ("optimizer.lr=0.5", "optimizer.momentum=0.9")), (4, 2.0, ("optimizer.lr=0.3",)),
            (5, 1.0, ("optimizer.lr=0.5", "optimizer.momentum=0.5", "optimizer.nesterov=true", "early_stop.margin=0.2"))],
}


@pytest.mark.parametrize("rule", GRIDS)
def test_a_packed_grid_trains_each_member_as_its_job_alone(rule):
    """Hyperparameters per member (the member table: core/members.py) in one fused population:
    member i is job i's lone fused run bit for bit, weights, optimizer state and facts."""
    from omegaconf import OmegaConf

    from xor_lightning.core.members import MemberTable

    common = (f"optimizer={rule}", "model.hidden=[4]", "model.init=normal", "block_epochs=40")
    jobs = [(compose_config("train", [*common, f"seed={s}", f"model.init_std={std}", *o]), (*common, f"seed={s}",
             f"model.init_std={std}", *o)) for s, std, o in GRIDS[rule]]
    lone = [fit("fused", *overrides, seeds=1, epochs=150) for _, overrides in jobs]
    parts = ("model", "optimizer", "loss")
    table = MemberTable.concat([MemberTable.uniform(c.seed, 1, *(OmegaConf.to_container(c[k]) for k in parts),
                                                    margin=c.early_stop.margin, budgets=list(c.budgets)) for c, _ in jobs])
    first = [o for o in jobs[0][1] if not o.startswith("budgets")]
    packed = fit("fused", *first, seeds=len(jobs), epochs=150, members=table.to_lists())
    assert packed.engine == "fused"
    state = packed.trainer.optimizers[0].state
    for i, one in enumerate(lone):
        alone = one.trainer.optimizers[0].state
        for p, q in zip(packed.net.parameters(), one.net.parameters()):
            assert torch.equal(p[i], q[0])
            for key, value in alone[q].items():  # not "step": the population's count, it runs until all are done
                assert value.dim() == 0 or torch.equal(state[p][key][i], value[0]), key
        for name in (*FACTS[:-1], "best_loss", "trail_loss", "trail_epoch"):
            mine, theirs = getattr(packed.facts, name), getattr(one.facts, name)
            assert torch.allclose(mine[..., i], theirs[..., 0], rtol=0, atol=0, equal_nan=True), (name, i)  # bit for bit
        for row, epoch in enumerate(one.facts.budgets):  # its own budgets' verdicts
            assert packed.facts.right_at[packed.facts.budgets.index(epoch), i] == one.facts.right_at[row, 0], (epoch, i)
    assert len(set(packed.facts.stopped_at.tolist())) > 1  # each member stopped at its own epoch


def _last_state(metrics: dict) -> dict:
    ckpt = torch.load(metrics["last_checkpoint"], weights_only=True)
    return {"net": ckpt["state_dict"], "optimizer": ckpt["optimizer_states"][0]["state"]}


def test_a_resumed_fused_run_is_the_uninterrupted_one_and_the_torch_engine_continues_it(train_cfg):
    """Checkpoints carry the state the fused engine trains (weights, optimizer moments, facts): a
    resume is bit for bit the uninterrupted run, and the torch engine reads the same state."""
    from xor_lightning.run.train import train

    args = ("engine=fused", "seeds=6", "early_stop.margin=0.49", "block_epochs=30", "visuals.images=false",
            "visuals.histograms=false", "visuals.report=false", "progress.bar=false")
    whole = _last_state(train(train_cfg(*args, "trainer.max_epochs=120", run_id="whole")))
    part = train(train_cfg(*args, "trainer.max_epochs=60", run_id="part"))
    assert part["engine"] == "fused" and part["engine_reason"] == "engine=fused"  # metrics.json says which ran
    resumed = _last_state(train(train_cfg(*args, "trainer.max_epochs=120", f"ckpt_path={part['last_checkpoint']}",
                                          run_id="part")))
    stopped = whole["net"]["facts.stopped_at"]
    assert bool((stopped > 60).any()), stopped  # some member met the early stop after the resume
    for section in ("net", "optimizer"):
        # not the diagnosis's loss trail: sampled every max_epochs / 20 epochs, and the part run had 60
        kept = {k: v for k, v in whole[section].items() if not str(k).startswith("facts.trail")}
        for key, value in kept.items():
            if isinstance(value, dict):
                differ = [n for n in value if not torch.equal(value[n], resumed[section][key][n])]
                assert not differ, (key, differ)
            elif torch.is_tensor(value):
                assert torch.equal(value, resumed[section][key]), key
    switched = train(train_cfg(*args[1:], "engine=torch", "trainer.max_epochs=120", f"ckpt_path={part['last_checkpoint']}",
                               run_id="part"))
    assert switched["engine"] == "torch"
    state = _last_state(switched)["net"]  # the torch engine took the fused engine's moments: the same run to float tolerance
    assert torch.equal(state["facts.stopped_at"], whole["net"]["facts.stopped_at"])
    assert all(torch.allclose(state[k], whole["net"][k], atol=1e-4) for k in state if k.startswith("net."))


@pytest.mark.slow  # two processes, ~10 s
def test_numba_is_imported_only_by_runs_on_the_fused_engine(tmp_path):
    """The default run (one seed: engine=auto takes torch) never loads the compiler: it would cost it ~1 s."""
    import subprocess
    import sys

    from tests.helpers import _env

    def imports(*args: str) -> str:
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "xor_lightning", "train", *args,
                               "visuals.report=false"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    assert " numba" not in imports("run_id=default")
    assert " numba" in imports("run_id=fused", "engine=fused", "seeds=4", "trainer.max_epochs=20")
