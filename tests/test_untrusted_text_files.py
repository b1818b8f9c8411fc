"""Weights files (and our lock file) are read with what the parser builds bounded before it is built:
no YAML alias can multiply a small file into 10^9 numbers, no nesting ends in a RecursionError."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from tests.helpers import assert_refused_in_process
from xor_lightning.base import weights_file
from xor_lightning.base.errors import UserError
from xor_lightning.run import run_lock

WIDTH = 4096


def amplified() -> str:
    """70 KB that describe 16.8 million numbers: a 4096 x 2 first layer written out, then one 4096-number
    row defined once (&row) and referenced 4096 times (*row) as the second layer's weight."""
    row = "&row [" + ", ".join("0" for _ in range(WIDTH)) + "]"
    refs = ", ".join(["*row"] * (WIDTH - 1))
    return (f"layers:\n  - {{bias: {row}, weight: [{', '.join(['[0, 0]'] * WIDTH)}]}}\n"
            f"  - {{bias: [0], weight: [{refs}, *row]}}\n")


def nested_json() -> str:
    return '{"layers": ' + "[" * 50_000 + "]" * 50_000 + "}"


def nested_yaml() -> str:
    return "layers:\n  " + "- " * 50_000 + "0\n"


TOO_MUCH = [
    ("amplified.yaml", amplified, "anchors and aliases"),
    ("nested.json", nested_json, "nested more than 5 levels deep"),
    ("nested.yaml", nested_yaml, "nested more than 5 levels deep"),
]


@pytest.mark.parametrize("name, text, words", TOO_MUCH, ids=[t[0] for t in TOO_MUCH])
def test_a_weights_file_that_describes_too_much_is_refused_at_once_and_small(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text())
    assert path.stat().st_size < 110_000
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(UserError) as refused:
        weights_file.load(str(path), inputs=2)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    message = str(refused.value)
    assert message.startswith(f"model.weights={path}: ") and words in message and "\n" not in message, message
    # Building the amplified file took 83 s and 1.8 GB; the refusal reads the text and a few events.
    assert seconds < 1.0 and peak < 20_000_000, (seconds, peak)


def test_the_command_refuses_an_amplified_file_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    path = tmp_path.parent / f"{tmp_path.name}-amplified.yaml"
    path.write_text(amplified())
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", f"model.weights={path}", "model.hidden=[4096]"],
                              f"error: model.weights={path}: line 2: YAML anchors", tmp_path, capsys)


def test_a_weights_file_with_an_unknown_key_is_refused_before_its_layers_are_read(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("activaton: relu\nlayers:\n  - {weight: [[1, 1, 1]], bias: [0]}\n")  # a bad layer too
    with pytest.raises(UserError, match="unknown key 'activaton'; a weights file has: activation, output, layers"):
        weights_file.load(str(path), inputs=2)


def test_a_lock_file_nested_deep_names_no_holder_and_raises_nothing(tmp_path):
    (tmp_path / run_lock.LOCK).write_text("[" * 50_000 + "]" * 50_000)
    assert run_lock._holder(tmp_path / run_lock.LOCK) == {}
