"""A config group given several choices (logger=[csv,tensorboard], or swept with -m) passes the
check that a choice is a name; a path among them is still refused."""

from __future__ import annotations

import pytest

from xor_lightning.base.errors import UserError
from xor_lightning.cli.precheck import _check_group_choices


@pytest.mark.parametrize("override", ["logger=[csv,tensorboard]", "logger=[csv, mlflow]", "logger=csv,tensorboard",
                                      "callbacks=[lr_monitor,timer]", "logger=[]"])
def test_several_names_are_choices(override):
    _check_group_choices([override])


@pytest.mark.parametrize("override", ["logger=[csv,../x]", "experiment=../train", "logger=csv,/etc/x"])
def test_a_path_among_them_is_refused(override):
    with pytest.raises(UserError, match="a group choice is a name, not a path"):
        _check_group_choices([override])
