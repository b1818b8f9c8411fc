"""Fixtures; the helpers they use (and tests import) are in tests/helpers.py."""

from __future__ import annotations

import pytest
from omegaconf import DictConfig

from tests.helpers import train_config


@pytest.fixture
def train_cfg(tmp_path):
    """``train_cfg(*overrides, run_id="test")``: a train config whose outputs all land under tmp_path."""

    def make(*overrides: str, run_id: str = "test") -> DictConfig:
        return train_config(tmp_path, *overrides, run_id=run_id)

    return make


@pytest.fixture
def one_torch_thread():
    """Tiny tensors on one torch thread, as the app runs small populations: two threads on this shared
    2-core machine cost up to ~20x one (PITFALLS.md); the count is restored after the test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
