"""``fishpond validate``: exit 0 on valid data, 1 with a readable report otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dataset_fixtures import panel_frames, write_flat_gb18030, write_panel

from helpers.cli import main
from helpers.paths import SAMPLE_FLAT_SPEC, SAMPLE_SPEC

needs_sample = pytest.mark.skipif(
    not SAMPLE_SPEC.parent.joinpath("customers.parquet").exists(), reason="sample not generated"
)


def test_valid_tiny_dataset_exits_0(tmp_path, capsys):
    assert main(["validate", "--dataset", str(write_panel(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "Valid." in out and "Months: 2026-08 to 2026-10 (3 months)" in out


def test_bad_data_exits_1_with_a_readable_report(tmp_path, capsys):
    frames = panel_frames()
    frames["monthly_balances"].loc[2, "loan_balance"] = -1.0
    frames["customers"].loc[0, "gender"] = "男"
    code = main(["validate", "--dataset", str(write_panel(tmp_path, frames))])
    out = capsys.readouterr().out
    assert code == 1
    assert "[monthly_balances.loan_balance] negative value: 1 row" in out
    assert "[customers.gender] value not allowed" in out and "one of M, F" in out
    assert "Traceback" not in out and "Not valid" in out


def test_missing_spec_and_bad_yaml_exit_1(tmp_path, capsys):
    assert main(["validate", "--dataset", str(tmp_path / "missing.yaml")]) == 1
    assert "Dataset spec problem: dataset spec not found" in capsys.readouterr().out
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    assert main(["validate", "--dataset", str(tmp_path / "bad.yaml")]) == 1
    assert "not valid UTF-8 YAML" in capsys.readouterr().out


def test_undecodable_flat_file_exits_1(tmp_path, capsys):
    spec = write_flat_gb18030(tmp_path)
    (tmp_path / "customers_flat.csv").write_bytes(b"\xff\xfe\x00garbage\x81\x20")
    assert main(["validate", "--dataset", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "[flat] undecodable file" in out and "Traceback" not in out


@needs_sample
def test_bundled_samples_are_valid(capsys):
    assert main(["validate"]) == 0
    assert "Valid." in capsys.readouterr().out
    assert main(["validate", "--dataset", str(SAMPLE_FLAT_SPEC)]) == 0


def test_real_subprocess(tmp_path):
    executable = Path(sys.executable).with_name("fishpond")
    frames = panel_frames()
    frames["holdings"].loc[0, "product"] = "gold_bar"
    spec = write_panel(tmp_path, frames)
    result = subprocess.run(
        [str(executable), "validate", "--dataset", str(spec)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unknown product code" in result.stdout and "'gold_bar'" in result.stdout
    assert "Traceback" not in result.stderr
