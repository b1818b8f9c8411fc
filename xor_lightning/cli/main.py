"""Command line: ``python -m xor_lightning {train,evaluate} [overrides]`` (also ``xor-lightning``).

Hydra reads every argv token as an override, so the subcommand is taken off argv here before
Hydra runs. Overrides are composed and checked first, so a bad value costs one line and exit
code 2 before any folder is made.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from xor_lightning.run.run_id import new_run_id  # light: no torch, no Hydra

USAGE = """usage: python -m xor_lightning COMMAND [OVERRIDES...]   (or: xor-lightning COMMAND ...)

Train small neural networks on the XOR truth table and measure how reliably they learn it.

commands:
  train       train a network (or seeds=K networks at once), evaluate the best checkpoint
  evaluate    evaluate a checkpoint: python -m xor_lightning evaluate checkpoint=PATH

examples:
  python -m xor_lightning train
  python -m xor_lightning train model.activation=relu loss=mse optimizer=sgd seeds=1000
  python -m xor_lightning train -m optimizer=sgd,adam seeds=100
  python -m xor_lightning evaluate checkpoint=checkpoints/<run>/best.ckpt

'python -m xor_lightning COMMAND --help' lists that command's options; --version the version.
Shell completion (bash, zsh, fish): eval "$(xor-lightning -sc install=bash)" (docs/usage.md: "Shell completion")."""

COMMANDS = ("train", "evaluate")
_NO_PRECHECK = {"--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc"}
_SHOW_CONFIG = {"--cfg", "-c"}
_COMPLETION = {"--shell-completion", "-sc"}  # its words are a half-typed line, not overrides


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("xor-lightning")
    except PackageNotFoundError:  # a checkout on PYTHONPATH without pip install
        return "unknown (not installed; pip install -e . from the checkout)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] in ("--version", "-V"):
        print(f"xor-lightning {version()}")
        return 0
    if argv[0] in ("-sc", "--shell-completion"):
        # Hydra's installed completion calls `xor-lightning -sc query=bash`: no command word yet.
        from xor_lightning.cli.completion import shell_completion

        return shell_completion(argv[1:], COMMANDS)
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        from xor_lightning.base.suggest import did_you_mean

        guess = did_you_mean(command, COMMANDS)
        print(f"error: unknown command {command!r}; {guess}choose one of: {', '.join(COMMANDS)} (see --help)", file=sys.stderr)
        return 2
    if any(a.split("=", 1)[0] == "--experimental-rerun" for a in rest):
        # Hydra's rerun unpickles the file it is given: any file there could run any code.
        print("error: --experimental-rerun is not supported: it loads a pickle, which can run any code; "
              "repeat a run with the overrides in its .hydra/overrides.yaml, or resume it with ckpt_path=last",
              file=sys.stderr)
        return 2
    if _NO_PRECHECK.intersection(rest):
        return _run(command, rest, None)  # help, info, completion: no run, so no run id (and no torch import)
    # Stamped now, as the command starts: the import below loads Lightning (seconds on a busy machine).
    fresh_id = new_run_id()
    _IMPORTING[0] = True
    previous = {signum: signal.signal(signum, _stop_now) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _run(command, rest, fresh_id)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_IMPORTING = [True]  # until the command's Hydra entry point starts (the heavy imports are done by then)


def _stop_now(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM outside the training loop (imports, composing, wrapping up): one line, no
    traceback, exit 128 + the signal. During training interrupt.StopOnInterrupt stops gracefully instead."""
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    print(f"interrupted: {name} outside training (start-up or wrap-up); nothing new was saved", file=sys.stderr, flush=True)
    if _IMPORTING[0]:
        # Libraries import optional modules under bare excepts that would swallow an exception raised
        # here and go on half-imported (measured: numpy without numpy.matrix). Nothing is open yet.
        os._exit(128 + signum)
    raise SystemExit(128 + signum)


def _recorded_run_id(ckpt_path: str | None) -> str | None:
    from xor_lightning.run.resume import recorded_run_id  # reads checkpoints: loads torch only when asked

    return recorded_run_id(ckpt_path)


def _run(command: str, rest: list[str], fresh_id: str | None) -> int:
    from xor_lightning.base.errors import RunStopped, UserError
    from xor_lightning.base.overrides import MULTIRUN, place, split_args
    from xor_lightning.cli.precheck import NotComposed, precheck, swept_keys
    from xor_lightning.run.run_id import decide

    show_config = bool(_SHOW_CONFIG.intersection(rest))
    if show_config and MULTIRUN.intersection(rest):
        # Hydra answers this with a traceback; say it in one line.
        print("error: --cfg shows one job's config: leave out -m (and give one value per key)", file=sys.stderr)
        return 2
    problem = None
    try:
        if not _NO_PRECHECK.intersection(rest):
            # The run id, decided here once and from here on an ordinary config value.
            run_id = decide(split_args(rest)[0], os.environ, fresh_id, _recorded_run_id) if command == "train" else None
            rest = place(rest, [f"run_id={run_id}"] if run_id else [])
            extra, jobs = precheck(command, rest)
            rest = place(rest, extra)  # a resumed run's own trainer.max_epochs
            if MULTIRUN.intersection(rest):  # the progress label's "job 3 (4 of 9)" and sweep ETA
                os.environ.setdefault("XOR_LIGHTNING_SWEEP_JOBS", str(len(jobs)))
                os.environ.setdefault("XOR_LIGHTNING_SWEEP_START", str(time.time()))
                os.environ["XOR_LIGHTNING_SWEPT"] = ",".join(swept_keys(jobs))  # HParams columns (this sweep's)
    except RunStopped as exc:  # the run's folder could not be claimed (a full disk): nothing was left there
        print(f"{exc.label}: {exc}", file=sys.stderr)
        return exc.exit_code
    except UserError as exc:
        if not show_config or isinstance(exc, NotComposed):
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        problem = exc  # --cfg: print the config first, then say what is wrong with it

    if _NO_PRECHECK.intersection(rest) and not _COMPLETION.intersection(rest):
        from xor_lightning.cli.override_errors import parse_all

        try:  # --help and --info apply the overrides too: Hydra's parser would answer in a traceback
            parse_all([o for o in split_args(rest)[0] if "=" in o])
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    sys.argv = [f"xor-lightning {command}", *rest]
    if show_config or _NO_PRECHECK.intersection(rest):
        from xor_lightning.cli.config_app import config_app  # answers without importing torch

        entry = config_app(command)
    else:
        from xor_lightning.cli import entry_points as cli
        entry = cli.ENTRY_POINTS[command]
    _IMPORTING[0] = False  # the heavy imports are done: a signal from here on may raise
    entry()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return problem.exit_code
    return 0


def main_exit() -> None:
    """Entry point of ``xor-lightning`` and ``python -m xor_lightning``. Output piped into a reader that
    stops early (``train --help | head``) ends quietly, as a shell tool does: exit 141 (128 + SIGPIPE)."""
    try:
        try:
            code = main()
        except SystemExit as exc:  # Hydra ends --help and --cfg with sys.exit(0), before Python's last flush
            code = exc.code
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit would fail again
        code = 141
    sys.exit(code)


