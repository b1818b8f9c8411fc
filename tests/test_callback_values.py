"""A value a callback's class refuses (a shipped one or the user's own) is one line before any folder."""

from __future__ import annotations

import pytest
from pytorch_lightning.callbacks import Callback

from tests.helpers import assert_refused_in_process


class Boom(Callback):
    """A user's callback whose constructor raises."""

    def __init__(self, level: int = 1) -> None:
        raise RuntimeError("the licence server is down\nsecond line")


@pytest.mark.parametrize(
    "args, message",
    [
        (["callbacks=timer", "callbacks.timer.duration=abc"],
         "error: callbacks.timer.duration=abc is not valid: Timer refuses it (`Timer(duration='abc')` is not a valid "
         "duration. Expected a string in the format DD:HH:MM:SS.)"),
        (["callbacks=timer", "+callbacks.timer.interval=hour"], "error: callbacks.timer.interval=hour is not valid"),
        (["callbacks=lr_monitor", "callbacks.lr_monitor.logging_interval=abc"],
         "error: callbacks.lr_monitor.logging_interval=abc is not valid: LearningRateMonitor refuses it"),
        (["callbacks=timer", "+callbacks.timer.durations=1"],
         "error: callbacks.timer.durations is not an argument of Timer; valid: duration, interval, verbose"),
        ([f"+callbacks.mine._target_={__name__}.Boom"],
         "error: callbacks.mine is not valid: Boom refuses it (the licence server is down)"),
        (["+callbacks.es._target_=pytorch_lightning.callbacks.EarlyStopping", "+callbacks.es.monitor=x",
          "+callbacks.es.mode=abc"], "error: callbacks.es.mode=abc is not valid: EarlyStopping refuses it"),
    ],
    ids=["timer-duration", "timer-interval", "lr-monitor-interval", "unknown-argument", "user-raises", "user-mode"],
)
def test_a_value_a_callback_refuses_is_one_line_and_nothing_is_written(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(["train", *args], message, tmp_path, capsys)
