"""The README and docs/ stay true: every `python -m xor_lightning ...` command in them composes
(nothing is trained), a command shown failing fails with the message shown, and the config
reference (docs/reference.md) lists every key of every config file."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from tests.helpers import REPO
from xor_lightning.base.config_dir import config_dir
from xor_lightning.base.errors import UserError
from xor_lightning.base.overrides import split_args
from xor_lightning.cli.config_help import descriptions
from xor_lightning.cli.precheck import _jobs, expand_config_sweeps, precheck
from xor_lightning.run.checks import check_train_config

PAGES = {p.relative_to(REPO).as_posix(): p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]}
REFERENCE = PAGES["docs/reference.md"]
PREFIX = "python -m xor_lightning "
# Shown failing, but only after an earlier run made the state they refer to: composed only.
NEEDS_A_PREVIOUS_RUN = {"train run_id=demo ckpt_path=last model.hidden=[4]", "train -m seeds=1,2 run_id=demosweep ckpt_path=last"}


def fenced_lines(page: str) -> list[tuple[int, list[str]]]:
    """(line number, the lines of the block from there on) for each line inside a fenced block."""
    lines, out, inside = page.splitlines(), [], False
    for i, line in enumerate(lines):
        if line.strip().startswith("```"):
            inside = not inside
        elif inside:
            out.append((i + 1, lines[i:]))
    return out


def commands() -> list[pytest.param]:
    """Each command of the pages: (its words after the module, the error line shown right after it or None)."""
    found = []
    for name, page in PAGES.items():
        found += _commands(name, page)
    return found


def _commands(name: str, page: str) -> list[pytest.param]:
    found = []
    for number, rest in fenced_lines(page):
        if PREFIX not in rest[0] or rest[0].lstrip().startswith("error: "):  # an error line may advise a command
            continue
        text, used = rest[0], 1
        while text.rstrip().endswith("\\"):  # a command continued on the next lines
            text, used = text.rstrip()[:-1] + " " + rest[used].strip(), used + 1
        text = re.split(r"\s(?:&&|\|\||;|\|)\s", text.split(PREFIX, 1)[1])[0]
        # <run_id> and the like stand for a name the reader fills in
        words = shlex.split(re.sub(r"<([\w -]+)>", lambda m: m.group(1).replace(" ", "_"), text), comments=True)
        after = rest[used].strip() if used < len(rest) else ""
        expected = after[len("error: "):] if after.startswith("error: ") else None
        found.append(pytest.param(words, expected, id=f"{name}:{number}: {' '.join(words)[:60]}"))
    return found


def _short(message: str) -> str:
    # What a device message lists depends on the machine that runs the test.
    return message.split(" on this machine", 1)[0]


@pytest.mark.parametrize("words, expected", commands())
def test_every_readme_command_composes_or_fails_as_shown(words, expected, tmp_path, monkeypatch):
    command, args = words[0], words[1:]
    assert command in ("train", "evaluate")
    monkeypatch.chdir(tmp_path)  # a refused command must not depend on (or write) anything here
    if expected is not None and " ".join(words) not in NEEDS_A_PREVIOUS_RUN:
        with pytest.raises(UserError) as err:
            precheck(command, args)
        assert _short(str(err.value)) == _short(expected)
        return
    overrides, multirun = split_args(args)
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3", job_name=command):
        for job in expand_config_sweeps(command, _jobs(overrides, multirun), multirun):
            cfg = compose(command, job, return_hydra_config=True)
            if command == "train":
                check_train_config(cfg)


def test_the_readme_has_commands_to_check():
    found = commands()
    assert len(found) >= 20 and sum(p.values[1] is not None for p in found) >= 5


def reference_keys() -> set[str]:
    """The keys named in the first column of the config reference table."""
    keys = set()
    for row in REFERENCE.splitlines():
        if not row.startswith("| `"):
            continue
        last = ""
        for name in re.findall(r"`([^`]+)`", row.split("|")[1]):
            if name.startswith("."):  # `optimizer.momentum`, `.nesterov`: same parent as the one before
                name = last.rpartition(".")[0] + name
            keys.add(name)
            last = name
    return keys


def test_the_config_reference_lists_every_key():
    listed, known = reference_keys(), descriptions("train")
    sections = {k.rpartition(".")[0] for k in known}  # trainer:, visuals: ... hold keys; their rows are the keys
    missing = sorted(k for k in known if k not in listed and k not in sections)
    assert not missing, f"docs/reference.md: add rows for {missing}"
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        evaluate_keys = {str(k) for k in compose("evaluate")}
    assert all(f"`{k}=" in REFERENCE for k in evaluate_keys), evaluate_keys


def test_every_group_with_a_choice_is_in_the_reference():
    root = Path(config_dir())
    groups = {p.name for p in root.iterdir() if p.is_dir() and p.name != "hydra" and len(list(p.glob("*.yaml"))) > 1}
    assert {g for g in groups if f"`{g}` (group)" not in REFERENCE} == set()
