"""An override Hydra's grammar cannot read is our one line (the key, why, what is valid), never the
parser's LexerNoViableAltException, for train and evaluate, single runs, sweeps and --help."""

from __future__ import annotations

import pytest

RUN_ID_RULE = "a run id is a name: letters, digits"
QUOTING = "goes in quotes"

CASES = [
    (["train", "run_id=a\nb"], r"error: run_id='a\nb' cannot be read: it holds a newline", RUN_ID_RULE),
    (["train", "-m", "seed=1,2", "run_id=a\nb"], r"error: run_id='a\nb' cannot be read", RUN_ID_RULE),
    (["train", "model.hidden=[8"], "error: model.hidden='[8' cannot be read: it has an unclosed [", QUOTING),
    (["train", "model.hidden=8]"], "error: model.hidden='8]' cannot be read: it has an unmatched ]", QUOTING),
    (["train", "run_id=it's"], "error: run_id=\"it's\" cannot be read: it has an unclosed '", RUN_ID_RULE),
    (["train", "optimizer.lr='1e-3"], "error: optimizer.lr=\"'1e-3\" cannot be read: it has an unclosed '", QUOTING),
    (["train", "x=${"], "error: x='${' cannot be read: it has an unclosed {", QUOTING),
    (["train", "a..b=1"], "error: 'a..b=1' is not KEY=VALUE with a key of dotted names", "train --help"),
    (["evaluate", "checkpoint=a\nb"], r"error: checkpoint='a\nb' cannot be read", QUOTING),
    (["train", "--help", "run_id=a\nb"], r"error: run_id='a\nb' cannot be read", RUN_ID_RULE),
    # Read by the grammar, refused by our checks: `$` and a quote inside quotes are ordinary characters.
    (["train", "run_id=a$b"], "error: run_id='a$b' is not valid; a run id is a name", RUN_ID_RULE),
    (["train", "run_id='it\\'s'"], "error: run_id=\"it's\" is not valid", RUN_ID_RULE),
    (["train", "optimizer.lr=$x"], "error: optimizer.lr='$x' is not valid; expected a number", "number"),
]


@pytest.mark.parametrize("args, message, valid", CASES, ids=[repr(" ".join(c[0])) for c in CASES])
def test_an_unreadable_override_is_our_one_line_saying_what_is_valid(args, message, valid, capsys, tmp_path, monkeypatch):
    from xor_lightning.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert valid in err and "Lexer" not in err and "viable" not in err and "hydra.cc" not in err, err
    assert not any(tmp_path.iterdir()), "nothing is written for bad input"
