"""Every trainer.* value passed through to Lightning is checked for its type, its range and against the
other keys, in one line, before anything runs (Lightning reads many of them late or not at all)."""

from __future__ import annotations

import pytest

from tests.helpers import assert_refused_in_process, compose_config
from xor_lightning.base.errors import UserError
from xor_lightning.run.trainer_setup import trainer_args

BAD = [
    ("trainer.deterministic=abc", "trainer.deterministic='abc' is not valid; expected one of: null, true, false, warn"),
    ("trainer.deterministic=1", "trainer.deterministic=1 is not valid"),
    ("trainer.min_epochs=50 trainer.max_epochs=20",
     "trainer.min_epochs=50 is above trainer.max_epochs=20: the run would stop at 20 without a word"),
    ("+trainer.fast_dev_run=-1", "trainer.fast_dev_run=-1 is not valid; expected true, false, or an integer >= 0"),
    ("+trainer.fast_dev_run=abc", "trainer.fast_dev_run='abc' is not valid"),
    ("+trainer.max_time=1h", "trainer.max_time='1h' is not valid; expected null, a duration DD:HH:MM:SS"),
    ("+trainer.max_time={hours:-1}", "trainer.max_time={'hours': -1} is not valid"),
    ("+trainer.max_time={hour:1}", "trainer.max_time={'hour': 1} is not valid"),
    ("+trainer.gradient_clip_val=-1", "trainer.gradient_clip_val=-1 is not valid; expected null or a number >= 0"),
    ("+trainer.gradient_clip_val=abc", "trainer.gradient_clip_val='abc' is not valid"),
    ("+trainer.gradient_clip_algorithm=max",
     "trainer.gradient_clip_algorithm='max' is not valid; expected one of: null, norm, value"),
    ("+trainer.limit_test_batches=1.5", "trainer.limit_test_batches=1.5 is not valid"),
    ("+trainer.profiler=fast", "trainer.profiler='fast' is not valid; expected one of: null, simple, advanced, pytorch, xla"),
    ("+trainer.benchmark=yes", "trainer.benchmark='yes' is not valid; expected true, false or null"),
    ("+trainer.detect_anomaly=1", "trainer.detect_anomaly=1 is not valid; expected true or false"),
    ("+trainer.inference_mode=null", "trainer.inference_mode=null is not valid; expected true or false"),
    ("+trainer.enable_model_summary=[1]", "trainer.enable_model_summary=[1] is not valid; expected true, false or null"),
    ("+trainer.model_registry=3", "trainer.model_registry=3 is not valid; expected a string or null"),
]


@pytest.mark.parametrize("overrides, message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_trainer_value_is_one_line_naming_the_key_and_what_is_valid(overrides, message):
    cfg = compose_config("train", overrides.split())
    with pytest.raises(UserError) as refused:
        trainer_args(cfg.trainer)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value), str(refused.value)


GOOD = ["trainer.deterministic=warn", "trainer.deterministic=null", "+trainer.fast_dev_run=true", "+trainer.fast_dev_run=3",
        "+trainer.max_time=00:01:30:00", "+trainer.max_time={hours:1,minutes:30}", "+trainer.profiler=simple",
        "+trainer.gradient_clip_val=0.5", "+trainer.limit_test_batches=0.5", "+trainer.benchmark=null",
        "trainer.min_epochs=20 trainer.max_epochs=20"]


@pytest.mark.parametrize("overrides", GOOD)
def test_a_valid_trainer_value_passes(overrides):
    trainer_args(compose_config("train", overrides.split()).trainer)


def test_the_command_refuses_a_bad_trainer_value_before_any_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", "trainer.deterministic=abc"],
                              "error: trainer.deterministic='abc' is not valid", tmp_path, capsys)
