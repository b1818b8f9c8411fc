"""The pictures a learner reads: what each one holds (titles, colour bars, legend, every layer),
that a dead unit looks dead, that PNGs decode to what was drawn, and that TensorBoard's fixed-member
tags show the same member at every step."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from xor_lightning.core.data import INPUTS, TARGETS
from xor_lightning.core.evaluation import Evaluation
from xor_lightning.core.losses import member_losses
from xor_lightning.core.nets import Population
from xor_lightning.core.task import XOR
from xor_lightning.views import canvas, figures, tb_visuals, tiles
from xor_lightning.views.canvas import text
from xor_lightning.views.figures import History
from xor_lightning.views.run_report import loss_plot, report_image


def find(picture: np.ndarray, piece: np.ndarray) -> list[tuple[int, int]]:
    """Every (top, left) where ``piece`` appears in ``picture`` pixel for pixel."""
    ny, nx = np.argwhere((piece != 255).any(axis=2))[0]  # anchor on the piece's first non-white pixel
    h, w = piece.shape[:2]
    hits = []
    for y, x in np.argwhere((picture == piece[ny, nx]).all(axis=2)):
        top, left = y - ny, x - nx
        if top >= 0 and left >= 0 and np.array_equal(picture[top:top + h, left:left + w], piece):
            hits.append((int(top), int(left)))
    return hits


def trained(members: int, hidden: list[int], epochs: int = 40, activation: str = "tanh") -> Population:
    net = Population(members, hidden, activation, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(epochs):
        opt.zero_grad()
        member_losses("bce_with_logits", net(INPUTS), TARGETS).sum().backward()
        opt.step()
    return net


def solved_of(net: Population) -> torch.Tensor:
    with torch.no_grad():
        p = torch.sigmoid(net(INPUTS)[:, :, 0])
    return ((p > 0.5) & (TARGETS[:, 0] > 0.5) | (p < 0.5) & (TARGETS[:, 0] < 0.5)).all(dim=1)


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_png_bytes_decode_to_the_picture_and_save_writes_them(tmp_path):
    picture = figures.members_image(trained(4, [8]), 4, task=XOR, seed=0, step=3)
    for level in (1, 6):
        assert np.array_equal(decode(canvas.png(picture, level)), picture)
    path = figures.save(picture, tmp_path / "deep" / "grid.png")
    assert np.array_equal(decode(path.read_bytes()), picture)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temporary file left behind


def test_boundary_picture_has_its_title_colour_bar_legend_and_decision_line():
    net = trained(3, [8])
    solved = solved_of(net)
    picture = figures.boundary_image(net, 2, task=XOR, seed=5, solved=solved, step=40)
    state = "solved" if bool(solved[2]) else "not solved"
    assert find(picture, figures.title_line("member 2 (seed 7), epoch 40", bool(solved[2])))
    assert find(picture, tiles.prob_bar(240))  # p(y=1) from 0 to 1, labelled
    assert find(picture, tiles.legend())  # circle: target 1, square: target 0, line: p = 0.5
    assert find(picture, text(state, 14, figures.SOLVED_COLOUR if bool(solved[2]) else figures.FAILED_COLOUR))
    tile = tiles.boundary_tile(figures.tile_decisions(net, [2], 240)[0], marks=XOR.marks)
    assert find(picture, tile)
    assert (tile == 0).all(axis=2).sum() > 240  # the black p = 0.5 line crosses the tile
    bar = tiles.prob_bar(240)
    column = bar[:, np.argmax([len(np.unique(bar[:, x], axis=0)) for x in range(bar.shape[1])])]
    assert len(np.unique(column, axis=0)) > 100  # a real gradient, not a swatch


def test_a_member_at_p_half_everywhere_has_no_decision_line():
    net = Population(2, [4], "tanh", seed=0)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()  # member 0: logit 0 everywhere, p = 0.5 and no side is chosen
        net.biases[1][1] = 1e-4  # member 1: p just above 0.5 everywhere, the same colour, no line to draw
    flat_half, flat_above = (tiles.boundary_tile(z, marks=XOR.marks) for z in figures.tile_decisions(net, [0, 1], 64))
    assert np.array_equal(flat_half, flat_above)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_field_overflowed_to_inf_draws_its_line_without_numpy_warnings():
    """A network about to diverge (optimizer.lr=1e30) can overflow its float32 field to +-inf."""
    huge = np.full((64, 64), 1e30, dtype=np.float32)
    huge[:, :32] = -1e30
    overflowed = np.where(huge > 0, np.inf, -np.inf).astype(np.float32)
    line = tiles._decision_line(overflowed)
    assert line[:, 31:33].all() and not line[:, :30].any() and not line[:, 34:].any()
    assert np.array_equal(line, tiles._decision_line(huge))
    assert tiles.boundary_tile(overflowed).dtype == np.uint8


def test_a_dead_relu_unit_is_neutral_and_units_share_one_scale_per_layer():
    net = Population(1, [3], "relu", seed=0)
    with torch.no_grad():
        net.weights[0][0, :, 0] = 0.0
        net.biases[0][0, 0, 0] = -1.0  # unit 0: relu(-1) = 0 everywhere, a dead unit
        net.weights[0][0, :, 2] = 3 * net.weights[0][0, :, 1]  # unit 2: three times unit 1
        net.biases[0][0, 0, 2] = 3 * net.biases[0][0, 0, 1]
    acts = figures.layer_fields(net, 0, 88)[0].numpy()
    limit = float(np.abs(acts).max())
    picture = figures.units_image(net, 0, task=XOR, seed=0, step=0)
    for u in range(3):  # each tile, on the layer's one scale, is in the picture
        assert len(find(picture, tiles.unit_tile(acts[u], limit, XOR.marks))) == 1, u
    dead = tiles.unit_tile(acts[0], limit, XOR.marks)
    neutral = canvas.colourize(np.zeros(1), canvas.UNIT_CMAP, -limit, limit)[0]
    assert (dead[30:58, 30:58] == neutral).all()  # the middle of the tile, between the markers
    assert max(abs(int(c) - 255) for c in neutral) < 12  # and neutral is (near) white
    assert find(picture, tiles.unit_bar(limit, 88))  # the layer's colour bar, -limit .. +limit


@pytest.mark.parametrize("hidden", [[16, 8], []])
def test_every_hidden_layer_appears_then_the_output(hidden):
    net = trained(1, hidden, epochs=5)
    picture = figures.units_image(net, 0, task=XOR, seed=3, solved=solved_of(net), step=5)
    for j, width in enumerate(hidden):
        assert find(picture, text(f"hidden layer {j + 1}: {width} units", 12))
        for u in range(width):
            assert find(picture, text(f"hidden {j + 1}, unit {u}", 10)), (j, u)
    assert not hidden or not find(picture, text(f"hidden {len(hidden) + 1}, unit 0", 10))
    assert find(picture, tiles.boundary_tile(figures.tile_decisions(net, [0], 88)[0], marks=XOR.marks))  # the output
    assert find(picture, tiles.legend())


def test_members_grid_titles_each_member_with_seed_and_state():
    net = trained(12, [8])
    solved = solved_of(net)
    picture = figures.members_image(net, 9, task=XOR, seed=100, solved=solved, step=40)
    assert find(picture, text(f"first 9 members, epoch 40: {int(solved[:9].sum())} of 9 solved", 14))
    logits = figures.tile_decisions(net, list(range(9)), 112)
    for i in range(9):
        assert find(picture, text(f"member {i} (seed {100 + i})", 10)), i
        assert find(picture, tiles.boundary_tile(logits[i], marks=XOR.marks)), i
    assert not find(picture, text("member 9 (seed 109)", 10))


def test_fixed_member_tags_hold_the_same_member_at_every_step(tmp_path):
    """Read back from a real event file: boundary/member and units/member show member 2 at every
    step while the network trains, the grid shows the first members, best images come once."""
    net = Population(5, [8], "tanh", seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    writer = SummaryWriter(tmp_path)
    expected, done = {}, 0
    for step in (0, 5, 10):
        for _ in range(step - done):  # train up to this step's epoch
            opt.zero_grad()
            member_losses("bce_with_logits", net(INPUTS), TARGETS).sum().backward()
            opt.step()
        done = step
        solved = solved_of(net)
        tb_visuals.log_member_images(writer, net, step, task=XOR, seed=7, member=2, grid=4, solved=solved)
        expected[step] = {
            "boundary/member": figures.boundary_image(net, 2, task=XOR, seed=7, solved=solved, step=step),
            "units/member": figures.units_image(net, 2, task=XOR, seed=7, solved=solved, step=step),
            "boundary/members": figures.members_image(net, 4, task=XOR, seed=7, solved=solved, step=step),
            "other member": figures.boundary_image(net, 0, task=XOR, seed=7, solved=solved, step=step),
        }
    tb_visuals.log_best_images(writer, net, 10, task=XOR, seed=7, member=4, solved=solved_of(net))
    writer.close()
    acc = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    acc.Reload()
    assert set(acc.Tags()["images"]) == {"boundary/member", "units/member", "boundary/members", "boundary/best", "units/best"}
    for tag in ("boundary/member", "units/member", "boundary/members"):
        events = acc.Images(tag)
        assert [e.step for e in events] == [0, 5, 10]
        for e in events:
            assert np.array_equal(decode(e.encoded_image_string), expected[e.step][tag]), (tag, e.step)
    for e in acc.Images("boundary/member"):
        assert not np.array_equal(decode(e.encoded_image_string)[:200], expected[e.step]["other member"][:200])
    assert [e.step for e in acc.Images("boundary/best")] == [10]
    best = decode(acc.Images("boundary/best")[0].encoded_image_string)
    assert np.array_equal(best, figures.boundary_image(net, 4, task=XOR, seed=7, solved=solved_of(net), step=10, best=True))


def test_histograms_pool_every_member_and_skip_non_finite_values(tmp_path):
    net = Population(50, [8], "tanh", seed=0)
    with torch.no_grad():
        net.weights[1][3, 0, 0] = float("nan")  # one member's output weight diverged
    writer = SummaryWriter(tmp_path)
    tb_visuals.log_histograms(writer, net, 4)
    writer.close()
    acc = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0})
    acc.Reload()
    hidden = acc.Histograms("weights/hidden1")[0].histogram_value
    w = net.weights[0].detach()
    assert hidden.num == 50 * 2 * 8 and sum(hidden.bucket) == hidden.num
    assert hidden.min == pytest.approx(float(w.min())) and hidden.max == pytest.approx(float(w.max()))
    assert hidden.sum == pytest.approx(float(w.sum()), rel=1e-5)
    edges = [hidden.min, *hidden.bucket_limit[1:]]  # the first bucket is the empty left edge
    expected, _ = np.histogram(w.numpy().ravel(), bins=edges)
    assert np.abs(np.asarray(hidden.bucket[1:]) - expected).sum() <= 2  # the same counts, up to rounding at an edge
    output = acc.Histograms("weights/output")[0].histogram_value
    assert output.num == 50 * 8 - 1 and sum(output.bucket) == output.num
    biases = acc.Histograms("biases/output")[0]
    assert biases.step == 4 and biases.histogram_value.num == 50


def test_report_holds_the_plots_the_best_members_boundary_and_every_layer():
    net = trained(6, [16, 8])
    history = History()
    for epoch in range(1, 41):
        history.add(epoch, 1.0 / epoch, torch.linspace(0.5, 1.0, 6) / epoch)
    solved = solved_of(net)
    with torch.no_grad():
        losses = member_losses("bce_with_logits", net(INPUTS), TARGETS)
    never = torch.full((6,), -1)
    ev = Evaluation(seed=0, probs=torch.sigmoid(net(INPUTS)[:, :, 0]).detach(), losses=losses, solved=solved,
                    first_solved=torch.where(solved, 30, -1), diverged_at=never, best_epoch=never + 41,
                    epochs_trained=never + 41, task=XOR)
    module = type("Module", (), {"net": net})()
    picture = report_image(module, ev, history, "demo")
    best = ev.best_member()
    assert find(picture, loss_plot(history))
    assert find(picture, figures.boundary_panel(net, best, size=240, task=XOR))
    assert find(picture, figures.units_panel(net, best, task=XOR))
    assert find(picture, tiles.legend())
    assert picture.shape[1] <= 1200  # fits a screen: units wrap instead of widening the picture


def test_loss_plot_copes_with_one_network_no_epochs_and_zero_or_nan_losses():
    single = History()
    for epoch, loss in enumerate([0.7, 0.0, float("nan"), 0.01], start=1):
        single.add(epoch, loss, torch.tensor([loss]))
    for history in (single, History()):
        plot = loss_plot(history)
        assert plot.shape == (300, 620, 3) and (plot != 255).any()
