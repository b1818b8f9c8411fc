"""A failure never rounds away, and an epoch statistic reads the same everywhere it is printed:
the population line, the sweep table, the report's headline and the progress line."""

import json
import logging
import re
from types import SimpleNamespace

import torch

from xor_lightning.core.data import TARGETS
from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.stats import wilson_interval
from xor_lightning.core.task import XOR
from xor_lightning.views import numbers
from xor_lightning.views.progress import ProgressLines
from xor_lightning.views.run_report import _headline
from xor_lightning.views.sweep_summary import markdown_table, summarise
from xor_lightning.views.tables import summary_lines


def _evaluation(k: int, solved: int, first: list[int]) -> Evaluation:
    """``k`` members, the first ``solved`` of them right on every row, solved after ``first`` epochs (cycled)."""
    right = TARGETS.squeeze(-1).float() * 0.98 + 0.01
    probs = torch.where(torch.arange(k)[:, None] < solved, right, 1 - right)
    first_solved = torch.tensor([first[i % len(first)] if i < solved else -1 for i in range(k)])
    return Evaluation(seed=0, probs=probs, losses=torch.full((k,), 0.1), solved=torch.arange(k) < solved,
                      first_solved=first_solved, diverged_at=torch.full((k,), -1), best_epoch=first_solved,
                      epochs_trained=torch.full((k,), 1000), task=XOR)


def _sweep_table(folder, ev: Evaluation, seeds: int) -> str:
    """The sweep summary's markdown table for one finished job whose metrics are ``ev``'s."""
    job = folder / "0"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- seeds={seeds}\n")
    (job / "metrics.json").write_text(json.dumps({**ev.summary(), "causes": {}, "wall_seconds": 1.0, "epochs_trained": 1000}))
    return markdown_table(*summarise(folder, plot=False))


def _no_full_marks(text: str) -> None:
    assert not re.search(r"100(\.0*)?%|1\.0+\b(?! -)", text), text


def test_2999_of_3000_never_prints_100_percent_or_one(tmp_path):
    ev = _evaluation(3000, 2999, [5])
    line = summary_lines(ev)[0]
    assert "solved 2999/3000 = 99.97%" in line and "99.99%)" in line, line
    _no_full_marks(line)
    _no_full_marks(_headline(ev, "r"))
    table = _sweep_table(tmp_path, ev, 3000)
    assert "0.9997 [0.998, 0.9999]" in table, table
    _no_full_marks(table.split("\n", 2)[2])


def test_one_of_3000_never_prints_zero():
    lo, hi = wilson_interval(1, 3000)
    assert numbers.percent(1 / 3000) == "0.03%" and numbers.fraction(lo) != "0.000"
    assert numbers.rate_with_interval(0.0, 0.0, 0.001) == "0.000 [0.000, 0.001]"  # exact ends stay short
    assert numbers.percent(1.0) == "100.0%" and numbers.fraction(1.0) == "1.000"


def test_progress_line_never_rounds_the_last_member_away(caplog):
    lines = ProgressLines(max_epochs=10, every_seconds=0)
    seen = SimpleNamespace(success=2999 / 3000, val_loss=0.1)
    module = SimpleNamespace(epochs_done=10, block=SimpleNamespace(last=seen), hparams=SimpleNamespace(seeds=3000))
    with caplog.at_level(logging.INFO, logger="xor_lightning.views.progress"):
        lines._line(module, now=1.0, final=True)
    assert "99.97% of members solved" in caplog.text


def test_an_epoch_percentile_prints_the_same_in_the_population_line_the_table_and_the_report(tmp_path):
    ev = _evaluation(20, 20, [100, 200, 300, 400, 500, 600, 670, 673, 674, 675])
    e = ev.summary()["epochs_to_solve"]
    assert abs(e["p90"] - 674.1) < 1e-9  # linear interpolation between 674 and 675
    assert f"p90 {numbers.epochs(e['p90'])}," in summary_lines(ev)[0] and numbers.epochs(e["p90"]) == "674.1"
    table = _sweep_table(tmp_path, ev, 20)
    assert f"| {numbers.epochs(e['median'])} | 674.1 |" in table, table
    assert f"median epochs to solve {numbers.epochs(e['median'])}," in _headline(ev, "r")
