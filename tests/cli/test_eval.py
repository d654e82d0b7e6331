"""``livematte eval`` end to end on a generated DAVIS-layout clip."""

from __future__ import annotations

import json

from app.cli import main
from tests.davis import write_davis


def test_eval_prints_a_table_and_json(tiny_models_dir, tmp_path, capsys):
    root = write_davis(tmp_path / "davis", {"walk": 5})
    assert main(["eval", "--gt", str(root), "-m", "rvm", "--models-dir", str(tiny_models_dir)]) == 0
    out = capsys.readouterr().out
    assert "rvm, export path, every 1" in out and "walk" in out and "overall" in out
    assert main(["eval", "--gt", str(root), "--path", "live", "--every", "auto", "--model-ms", "50",
                 "-m", "rvm", "--models-dir", str(tiny_models_dir), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["path"] == "live" and doc["every"] == "auto"
    assert doc["sequences"]["walk"]["every"] == 2 and doc["overall"]["frames"] == 5
    assert doc["overall"]["iou"] > 0.9


def test_eval_errors_exit_with_their_codes(tiny_models_dir, tmp_path, capsys):
    root = write_davis(tmp_path / "davis", {"walk": 2})
    assert main(["eval", "--gt", str(tmp_path / "none"), "--models-dir", str(tiny_models_dir)]) == 3
    assert "DAVIS layout" in capsys.readouterr().err
    assert main(["eval", "--gt", str(root), "--every", "auto", "--models-dir", str(tiny_models_dir)]) != 0
    assert "auto is for --path live" in capsys.readouterr().err
    assert main(["eval", "--gt", str(root), "--every", "often", "--models-dir", str(tiny_models_dir)]) != 0
