"""Every row of the bad-input table, through a real ``python -m xor_lightning`` subprocess:
exit code 2, exactly one line on stderr naming the key or file, no traceback, no run folder."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
import torch

from tests.helpers import run_cli, train_config
from xor_lightning.run.train import train

RUN_FOLDERS = ("outputs", "multirun", "checkpoints", "logs")


def _slow(*values):
    return pytest.param(*values, marks=pytest.mark.slow)


def _row(args, words, marks=(), id=None):
    return pytest.param(args, words, id=id or " ".join(args), marks=marks)


ON_LINUX = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")


def assert_refused(result, *must_name: str, cwd: Path, leave: tuple[str, ...] = ()) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for word in must_name:
        assert word in lines[0], lines[0]
    made = [d for d in RUN_FOLDERS if (cwd / d).exists() and d not in leave]
    assert not made, f"left behind {made}"


TRAIN_ROWS = [
    # One row of the table each; variants of a row are marked slow (python -m pytest -m slow).
    # unknown choice in a group
    _row(["loss=foo"], ["loss", "bce_with_logits"]),
    _row(["model=foo"], ["model", "mlp"], pytest.mark.slow),
    _row(["optimizer=foo"], ["optimizer", "adam"], pytest.mark.slow),
    _row(["data=foo"], ["data", "xor"], pytest.mark.slow),
    _row(["device=foo"], ["device", "cpu"], pytest.mark.slow),
    _row(["experiment=foo"], ["experiment"], pytest.mark.slow),
    _row(["model.activation=foo"], ["model.activation", "relu"]),
    _row(["model.init=foo"], ["model.init", "xavier_uniform"], pytest.mark.slow),
    # wrong type
    _row(["model.hidden=abc"], ["model.hidden", "widths"]),
    _row(["seeds=abc"], ["seeds", "integer"], pytest.mark.slow),
    _row(["optimizer.lr=abc"], ["optimizer.lr", "number"], pytest.mark.slow),
    _row(["trainer.max_epochs=abc"], ["trainer.max_epochs", "integer"], pytest.mark.slow),
    _row(["data.shuffle=maybe"], ["data.shuffle", "true or false"], pytest.mark.slow),
    # out of range: width, lr, seeds, max_epochs, batch size
    _row(["model.hidden=[8,0]"], ["model.hidden", ">= 1"]),
    _row(["optimizer.lr=0"], ["optimizer.lr", "> 0"]),
    _row(["optimizer.lr=-0.1"], ["optimizer.lr", "> 0"], pytest.mark.slow),
    _row(["seeds=0"], ["seeds", ">= 1"]),
    _row(["trainer.max_epochs=0"], ["trainer.max_epochs", ">= 1"]),
    _row(["data.batch_size=0"], ["data.batch_size", "1 to 4"]),
    _row(["data.batch_size=5"], ["data.batch_size", "1 to 4"], pytest.mark.slow),
    _row(["budgets=[100,5000]"], ["budgets=[100, 5000]", "beyond trainer.max_epochs=1000"], pytest.mark.slow),
    _row(["optimizer=lbfgs"], ["optimizer=lbfgs", "not elementwise"], pytest.mark.slow),
    _row(["loss.input=sigmoid"], ["loss.input", "probabilities, logits"], pytest.mark.slow),
    # unknown key
    _row(["model.foo=1"], ["model.foo", "hidden", "+model.foo"]),
    _row(["foo=1"], ["foo", "seeds", "+foo"], pytest.mark.slow),
    _row(["+trainer.foo=1"], ["trainer.foo", "Trainer"], pytest.mark.slow),
    # a multirun with one bad job is refused before any job runs
    _row(["-m", "seeds=2,0"], ["seeds=0"]),
    # resuming from nothing
    _row(["ckpt_path=nope.ckpt"], ["ckpt_path=nope.ckpt", "no such file"], pytest.mark.slow),
    _row(["ckpt_path=last"], ["ckpt_path=last", "run_id"]),
    # issue 11, class 1: a run id is a name, never a path
    _row(["run_id=../../escape"], ["run_id='../../escape'", "a run id is a name"]),
    _row(["run_id=/etc/x"], ["run_id='/etc/x'", "a run id is a name"], pytest.mark.slow),
    _row(["run_id=.."], ["run_id='..'", "a run id is a name"], pytest.mark.slow),
    _row(["run_id="], ["run_id=''", "a run id is a name"]),
    _row(["run_id=" + "a" * 300], ["(300 characters)", "at most 100"], id="run_id=<300 characters>"),
    _row(["-m", "run_id=sw/1", "seeds=2,3"], ["run_id='sw/1'"], pytest.mark.slow),
    # class 3: sizes are bounded before anything is allocated
    _row(["seeds=100000000"], ["seeds=100000000", "model.hidden=[8]", "of memory", "available"]),
    _row(["model.hidden=[100000,100000]"], ["model.hidden=[100000, 100000]", "of memory"], pytest.mark.slow),
    _row(["torch_threads=100000"], ["torch_threads=100000", "1 to 1024"], pytest.mark.slow),
    # class 5: the remaining tracebacks
    _row(["seed=4294967296"], ["seed=4294967296", "0 to 4294967295"]),
    _row(["seed=4294967295", "seeds=2"], ["seed=4294967295 with seeds=2", "4294967296"], pytest.mark.slow),
    _row(["run_id=${oc.env:XOR_TEST_UNSET}"], ["run_id=${oc.env:XOR_TEST_UNSET}", "'XOR_TEST_UNSET' not found"]),
    _row(["paths.log_dir=${oc.env:XOR_TEST_UNSET}"], ["paths.log_dir=", "cannot be resolved"], pytest.mark.slow),
    _row(["hydra.run.dir=${oc.env:XOR_TEST_UNSET}"], ["hydra.run.dir=", "cannot be resolved"], pytest.mark.slow),
    _row(["experiment=../train"], ["experiment='../train'", "a group choice is a name", "forum_sweep"]),
    _row(["+loss.foo=1"], ["loss.foo", "not an option of loss=bce_with_logits"], pytest.mark.slow),
    _row(["loss=smooth_l1", "+loss.reduction=sum"], ["loss.reduction", "its options: input, beta"], pytest.mark.slow),
    _row(["hydra.run.dir=/proc/xor-test/run"], ["hydra.run.dir=/proc/xor-test/run", "cannot write in /proc"], ON_LINUX),
    _row(["paths.checkpoint_dir=/proc/xor-test"], ["paths.checkpoint_dir=/proc/xor-test", "cannot write"],
         [ON_LINUX, pytest.mark.slow]),
]


# Settings the block loop owns: each refused with what to use instead.
LOOP_ROWS = [
    _row(["+trainer.check_val_every_n_epoch=0"], ["trainer.check_val_every_n_epoch", "every epoch is evaluated"]),
    _row(["+trainer.enable_checkpointing=false"], ["trainer.enable_checkpointing", "best.ckpt"]),
    _row(["+trainer.max_steps=5"], ["trainer.max_steps", "trainer.max_epochs"], pytest.mark.slow),
    _row(["+trainer.gradient_clip_val=-1"], ["trainer.gradient_clip_val", ">= 0"]),
    _row(["+trainer.gradient_clip_val=1", "+trainer.gradient_clip_algorithm=foo"],
         ["trainer.gradient_clip_algorithm", "norm, value"], pytest.mark.slow),
    _row(["device.precision=16-mixed"], ["device.precision=16-mixed", "coupling the population"]),
    _row(["block_epochs=0"], ["block_epochs", ">= 1"], pytest.mark.slow),
    _row(["progress.bar=maybe"], ["progress.bar", "auto, true, false"], pytest.mark.slow),
]


@pytest.mark.parametrize("args,must_name", TRAIN_ROWS + LOOP_ROWS)
def test_train_refuses(tmp_path, args, must_name):
    assert_refused(run_cli("train", *args, cwd=tmp_path), *must_name, cwd=tmp_path)


def test_a_run_id_from_the_environment_is_checked_too(tmp_path):
    result = run_cli("train", cwd=tmp_path, env={"XOR_LIGHTNING_RUN_ID": "../../escape"})
    assert_refused(result, "XOR_LIGHTNING_RUN_ID='../../escape'", "a run id is a name", cwd=tmp_path)


@pytest.mark.parametrize("key", ["paths.log_dir", "paths.checkpoint_dir", _slow("hydra.run.dir"), _slow("paths.output_dir")])
def test_a_file_where_a_folder_goes_is_refused(tmp_path, key):
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli("train", f"{key}=notes.txt", cwd=tmp_path)
    assert_refused(result, f"{key}=notes.txt", "notes.txt is a file, not a folder", cwd=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = run_cli("train", f"paths.log_dir={locked / 'logs'}", cwd=tmp_path)
    assert_refused(result, "paths.log_dir=", "cannot write in", cwd=tmp_path)


@pytest.mark.parametrize("device", ["cuda", _slow("mps")])
def test_absent_device_is_refused(tmp_path, device):
    from xor_lightning.core.devices import available

    if available()[device]:
        pytest.skip(f"this machine has {device}")
    assert_refused(run_cli("train", f"device={device}", cwd=tmp_path), "device", f"no {device.upper()}", cwd=tmp_path)


@pytest.mark.slow
def test_absent_device_is_refused_by_evaluate(tmp_path, real_ckpt):
    from xor_lightning.core.devices import available

    if available()["cuda"]:
        pytest.skip("this machine has cuda")
    result = run_cli("evaluate", f"checkpoint={real_ckpt}", "device=cuda", cwd=tmp_path)
    assert_refused(result, "device=cuda", "no CUDA", "cpu", cwd=tmp_path)


def test_reused_run_id_is_refused_and_overwrites_nothing(tmp_path):
    ckpt = tmp_path / "checkpoints" / "mine"
    ckpt.mkdir(parents=True)
    (ckpt / "best.ckpt").write_bytes(b"earlier run")
    result = run_cli("train", "run_id=mine", cwd=tmp_path)
    assert_refused(result, "run_id=mine", "ckpt_path=last", cwd=tmp_path, leave=("checkpoints",))
    assert sorted(p.name for p in ckpt.iterdir()) == ["best.ckpt"]
    assert (ckpt / "best.ckpt").read_bytes() == b"earlier run"


@pytest.fixture(scope="module")
def real_ckpt(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("real")
    cfg = train_config(root, "trainer.max_epochs=3", "device=cpu", run_id="real")
    return Path(train(cfg)["last_checkpoint"])


def _flip(data: bytes, start: int, count: int = 32) -> bytes:
    b = bytearray(data)
    for i in range(start, start + count):
        b[i] ^= 0xFF
    return bytes(b)


def _tensor_offset(path: Path) -> int:
    """Where the bytes of one stored tensor start: damage there unpickles fine but fails the CRC."""
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size >= 32)
    with open(path, "rb") as fh:  # local header: 30 bytes + name + extra (lengths at offsets 26, 28)
        fh.seek(info.header_offset + 26)
        n, e = int.from_bytes(fh.read(2), "little"), int.from_bytes(fh.read(2), "little")
    return info.header_offset + 30 + n + e


def _bad_files(tmp: Path, real: Path) -> dict[str, tuple[Path, list[str]]]:
    data = real.read_bytes()
    files = {
        "truncated": (data[: len(data) // 2], ["truncated"]),
        "corrupt-index": (_flip(data, len(data) - 40), ["damaged"]),
        "corrupt-tensor": (_flip(data, _tensor_offset(real)), ["corrupted", "archive/data/"]),
        "text": (b"not a checkpoint\n", ["not a checkpoint"]),
    }
    out = {}
    for name, (blob, words) in files.items():
        (tmp / f"{name}.ckpt").write_bytes(blob)
        out[name] = (tmp / f"{name}.ckpt", words)
    torch.save({"weights": torch.zeros(3)}, tmp / "foreign.ckpt")
    out["foreign"] = (tmp / "foreign.ckpt", ["not an xor-lightning checkpoint"])
    (tmp / "folder").mkdir()
    out["folder"] = (tmp / "folder", ["is a folder"])
    out["missing"] = (tmp / "missing.ckpt", ["no such file"])
    os.mkfifo(tmp / "fifo.ckpt")  # opening it for reading would block forever
    out["fifo"] = (tmp / "fifo.ckpt", ["not a regular file"])
    out["device"] = (Path("/dev/zero"), ["not a regular file"])  # reading it never ends
    with open(tmp / "huge.ckpt", "wb") as fh:  # 1 TB, sparse: refused before a byte is read
        fh.truncate(10**12)
    out["huge"] = (tmp / "huge.ckpt", ["1.0 TB; reading it needs about", "is available"])
    for name, (edit, words) in CRAFTED.items():
        out[name] = (_craft(real, tmp / f"{name}.ckpt", edit), words)
    return out


def _craft(real: Path, path: Path, edit) -> Path:
    """A checkpoint of ours with one thing changed, as an attacker (or a bug) would write it."""
    ckpt = torch.load(real, weights_only=True)
    edit(ckpt)
    torch.save(ckpt, path)
    return path


def _expanded(ckpt) -> None:
    """Every per-member tensor a stride-0 view of one member: a small file with the shapes of 10^8 members."""
    ckpt["hyper_parameters"]["seeds"] = 10**8
    state = ckpt["state_dict"]
    by_member_last = ("facts.trail_", "facts.right_at")  # [samples or budgets, members]
    for key, t in state.items():
        if key.startswith(by_member_last) and t.dim() == 2:
            state[key] = t[:, :1].expand(t.shape[0], 10**8)
        elif t.dim() and not key.startswith(by_member_last):  # [members, ...]
            state[key] = t[:1].expand(10**8, *t.shape[1:])


CRAFTED = {
    # class 3: a small file must not decide how much is allocated
    "claims-1e9-seeds": (lambda c: c["hyper_parameters"].update(seeds=10**9),
                         ["seeds=1000000000", "has shape [1]", "not a consistent checkpoint"]),
    "expanded": (_expanded, ["claims shape [100000000", "holds only", "not a consistent checkpoint"]),
    # class 5: what the checkpoint records is checked like a command line
    "unknown-loss": (lambda c: c["hyper_parameters"]["loss"].update(name="foo"),
                     ["its recorded loss.name='foo'", "bce_with_logits"]),
    "loss-options": (lambda c: c["hyper_parameters"]["loss"].update(reduction="sum"), ["loss.reduction", "not an option"]),
    "bad-model": (lambda c: c["hyper_parameters"]["model"].update(activation="os.system"), ["model.activation='os.system'"]),
    "foreign-optimizer": (lambda c: c["hyper_parameters"]["optimizer"].update(_target_="os.system"),
                          ["optimizer._target_='os.system'", "never names code to run"]),
}


@pytest.mark.parametrize(
    "case", ["missing", "folder", "truncated", "corrupt-tensor", "foreign", _slow("corrupt-index"), _slow("text"),
             "fifo", pytest.param("device", marks=[ON_LINUX, pytest.mark.slow]), _slow("huge"), "claims-1e9-seeds",
             _slow("expanded"), "unknown-loss", _slow("loss-options"), _slow("bad-model"), _slow("foreign-optimizer")]
)
def test_evaluate_refuses(tmp_path, real_ckpt, case):
    path, words = _bad_files(tmp_path, real_ckpt)[case]
    result = run_cli("evaluate", f"checkpoint={path}", cwd=tmp_path)
    assert_refused(result, f"checkpoint={path}", *words, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["folder", "truncated", "corrupt-tensor", "foreign", "fifo", "claims-1e9-seeds", "unknown-loss"])
def test_resume_refuses_bad_checkpoint(tmp_path, real_ckpt, case):
    path, words = _bad_files(tmp_path, real_ckpt)[case]
    result = run_cli("train", f"ckpt_path={path}", cwd=tmp_path)
    assert_refused(result, f"ckpt_path={path}", *words, cwd=tmp_path)


@pytest.mark.parametrize("args, words", [
    (["member=true"], ["member=True", "members 0..0"]),
    pytest.param(["boundary=/proc/xor-test/b.png"], ["boundary=/proc/xor-test/b.png", "cannot write in /proc"], marks=ON_LINUX),
    pytest.param(["boundary=made.png"], ["boundary=made.png", "is a folder"], marks=pytest.mark.slow),
])
def test_evaluate_refuses_bad_options(tmp_path, real_ckpt, args, words):
    (tmp_path / "made.png").mkdir()
    assert_refused(run_cli("evaluate", f"checkpoint={real_ckpt}", *args, cwd=tmp_path), *words, cwd=tmp_path)


def test_evaluate_without_checkpoint(tmp_path):
    assert_refused(run_cli("evaluate", cwd=tmp_path), "checkpoint", "checkpoint=PATH", cwd=tmp_path)


def test_resume_with_other_settings_is_refused(tmp_path, real_ckpt):
    result = run_cli("train", f"ckpt_path={real_ckpt}", "model.hidden=[4]", cwd=tmp_path)
    assert_refused(result, "model.hidden=[8]", "[4]", "own settings", cwd=tmp_path)


def test_resume_from_best_ckpt_is_refused_with_where_to_resume_from(tmp_path, real_ckpt):
    best = real_ckpt.parent / "best.ckpt"  # each member's best weights: no optimizer state
    result = run_cli("train", f"ckpt_path={best}", cwd=tmp_path)
    assert_refused(result, f"ckpt_path={best}", "weights only", "last.ckpt", cwd=tmp_path)
