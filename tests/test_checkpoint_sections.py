"""Every section of a checkpoint that Lightning restores is data: a crafted section either is refused
in one line before any folder changes, or is rebuilt so that it changes nothing (issue 18, class 1).
Nothing outside the run's own folders is ever deleted or written because of what a file says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.helpers import train_config
from xor_lightning.run.train import train

QUICK = ("device=cpu", "visuals.report=false", "visuals.images=false", "visuals.histograms=false",
         "early_stop.enabled=false", "block_epochs=5", "checkpoint.last_every_n_epochs=5")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def owner(tmp_path_factory) -> Path:
    """The folder of a finished 10-epoch run named 'owner' (never changed: tests copy it)."""
    root = tmp_path_factory.mktemp("owner")
    train(train_config(root, *QUICK, "trainer.max_epochs=10", run_id="owner"))
    return root


def copy_of(owner: Path, tmp_path: Path) -> Path:
    root = tmp_path / "work"
    shutil.copytree(owner, root)
    return root


def edit_last(root: Path, edit) -> Path:
    last = root / "checkpoints" / "owner" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    edit(ckpt)
    torch.save(ckpt, last)
    return last


def resume(root: Path, epochs: int = 20) -> dict:
    return train(train_config(root, *QUICK, f"trainer.max_epochs={epochs}", "ckpt_path=last", run_id="owner"))


def final_weights(root: Path) -> dict[str, torch.Tensor]:
    return torch.load(root / "checkpoints" / "owner" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def clean_resume(owner, tmp_path_factory) -> dict[str, torch.Tensor]:
    root = copy_of(owner, tmp_path_factory.mktemp("clean"))
    resume(root)
    return final_weights(root)


@pytest.mark.parametrize("target", ["outside", "another run's best.ckpt"])
def test_paths_in_callback_state_never_delete_anything(owner, tmp_path, clean_resume, target):
    root = copy_of(owner, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    other = root / "checkpoints" / "other" / "best.ckpt"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"another run's best")
    # Lightning keeps '..' in its inside-the-folder test, and deletes the 'previous best' it was told about.
    named = str(root / "checkpoints" / "owner" / ".." / ".." / ".." / "victim.txt") if target == "outside" else str(other)

    def forge(ckpt) -> None:
        for state in ckpt["callbacks"].values():
            state.update(best_model_path=named, kth_best_model_path=named, last_model_path=named,
                         best_k_models={named: torch.tensor(0.0)}, dirpath=str(root / "checkpoints" / "owner"),
                         best_model_score=torch.tensor(0.0), kth_value=torch.tensor(0.0))

    edit_last(root, forge)
    metrics = resume(root)
    assert victim.read_text() == "keep me" and other.read_bytes() == b"another run's best"
    assert metrics["best_checkpoint"] == str(root / "checkpoints" / "owner" / "best.ckpt")
    for key, value in clean_resume.items():  # and the forged state changed nothing about the run
        assert torch.equal(final_weights(root)[key], value), key


def _set(path: tuple, value):
    def edit(ckpt) -> None:
        node = ckpt
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _adam_state(name: str, value):
    return lambda ckpt: ckpt["optimizer_states"][0]["state"][0].__setitem__(name, value)


# Sections a resume takes only when they look exactly like what this run writes.
REFUSED = {
    "a loop counter that is not a count": (_set(("loops", "fit_loop", "epoch_progress", "total", "ready"), -1),
                                           "loops.fit_loop.epoch_progress.total.ready is -1"),
    "a loop key a fresh trainer has not": (_set(("loops", "fit_loop", "evil"), 1), "loops.fit_loop has keys"),
    "an epoch that is not a count": (_set(("epoch",), "abc"), "epoch is 'abc'"),
    "an optimizer state of another shape": (_adam_state("exp_avg", torch.zeros(1000)),
                                            "optimizer state 0.exp_avg is shape [1000]"),
    "an optimizer state the optimizer does not keep": (_adam_state("momentum_buffer", torch.zeros(1)),
                                                       "optimizer state of parameter 0 has"),
    "a step count that is not finite": (_adam_state("step", torch.tensor(float("inf"))), "optimizer state 0.step is inf"),
    "two optimizers": (lambda c: c["optimizer_states"].append(c["optimizer_states"][0]), "optimizer_states is not one"),
    "a recorded max_epochs that is not a number": (_set(("xor_lightning_run", "max_epochs"), "abc"),
                                                   "its recorded trainer.max_epochs='abc' is not valid"),
    "a run record that disagrees with the weights": (_set(("xor_lightning_run", "settings", "seeds"), 3),
                                                     "its run record says seeds=3"),
    "recorded overrides that are not strings": (_set(("xor_lightning_run", "overrides"), [{"a": 1}]),
                                                "its recorded overrides are not a list"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_a_crafted_section_is_refused_in_one_line_before_anything_changes(owner, tmp_path, monkeypatch, capsys, case):
    edit, message = REFUSED[case]
    root = copy_of(owner, tmp_path)
    edit_last(root, edit)
    before = tree(root)
    monkeypatch.chdir(root)
    from xor_lightning.cli.main import main

    assert main(["train", "run_id=owner", "ckpt_path=last", "trainer.max_epochs=20", *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "last.ckpt: its " in err and message in err, err
    assert tree(root) == before


# Sections a resume rebuilds from its own configuration and folder: forging them changes nothing.
IGNORED = {
    "an old Lightning version (its migrations never run)": _set(("pytorch-lightning_version",), "0.0.1"),
    "a learning rate in the optimizer's param_groups": lambda c: c["optimizer_states"][0]["param_groups"][0].update(lr=1e30),
    "a precision plugin and a datamodule state": lambda c: c.update(MixedPrecision={"scale": 1e30},
                                                                    TruthTableDataModule={"x": "y"}),
    "a scheduler": _set(("lr_schedulers",), [{"base_lrs": [1e30]}]),
    "a user callback's state": lambda c: c["callbacks"].update({"Evil": {"dirpath": "/"}}),
}


@pytest.mark.parametrize("case", IGNORED, ids=list(IGNORED))
def test_a_rebuilt_section_changes_nothing(owner, tmp_path, clean_resume, case):
    root = copy_of(owner, tmp_path)
    edit_last(root, IGNORED[case])
    resume(root)
    for key, value in clean_resume.items():
        assert torch.equal(final_weights(root)[key], value), key


def test_evaluate_reads_only_the_weights_and_their_settings(owner, tmp_path, monkeypatch, capsys):
    root = copy_of(owner, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")

    def forge(ckpt) -> None:
        ckpt["pytorch-lightning_version"] = "0.0.1"
        for state in ckpt["callbacks"].values():
            state.update(best_model_path=str(victim), best_k_models={str(victim): torch.tensor(0.0)})

    last = edit_last(root, forge)
    before = tree(root)
    monkeypatch.chdir(root)
    from xor_lightning.cli.main import main

    assert main(["evaluate", f"checkpoint={last}", "device=cpu"]) == 0
    assert "rows right" in capsys.readouterr().out
    assert victim.read_text() == "keep me"
    assert {k: v for k, v in tree(root).items() if k in before} == before  # evaluate writes only its own output folder


def test_docs_say_what_is_done_with_every_section():
    from tests.helpers import REPO
    from xor_lightning.run.checkpoint_sections import SECTIONS

    docs = (REPO / "docs" / "security.md").read_text()
    for name in SECTIONS:
        assert all(f"`{part.strip()}`" in docs for part in name.split(",")) or name in docs, name
