"""Validation of a composed config: each bad value becomes one UserError line naming its key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from xor_lightning.base.errors import UserError
from xor_lightning.base.suggest import did_you_mean
from xor_lightning.core.devices import CHOICES as DEVICES
from xor_lightning.core.losses import INPUTS, LINEAR_HEAD_LOSSES, LOSSES, NEEDS_PROBABILITIES
from xor_lightning.core.nets import ACTIVATIONS, INITS
from xor_lightning.core.optim import NOT_ELEMENTWISE, OPTIMIZERS, SWITCHES
from xor_lightning.core.optim import arguments as _optimizer_arguments
from xor_lightning.core.task import Task
from xor_lightning.core.task import build as build_task
from xor_lightning.core.verdict import HEADS

PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed")
# fp16 mixed precision scales the summed loss and skips the whole step when any member overflows:
# one member would change the others' trajectories.
_COUPLING_PRECISIONS = ("16-mixed", "16")
MAX_SEED = 2**32 - 1  # numpy's limit, so Lightning's seed_everything's; member i is seeded seed + i
MAX_THREADS = 1024    # torch.set_num_threads(100000) crashes the process
# The keyword arguments each loss takes from its config (losses.member_losses passes them on).
LOSS_OPTIONS = {"smooth_l1": ("beta",)}


def _choice(key: str, value: Any, valid: Iterable[str]) -> None:
    valid = list(valid)
    if value not in valid:
        guess = did_you_mean(value, valid) if isinstance(value, str) else ""
        raise UserError(f"{key}={value!r} is not valid; {guess}choose one of: {', '.join(valid)}")


def _int(key: str, value: Any, low: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{key}={value!r} is not valid; expected {what or f'an integer >= {low}'}")


def _number(key: str, value: Any, low: float, high: float = float("inf"), strict: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (low < value if strict else low <= value) and value < high
    if not ok:
        rng = f"> {low}" if strict else f">= {low}"
        rng += f" and < {high}" if high != float("inf") else ""
        raise UserError(f"{key}={value!r} is not valid; expected a number {rng}")


def _bool(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise UserError(f"{key}={value!r} is not valid; expected true or false")


def check_model(model: DictConfig | dict) -> None:
    hidden = model["hidden"]
    if not isinstance(hidden, Iterable) or isinstance(hidden, str):
        raise UserError(f"model.hidden={hidden!r} is not valid; expected a list of widths >= 1, e.g. [8] or [16,8] or []")
    if not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in hidden):
        raise UserError(f"model.hidden={list(hidden)!r} is not valid; expected a list of widths >= 1, e.g. [8] or [16,8] or []")
    _choice("model.activation", model["activation"], ACTIVATIONS)
    _choice("model.init", model["init"], INITS)
    _number("model.init_std", model["init_std"], 0.0)
    _number("model.init_bound", model.get("init_bound", 1.0), 0.0)
    _choice("model.output", model.get("output") or "logit", HEADS)
    start = model.get("weights")
    if start is not None and (not isinstance(start, str) or not start):
        raise UserError(f"model.weights={start!r} is not valid; expected null, a file of weights, or a shipped name "
                        "such as deep_learning_book")
    out_std = model.get("output_init_std")
    if out_std is not None:
        if isinstance(out_std, bool) or not isinstance(out_std, (int, float)) or not out_std > 0:
            raise UserError(f"model.output_init_std={out_std!r} is not valid; expected a number > 0, or null (= model.init_std)")
        if model["init"] != "normal":
            raise UserError(f"model.output_init_std={out_std!r} is only used by model.init=normal (now "
                            f"{model['init']}); choose model.init=normal or set model.output_init_std=null")


def unknown_optimizer_argument(target: str, key: str) -> str | None:
    """The one-line message for ``optimizer.<key>`` when the chosen class has no such argument."""
    if target not in OPTIMIZERS:
        return None
    args = _optimizer_arguments(target)
    if key in args:
        return None
    name = OPTIMIZERS[target]
    having = [short for t, short in OPTIMIZERS.items() if key in _optimizer_arguments(t)]
    if having:
        return (f"optimizer.{key}: {target} (optimizer={name}) has no argument {key}; "
                f"optimizers with {key}: {', '.join(having)} (e.g. optimizer={having[0]} optimizer.{key}=...)")
    guess = did_you_mean(key, args, lambda arg: f"optimizer.{arg}")
    return f"optimizer.{key} is not an argument of {target} (optimizer={name}); {guess}valid: {', '.join(args)}"


def _check_argument_type(key: str, value: Any, default: Any) -> None:
    """The type torch expects, judged by the argument's default (bool, number, pair, or bool-or-null)."""
    if isinstance(default, bool):
        _bool(key, value)
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{key}={_yaml(value)} is not valid; expected a number")
    elif isinstance(default, tuple):
        items = list(value) if isinstance(value, (list, tuple, ListConfig)) else None
        if items is None or len(items) != len(default) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            example = "[" + ",".join(str(d) for d in default) + "]"
            raise UserError(f"{key}={_yaml(value)} is not valid; expected a list of {len(default)} numbers, e.g. {example}")
    elif default is None and value is not None and not isinstance(value, bool):
        raise UserError(f"{key}={_yaml(value)} is not valid; expected true, false or null")


def _yaml(value: Any) -> str:
    """A value as it is typed on the command line (null, not None)."""
    return "null" if value is None else repr(value)


def check_seeds(seed: Any, seeds: Any) -> None:
    _int("seed", seed, 0, f"an integer from 0 to {MAX_SEED} (member i is seeded seed + i)")
    _int("seeds", seeds, 1)
    if seed > MAX_SEED:
        raise UserError(f"seed={seed} is not valid; expected an integer from 0 to {MAX_SEED} (member i is seeded seed + i)")
    if seed + seeds - 1 > MAX_SEED:
        raise UserError(f"seed={seed} with seeds={seeds}: the last member's seed, {seed + seeds - 1}, is above {MAX_SEED}; "
                        f"lower seed or seeds (seed + seeds - 1 <= {MAX_SEED})")


def check_loss(loss: Any) -> None:
    """A known loss name and only the options that loss takes (config or checkpoint alike)."""
    _choice("loss.name", loss.get("name"), LOSSES)
    options = LOSS_OPTIONS.get(loss["name"], ())
    for key in loss:
        if key not in ("name", "input") and key not in options:
            raise UserError(f"loss.{key} is not an option of loss={loss['name']}; its options: {', '.join(('input', *options))}")
    if "beta" in loss:
        _number("loss.beta", loss["beta"], 0.0)
    given = loss.get("input")  # absent in checkpoints older than the key: the loss's default
    if given is not None:
        _choice("loss.input", given, INPUTS)
    if given == "logits" and loss["name"] in NEEDS_PROBABILITIES:
        raise UserError(f"loss.input=logits is not valid for loss={loss['name']}: it needs a value in [0, 1]; "
                        "choose loss.input=probabilities, or loss=bce_with_logits (binary cross-entropy on the logit)")


def refused_optimizer(choice: str, options: Iterable[str]) -> str | None:
    """The one line for ``optimizer=lbfgs``: a torch.optim class left out on purpose, and why."""
    target = next((t for t in NOT_ELEMENTWISE if t.rsplit(".", 1)[-1].lower() == choice.lower()), None)
    if target is None:
        return None
    return f"optimizer={choice} is not supported: {NOT_ELEMENTWISE[target]} ({', '.join(options)})"


def check_optimizer(opt: DictConfig) -> None:
    target = opt.get("_target_")
    if target in NOT_ELEMENTWISE:
        raise UserError(f"optimizer._target_={target} is not supported: {NOT_ELEMENTWISE[target]} "
                        f"({', '.join(OPTIMIZERS.values())})")
    _choice("optimizer._target_", target, OPTIMIZERS)
    # Every argument against the class's own signature, before the range checks below read them.
    args = _optimizer_arguments(opt._target_)
    for key in opt:
        if str(key).startswith("_"):
            continue
        message = unknown_optimizer_argument(opt._target_, str(key))
        if message:
            raise UserError(message)
        _check_argument_type(f"optimizer.{key}", opt[key], args[key])
        if key in SWITCHES[1:] and opt[key]:
            raise UserError(f"optimizer.{key}={_yaml(opt[key])} is not valid: torch's {key} implementation is not used "
                            "(xor-lightning's population optimizer, core/optim.py, has one); set it to false or null")
    _number("optimizer.lr", opt.get("lr"), 0.0)
    for key in ("weight_decay", "momentum", "dampening", "lr_decay", "initial_accumulator_value"):
        if key in opt:
            _number(f"optimizer.{key}", opt[key], 0.0, strict=False)
    if "eps" in opt:
        _number("optimizer.eps", opt.eps, 0.0)
    for key in ("lambd", "t0"):  # asgd
        if key in opt:
            _number(f"optimizer.{key}", opt[key], 0.0, strict=False)
    if "alpha" in opt:  # rmsprop's smoothing constant; asgd's power of the step decay
        if opt._target_ == "torch.optim.ASGD":
            _number("optimizer.alpha", opt.alpha, 0.0, strict=False)
        else:
            _number("optimizer.alpha", opt.alpha, 0.0, 1.0, strict=False)
    if "rho" in opt:  # adadelta
        if not (isinstance(opt.rho, (int, float)) and 0 <= opt.rho <= 1):
            raise UserError(f"optimizer.rho={opt.rho!r} is not valid; expected a number in [0, 1]")
    _check_rprop(opt)
    if "betas" in opt:
        betas = opt.betas
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise UserError(f"optimizer.betas={list(betas)!r} is not valid; expected two numbers in [0, 1)")
    if opt.get("nesterov") and (opt.get("momentum", 0) <= 0 or opt.get("dampening", 0) != 0):
        raise UserError("optimizer.nesterov=true needs optimizer.momentum > 0 and optimizer.dampening=0")


def _check_rprop(opt: DictConfig) -> None:
    if "etas" in opt:
        low, high = opt.etas
        if not 0 < low < 1 < high:
            raise UserError(f"optimizer.etas={list(opt.etas)!r} is not valid; expected [decrease, increase] with "
                            "0 < decrease < 1 < increase, e.g. [0.5,1.2]")
    if "step_sizes" in opt:
        low, high = opt.step_sizes
        if not 0 < low <= high:
            raise UserError(f"optimizer.step_sizes={list(opt.step_sizes)!r} is not valid; expected [smallest, largest] "
                            "with 0 < smallest <= largest, e.g. [1e-06,50]")


MAX_BUDGETS = 100  # a column each in members.csv and the sweep table


def check_budgets(budgets: Any, max_epochs: Any = None, key: str = "budgets") -> None:
    """A list of epochs >= 1 (at most MAX_BUDGETS), none beyond the run's trainer.max_epochs."""
    valid = f"a list of epochs (integers >= 1), at most {MAX_BUDGETS}, e.g. [10,100,1000]; [] for none"
    items = list(budgets) if isinstance(budgets, (list, tuple, ListConfig)) else None
    if items is None or len(items) > MAX_BUDGETS or not all(
            isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in items):
        raise UserError(f"{key}={_yaml(budgets if items is None else items)} is not valid; expected {valid}")
    beyond = [b for b in items if isinstance(max_epochs, int) and b > max_epochs]
    if beyond:
        raise UserError(f"{key}={items}: {beyond[0]} is beyond trainer.max_epochs={max_epochs} (a run cannot say whether a "
                        f"member is right at an epoch it never trains); raise trainer.max_epochs or drop the budget")


def check_hand_weights(model: DictConfig, task: Task) -> None:
    """``model.weights``: a readable file whose network is the configured one (hidden, activation,
    output) and takes the task's inputs."""
    from xor_lightning.base import weights_file
    hand = weights_file.load(model.weights, inputs=task.n_in)
    if hand.hidden != list(model.hidden):
        given, wanted = (f"[{','.join(map(str, w))}]" for w in (hand.hidden, model.hidden))  # as typed
        raise UserError(f"model.weights={model.weights}: its hidden widths are {given}, not model.hidden={wanted}; "
                        f"set model.hidden={given}")
    for key, given, wanted in (("activation", hand.activation, model.activation),
                               ("output", hand.output, model.get("output") or "logit")):
        if given is not None and given != wanted:
            raise UserError(f"model.weights={model.weights}: its weights are for model.{key}={given}, not {wanted}; "
                            f"set model.{key}={given}")


def check_head_and_loss(model: DictConfig, loss: DictConfig) -> None:
    if (model.get("output") or "logit") == "linear" and loss.name not in LINEAR_HEAD_LOSSES:
        raise UserError(f"loss={loss.name} needs a logit output (model.output=logit); with model.output=linear the output "
                        f"is the prediction itself: choose loss={' or loss='.join(LINEAR_HEAD_LOSSES)}")
    if (model.get("output") or "logit") == "linear" and loss.get("input") == "logits":
        raise UserError("loss.input=logits needs model.output=logit; with model.output=linear the output is the "
                        "prediction itself (no sigmoid to leave out): set loss.input=probabilities")


def check_train_data(data: Any) -> None:
    """The ``data`` section of a checkpoint's record (None: a record older than it) checked as a
    command line's (check_data; a record without a task name is of xor)."""
    if data is None:
        return
    if not isinstance(data, (dict, DictConfig)):
        raise UserError(f"data={data!r} is not valid; expected the data section (name, batch_size, ...)")
    check_data(data)


def check_data(data: DictConfig | dict) -> Task:
    """The task ``data`` describes (task.build checks its own keys), and the batch rows it allows."""
    task = build_task(OmegaConf.to_container(data, resolve=True) if OmegaConf.is_config(data) else data)
    bs = data.get("batch_size")
    if bs is not None:
        valid = f"null (the whole table) or an integer from 1 to {task.rows}"
        _int("data.batch_size", bs, 1, valid)
        if bs > task.rows:
            raise UserError(f"data.batch_size={bs} is not valid; expected {valid}")
    _bool("data.shuffle", data.get("shuffle", False))
    return task


def check_train_config(cfg: DictConfig) -> None:
    """Raise UserError for the first invalid value; the checks mirror configs/*.yaml."""
    check_seeds(cfg.seed, cfg.seeds)
    check_model(cfg.model)
    check_loss(cfg.loss)
    check_head_and_loss(cfg.model, cfg.loss)
    task = check_data(cfg.data)
    if cfg.model.get("weights") is not None:
        check_hand_weights(cfg.model, task)
    check_optimizer(cfg.optimizer)
    _choice("device.accelerator", cfg.device.accelerator, DEVICES)
    if str(cfg.device.precision) in _COUPLING_PRECISIONS:
        raise UserError(f"device.precision={cfg.device.precision} is not supported: its loss scaler skips a step for every "
                        f"member when one overflows, coupling the population; choose one of: {', '.join(PRECISIONS)}")
    _choice("device.precision", str(cfg.device.precision), PRECISIONS)
    _int("trainer.max_epochs", cfg.trainer.max_epochs, 1)
    _int("trainer.min_epochs", cfg.trainer.get("min_epochs") or 0, 0)
    check_budgets(cfg.get("budgets", []), cfg.trainer.max_epochs)
    _bool("early_stop.enabled", cfg.early_stop.enabled)
    _number("early_stop.margin", cfg.early_stop.margin, 0.0, 0.5, strict=False)
    _int("block_epochs", cfg.block_epochs, 1)
    check_engine(cfg, task)
    _int("checkpoint.last_every_n_epochs", cfg.checkpoint.last_every_n_epochs, 1)
    check_visuals(cfg.visuals, cfg.seeds)
    if cfg.progress.bar not in ("auto", True, False):
        raise UserError(f"progress.bar={cfg.progress.bar!r} is not valid; choose one of: auto, true, false")
    _number("progress.every_seconds", cfg.progress.every_seconds, 0.0, strict=False)
    threads = cfg.get("torch_threads")
    if threads is not None:
        valid = f"null (torch's default) or an integer from 1 to {MAX_THREADS}"
        _int("torch_threads", threads, 1, valid)
        if threads > MAX_THREADS:
            raise UserError(f"torch_threads={threads} is not valid; expected {valid}")
    check_fits(cfg, task)


def check_engine(cfg: DictConfig, task: Task) -> None:
    """engine= names an engine; engine=fused must cover the run (core/engines.py), said before anything trains."""
    from xor_lightning.core.devices import available
    from xor_lightning.core.engines import ENGINES, numba_missing, refusal

    engine = cfg.get("engine", "auto")
    _choice("engine", engine, ENGINES)
    if engine != "fused":
        return
    accelerator = str(cfg.device.accelerator)
    device = next(d for d in ("cuda", "mps", "cpu") if available()[d]) if accelerator == "auto" else accelerator
    batch = cfg.data.get("batch_size")
    plain = {key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("model", "loss", "optimizer")}
    reason = refusal(plain["model"], plain["loss"], plain["optimizer"], full_batch=batch is None or batch >= task.rows,
                     precision=str(cfg.device.precision), clipped=bool(cfg.trainer.get("gradient_clip_val")),
                     device={"gpu": "cuda"}.get(device, device), task=task) or numba_missing()  # this run imports it anyway
    if reason is not None:
        raise UserError(f"engine=fused does not cover this run: {reason}; use engine=auto (the torch engine "
                        f"takes such runs) or engine=torch")


def check_fits(cfg: DictConfig, task: Task) -> None:
    """The population must fit in the memory of the device it will train on (limits.py); an absent
    device is refused elsewhere (devices.choose_accelerator), MPS shares the host's memory."""
    from xor_lightning.base.limits import check_run_fits
    from xor_lightning.core.devices import available

    on_cuda = str(cfg.device.accelerator) in ("cuda", "auto") and available()["cuda"]
    check_run_fits(cfg.seeds, list(cfg.model.hidden), str(cfg.device.precision), "cuda" if on_cuda else "cpu",
                   rows=task.rows, inputs=task.n_in)


def check_visuals(visuals: DictConfig, seeds: int) -> None:
    _int("visuals.every_n_epochs", visuals.every_n_epochs, 0, "an integer >= 0 (0: only at the start and the end)")
    member = visuals.member
    if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < seeds:
        raise UserError(f"visuals.member={member!r} is not valid; expected an integer from 0 to {seeds - 1} (seeds={seeds})")
    members = visuals.members
    if isinstance(members, bool) or not isinstance(members, int) or not 0 <= members <= 36:
        raise UserError(f"visuals.members={members!r} is not valid; expected an integer from 0 to 36 (members in the grid)")
    for key in ("images", "histograms", "report"):
        _bool(f"visuals.{key}", visuals[key])
