"""A table without a plane (parity of 3 bits and more, a 1-input table) gets a picture of each row's
p(y=1) where a 2-input task gets its decision boundary: in report.png and in TensorBoard."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from xor_lightning.core.nets import Population
from xor_lightning.core.task import build
from xor_lightning.run.train import train
from xor_lightning.views import figures
from xor_lightning.views.canvas import BLACK
from xor_lightning.views.tiles import MAX_DRAWN_ROWS, row_height, rows_tile

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RED, BLUE = (103, 0, 31), (5, 48, 97)  # RdBu_r at p = 1 and p = 0


def _share(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 30) -> float:
    return float((np.abs(image.astype(int) - colour).max(axis=-1) <= tolerance).mean())


def test_parity_run_draws_each_rows_probability_in_report_and_tensorboard(train_cfg, tmp_path):
    metrics = train(train_cfg("data=parity", "data.bits=3", "seeds=3", "model.hidden=[4]", "trainer.max_epochs=4",
                              "early_stop.enabled=false", "visuals.every_n_epochs=2", "visuals.members=2"))
    acc = EventAccumulator(str(metrics["log_dir"]), size_guidance={"images": 0})
    acc.Reload()
    assert set(acc.Tags()["images"]) == {"rows/members", "rows/best"}  # no boundary: there is no plane to draw
    assert [e.step for e in acc.Images("rows/members")] == [0, 2, 4]
    assert [e.step for e in acc.Images("rows/best")] == [4]
    report = np.asarray(Image.open(tmp_path / "outputs" / "test" / "report.png").convert("RGB"))
    assert report.shape[0] > 300 and report.shape[1] > 900
    assert report.std() > 30  # a picture, not a blank canvas
    # The target column of 8 rows, half 1 (dark red) and half 0 (dark blue), at 18 pixels a row.
    assert _share(report, RED) > 4 * 18 * 40 / report[..., 0].size * 0.9
    assert _share(report, BLUE) > 4 * 18 * 40 / report[..., 0].size * 0.9


def test_a_wrong_cell_is_framed_black_and_a_right_one_is_not():
    probs = np.array([[0.9, 0.1], [0.2, 0.5]])  # member 0: both rows right; member 1: row 0 wrong, row 1 p = 0.5
    targets = np.array([1.0, 0.0])
    wrong = np.array([[False, True], [False, True]])
    tile = rows_tile(probs, targets, wrong, cell_width=20)
    h = row_height(2)
    assert tile.shape == (2 * h, 3 * 20, 3)
    black = (tile == BLACK).all(axis=-1)
    # Columns: target 0-19 (a black line after it), member 0 20-39, member 1 40-59; the outer pixel is a grey frame.
    assert black[1, 41:59].all() and black[h + 1, 41:59].all() and black[2:2 * h - 1, 41].all()  # member 1's frames
    assert not black[2:h - 2, 42:58].any()  # inside a frame: the cell's own colour
    assert not black[1:2 * h - 1, 22:38].any()  # member 0 is right on both rows: no frame
    assert black[1:2 * h - 1, 19:21].all()  # the targets set apart

@pytest.mark.parametrize(("table", "rows"), [({"name": "table", "targets": [0, 1]}, 2),
                                             ({"name": "parity", "bits": 10}, 1024),
                                             ({"name": "parity", "bits": 12}, 4096)])
def test_rows_picture_of_any_table_size(table, rows):
    task = build(table)
    net = Population(5, [4], "tanh", seed=0, in_features=task.n_in)
    picture = figures.rows_image(net, figures.shown_members(4, 8, 5), task=task, seed=10,
                                 solved=torch.tensor([True, False, False, False, False]), step=7, best=4)
    drawn = min(rows, MAX_DRAWN_ROWS)
    assert picture.shape[0] > drawn * row_height(rows)  # every drawn row has its line
    assert picture.shape[1] > 6 * 44  # target + 5 member columns
    # Every member got rows wrong (untrained): the wrong marks are drawn.
    assert (picture == BLACK).all(axis=-1).sum() > drawn
    assert figures.shown_members(4, 8, 5) == [4, 0, 1, 2, 3]
