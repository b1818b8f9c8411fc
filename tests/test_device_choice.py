"""Device choice: auto prefers CUDA, then MPS, then CPU; an absent device is one line (availability
simulated, so this runs on any CPU machine)."""

import pytest

from xor_lightning.base.errors import UserError
from xor_lightning.core.devices import choose_accelerator

CPU_ONLY = {"cuda": False, "mps": False, "cpu": True}
CUDA = {"cuda": True, "mps": False, "cpu": True}
APPLE = {"cuda": False, "mps": True, "cpu": True}
BOTH = {"cuda": True, "mps": True, "cpu": True}


@pytest.mark.parametrize(
    "have, expected", [(CPU_ONLY, "cpu"), (CUDA, "cuda"), (APPLE, "mps"), (BOTH, "cuda")]
)
def test_auto_prefers_cuda_then_mps_then_cpu(have, expected):
    assert choose_accelerator("auto", have) == expected


@pytest.mark.parametrize("requested, have", [("cpu", BOTH), ("cuda", CUDA), ("mps", APPLE)])
def test_an_available_device_is_used_as_asked(requested, have):
    assert choose_accelerator(requested, have) == requested


@pytest.mark.parametrize("requested, have", [("cuda", CPU_ONLY), ("cuda", APPLE), ("mps", CUDA)])
def test_an_absent_device_is_refused_in_one_line(requested, have):
    with pytest.raises(UserError) as err:
        choose_accelerator(requested, have)
    msg = str(err.value)
    assert msg.startswith(f"device={requested}: no {requested.upper()} device") and "\n" not in msg
    assert "available: auto, cpu" in msg


def test_unknown_device_lists_the_choices():
    with pytest.raises(UserError, match=r"device='tpu' is not a device; choose one of: auto, cpu, cuda, mps"):
        choose_accelerator("tpu", CPU_ONLY)
