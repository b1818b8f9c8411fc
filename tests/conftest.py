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
