"""What a resumed run takes from each section of a checkpoint: Lightning restores far more than the
weights (callback states with file paths it later deletes, loop counters, optimizer states, precision
and datamodule states, and migrations chosen by the recorded Lightning version). So the dictionary
Lightning receives is rebuilt here from checked data, section by section, before it sees any of it
(AtomicCheckpointIO.load_checkpoint): no path, count or class in a file reaches Lightning unchecked.
docs/security.md has the same table for readers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Timer

from xor_lightning.base.errors import UserError

# Loop and step counters beyond this are not counts a run of ours can reach (2^53: exact in a float).
MAX_COUNT = 2**53
# What happens to each top-level section (also the docs' table).
SECTIONS = {
    "state_dict": "kept: every tensor checked against seeds and model.hidden (checkpoints.check_shapes)",
    "hyper_parameters": "kept: checked like a command line, and equal to the run record's settings; a member table "
                        "(members) checked as data: one value per member, choices from the allowed lists, every "
                        "distinct member's config through a command line's checks",
    "xor_lightning_run": "kept: run id, overrides, max_epochs and settings checked (resume.check_record)",
    "optimizer_states": "rebuilt: one optimizer; its per-parameter state must have exactly the keys, shapes and dtypes "
                        "the configured optimizer makes; its hyperparameters (param_groups) come from the config",
    "loops": "rebuilt: Lightning's fit-loop counters, same keys and types as a fresh trainer's, counts in [0, 2^53]",
    "callbacks": "rebuilt: best.ckpt's record is remade from this run's own folder (never a path from the file); "
                 "a Timer's elapsed seconds are kept if finite and >= 0; every other callback state is dropped",
    "epoch, global_step": "kept if counts in [0, 2^53], else refused",
    "pytorch-lightning_version": "replaced by the running version: Lightning's migrations never run on a file",
    "lr_schedulers": "replaced by [] (a run has no scheduler)",
    "anything else": "dropped (precision plugin and datamodule states, hparams_name, unknown keys)",
}


def _refuse(where: str, what: str, path: Path, key: str) -> UserError:
    return UserError(f"{key}={path}: its {where} {what}: not a consistent checkpoint; resume from another last.ckpt")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def like(template: Any, given: Any, where: str, path: Path, key: str) -> Any:
    """``given`` with exactly ``template``'s structure: the same keys, the same kinds of values,
    counts bounded; a copy built from the template, so nothing the file adds survives."""
    if isinstance(template, Mapping):
        if not isinstance(given, Mapping) or set(given) != set(template):
            found = sorted(map(str, given))[:8] if isinstance(given, Mapping) else type(given).__name__
            raise _refuse(where, f"has keys {found}, not {sorted(map(str, template))[:8]}", path, key)
        return {k: like(v, given[k], f"{where}.{k}", path, key) for k, v in template.items()}
    if isinstance(template, bool) or template is None:
        if type(given) is not type(template):
            raise _refuse(where, f"is {given!r}, not a {type(template).__name__}", path, key)
        return given
    if isinstance(template, int):
        if not _count(given):
            raise _refuse(where, f"is {given!r}, not a count from 0 to 2^53", path, key)
        return given
    raise _refuse(where, f"has a value of a kind a fresh run does not have ({type(template).__name__})", path, key)


def counters(ckpt: Mapping, path: Path, key: str) -> dict[str, int]:
    out = {}
    for name in ("epoch", "global_step"):
        value = ckpt.get(name, 0)
        if not _count(value):
            raise _refuse(name, f"is {value!r}, not a count from 0 to 2^53", path, key)
        out[name] = value
    return out


def _expected_optimizer_state(optimizer: Mapping, shapes: list[torch.Tensor], members: Mapping | None = None) -> dict:
    """What the configured optimizer's state_dict holds after a step, on stand-ins of the parameters
    (with a member table: its rules' parts, as the module makes them)."""
    from xor_lightning.core.members import MemberTable
    from xor_lightning.core.module import make_optimizer

    params = [torch.nn.Parameter(torch.zeros_like(t)) for t in shapes]
    parts = MemberTable.from_lists(members).optimizer_parts() if members is not None else None
    fresh = make_optimizer(optimizer, params, parts=parts)
    for p in params:
        p.grad = torch.zeros_like(p)
    fresh.step()
    return fresh.state_dict()


def _state_value(expected: Any, given: Any, where: str, path: Path, key: str) -> Any:
    if isinstance(expected, torch.Tensor):
        if not isinstance(given, torch.Tensor) or given.shape != expected.shape or given.dtype != expected.dtype:
            found = f"shape {list(given.shape)} {given.dtype}" if isinstance(given, torch.Tensor) else type(given).__name__
            raise _refuse(where, f"is {found}, not shape {list(expected.shape)} {expected.dtype}", path, key)
        if expected.dim() == 0 and not (math.isfinite(float(given)) and 0 <= float(given) <= MAX_COUNT):
            raise _refuse(where, f"is {float(given)!r}, not a step count from 0 to 2^53", path, key)
        return given
    if expected is None or isinstance(expected, (bool, int, float)):
        if type(given) is not type(expected) or (isinstance(given, float) and not math.isfinite(given)):
            raise _refuse(where, f"is {given!r}, not like {expected!r}", path, key)
        return given
    raise _refuse(where, "holds a value the configured optimizer does not keep", path, key)


def optimizer_states(ckpt: Mapping, params: list[torch.Tensor], path: Path, key: str) -> list[dict]:
    """One optimizer state: its per-parameter entries checked against what the configured optimizer
    keeps (names, shapes, dtypes), its param_groups (lr, betas, ...) taken from the configuration."""
    given = ckpt.get("optimizer_states")
    if not isinstance(given, list) or len(given) != 1 or not isinstance(given[0], Mapping):
        raise _refuse("optimizer_states", "is not one optimizer's state", path, key)
    hparams = ckpt["hyper_parameters"]
    expected = _expected_optimizer_state(hparams["optimizer"], params, hparams.get("members"))
    state = given[0].get("state")
    if not isinstance(state, Mapping) or (state and set(state) != set(expected["state"])):
        raise _refuse("optimizer state", f"covers parameters {sorted(state)[:8] if isinstance(state, Mapping) else '?'}, "
                      f"not {sorted(expected['state'])}", path, key)
    rebuilt = {}
    for index, entry in state.items():
        want = expected["state"][index]
        if not isinstance(entry, Mapping) or set(entry) != set(want):
            names = sorted(map(str, entry)) if isinstance(entry, Mapping) else type(entry).__name__
            raise _refuse(f"optimizer state of parameter {index}", f"has {names}, not {sorted(want)}", path, key)
        rebuilt[index] = {name: _state_value(want[name], entry[name], f"optimizer state {index}.{name}", path, key)
                          for name in want}
    return [{"state": rebuilt, "param_groups": expected["param_groups"]}]


def callback_states(ckpt: Mapping, callbacks: list, best_type: type, best_version: torch.Tensor) -> dict:
    """Callback states rebuilt from this run's own folder: a record of its best.ckpt only where that
    file is, and a Timer's elapsed time; the file's paths, scores and other callbacks' states are never read."""
    given = ckpt.get("callbacks") if isinstance(ckpt.get("callbacks"), Mapping) else {}
    out: dict[str, Any] = {}
    for callback in callbacks:
        if isinstance(callback, best_type):
            best = Path(callback.dirpath) / "best.ckpt"
            if best.is_file() and not best.is_symlink():
                score = best_version.detach().float().clone()
                out[callback.state_key] = {
                    "monitor": callback.monitor, "best_model_score": score, "best_model_path": str(best),
                    "current_score": score, "dirpath": callback.dirpath, "best_k_models": {str(best): score},
                    "kth_best_model_path": str(best), "kth_value": score, "last_model_path": "",
                }
        elif type(callback) is Timer:
            state = given.get(callback.state_key)
            elapsed = state.get("time_elapsed") if isinstance(state, Mapping) else None
            if isinstance(elapsed, Mapping):
                kept = {stage: float(s) for stage, s in elapsed.items() if isinstance(stage, str) and isinstance(
                    s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s >= 0}
                out[callback.state_key] = {"time_elapsed": kept}
    return out


MAX_OVERRIDES = 1000  # a command line of ours is far shorter; bounds what the record can make us read


def check_record(info: Any, hparams: Mapping, path: Path, key: str) -> dict:
    """The run record (RunInfo) as data: overrides are short strings, max_epochs a count, the settings
    pass the checks of a command line and agree with the hyper-parameters the weights were built from."""
    from xor_lightning.run.checks import check_train_data

    if not isinstance(info, Mapping) or not isinstance(info.get("settings"), Mapping):
        raise UserError(f"{key}={path}: this checkpoint has no run record (written by an older version); cannot resume it")
    overrides = info.get("overrides", [])
    if not isinstance(overrides, list) or len(overrides) > MAX_OVERRIDES or not all(
            isinstance(o, str) and len(o) <= 4096 for o in overrides):
        raise _refuse("recorded overrides", f"are not a list of at most {MAX_OVERRIDES} short strings", path, key)
    max_epochs = info.get("max_epochs")
    if max_epochs is not None and not (_count(max_epochs) and max_epochs >= 1):
        raise UserError(f"{key}={path}: its recorded trainer.max_epochs={max_epochs!r} is not valid; expected an integer "
                        ">= 1: not a consistent checkpoint (give trainer.max_epochs=N to resume it anyway)")
    settings = info["settings"]
    for name in ("model", "loss", "optimizer", "seed", "seeds"):
        if settings.get(name) != hparams.get(name):
            raise _refuse("run record", f"says {name}={settings.get(name)!r} but its weights were built with "
                          f"{hparams.get(name)!r}", path, key)
    try:
        check_train_data(settings.get("data"))
    except UserError as exc:
        raise UserError(f"{key}={path}: its recorded {exc}") from None
    return dict(info)


def fit_loop_template() -> dict:
    """A fresh trainer's fit-loop state: what a resumed file's ``loops`` must look like (checked before
    any folder exists, when the run's own trainer is not built yet)."""
    from xor_lightning.run.lightning_logging import quiet_lightning

    quiet_lightning()
    bare = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    return bare.fit_loop.state_dict()


def _sections(ckpt: Mapping, path: Path, key: str, run_key: str, loop_template: dict) -> dict:
    """Every section but the callbacks', checked and rebuilt (SECTIONS)."""
    state = ckpt["state_dict"]
    layers = sum(1 for name in state if name.startswith("net.weights."))
    params = [state[f"net.weights.{j}"] for j in range(layers)] + [state[f"net.biases.{j}"] for j in range(layers)]
    loops = ckpt.get("loops")
    given_loop = loops.get("fit_loop") if isinstance(loops, Mapping) else None
    return {
        "state_dict": state,
        "hyper_parameters": ckpt["hyper_parameters"],
        run_key: check_record(ckpt.get(run_key), ckpt["hyper_parameters"], path, key),
        "pytorch-lightning_version": pl.__version__,
        **counters(ckpt, path, key),
        "loops": {"fit_loop": like(loop_template, given_loop, "loops.fit_loop", path, key)},
        "optimizer_states": optimizer_states(ckpt, params, path, key),
        "lr_schedulers": [],
    }


def check_sections(ckpt: Mapping, path: Path, key: str, run_key: str) -> None:
    """Refuse, in one line, a checkpoint any of whose sections a resume would not take (preflight)."""
    _sections(ckpt, path, key, run_key, fit_loop_template())


def for_resume(ckpt: dict, path: Path, key: str, trainer: pl.Trainer, best_type: type, run_key: str) -> dict:
    """The dictionary Lightning resumes from, rebuilt from the checked checkpoint ``ckpt`` (SECTIONS)."""
    rebuilt = _sections(ckpt, path, key, run_key, trainer.fit_loop.state_dict())
    rebuilt["callbacks"] = callback_states(ckpt, trainer.callbacks, best_type, ckpt["state_dict"]["best_version"])
    return rebuilt
