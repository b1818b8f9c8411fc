"""Networks written down by hand: a small YAML (or JSON) file of weights, to start training from or
to evaluate as they are (``model.weights=FILE``, ``evaluate weights=FILE``).

    # the exact XOR solution of Goodfellow, Bengio and Courville, Deep Learning (2016), section 6.1
    activation: relu   # optional: what the weights mean (checked against model.activation)
    output: linear     # optional: logit or linear (model.output)
    layers:            # input to output, in nn.Linear's layout: weight [out, in], bias [out]
      - {weight: [[1, 1], [1, 1]], bias: [0, -1]}
      - {weight: [[1, -2]], bias: [0]}

A value without a "/" and without a suffix names a file shipped in configs/networks/ (e.g.
``deep_learning_book``); anything else is a path. The file is untrusted input: it must be a
regular file of at most 1 MB, its YAML may not use anchors or aliases (``&row`` ... ``*row`` would
let 45 KB describe 10^9 numbers) nor nest deeper than a weights file does, and every size is checked
before anything is built (bounded_parse.py).
"""

from __future__ import annotations

import math
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from xor_lightning.base.bounded_parse import TooComplex, load_yaml
from xor_lightning.base.config_dir import config_dir
from xor_lightning.base.errors import UserError

MAX_BYTES = 1_000_000
MAX_LAYERS = 64
MAX_WIDTH = 4096
# The document, 'layers', a layer, 'weight', a row: nothing in a weights file nests deeper.
MAX_DEPTH = 5
# Every value takes at least one character and a separator, so a file within MAX_BYTES holds no more.
MAX_VALUES = MAX_BYTES // 2
KEYS = ("activation", "output", "layers")


@dataclass(frozen=True)
class HandWeights:
    layers: list[tuple[list[list[float]], list[float]]]  # (weight [out][in], bias [out]) per layer
    activation: str | None
    output: str | None

    @property
    def hidden(self) -> list[int]:
        return [len(bias) for _, bias in self.layers[:-1]]


def shipped() -> list[str]:
    return sorted(p.stem for p in (Path(config_dir()) / "networks").glob("*.yaml"))


def resolve(value: str, key: str) -> Path:
    """A shipped name or a path; the file must be a regular file of at most MAX_BYTES."""
    text = str(value)
    path = Path(config_dir()) / "networks" / f"{text}.yaml" if "/" not in text and "." not in text else Path(text)
    try:
        st = path.stat()
    except OSError:
        raise UserError(f"{key}={value}: no such file; give a weights file (docs/why-seeds-fail.md) or a shipped one: "
                        f"{', '.join(shipped())}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{key}={value}: not a regular file; give a YAML or JSON file of weights")
    if st.st_size > MAX_BYTES:
        raise UserError(f"{key}={value}: {st.st_size} bytes; a weights file is at most {MAX_BYTES} bytes")
    return path


def load(value: str, key: str = "model.weights", *, inputs: int) -> HandWeights:
    """The file's network, whose first layer takes ``inputs`` numbers (the task's input width)."""
    path = resolve(value, key)
    try:
        doc = load_yaml(path.read_text(), MAX_DEPTH, MAX_VALUES)
    except TooComplex as exc:
        raise UserError(f"{key}={value}: {exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise UserError(f"{key}={value}: not readable as YAML/JSON ({str(exc).splitlines()[0]})") from None
    activation, output, layers = _header(doc, key, value)
    parsed, fan_in = [], inputs
    for j, layer in enumerate(layers):
        weight, bias = _layer(layer, j, fan_in, key, value)
        parsed.append((weight, bias))
        fan_in = len(bias)
    if fan_in != 1:
        raise UserError(f"{key}={value}: the last layer has {fan_in} outputs; the network's output is one number")
    return HandWeights(parsed, activation, output)


def _header(doc, key: str, value: str) -> tuple[str | None, str | None, list]:
    """The cheap checks first: the keys, the names, how many layers."""
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise UserError(f"{key}={value}: expected a mapping with 'layers': a list of 1 to {MAX_LAYERS} "
                        "{weight: [[...]], bias: [...]} from input to output")
    unknown = [str(k) for k in doc if k not in KEYS]
    if unknown:
        raise UserError(f"{key}={value}: unknown key {unknown[0][:40]!r}; a weights file has: {', '.join(KEYS)}")
    activation, output = doc.get("activation"), doc.get("output")
    for name, given in (("activation", activation), ("output", output)):
        if given is not None and not isinstance(given, str):
            raise UserError(f"{key}={value}: '{name}' must be a name, not {given!r}")
    return activation, output, layers


def _layer(layer, j: int, fan_in: int, key: str, value: str) -> tuple[list[list[float]], list[float]]:
    where = f"{key}={value}: layer {j}"
    if not isinstance(layer, dict) or set(layer) != {"weight", "bias"}:
        raise UserError(f"{where}: expected exactly 'weight' and 'bias'")
    weight, bias = layer["weight"], layer["bias"]
    if not isinstance(bias, list) or not 1 <= len(bias) <= MAX_WIDTH:
        raise UserError(f"{where}: 'bias' must be a list of 1 to {MAX_WIDTH} numbers")
    rows_ok = isinstance(weight, list) and len(weight) == len(bias)
    if not rows_ok or not all(isinstance(row, list) and len(row) == fan_in for row in weight):
        raise UserError(f"{where}: 'weight' must be {len(bias)} rows of {fan_in} numbers (nn.Linear: [out, in])")
    numbers = [v for row in weight for v in row] + bias
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
        raise UserError(f"{where}: every weight and bias must be a finite number")
    return [[float(v) for v in row] for row in weight], [float(v) for v in bias]
