"""Calibration of a committee's spread, on synthetic errors with a known answer."""

import numpy as np
import pytest

from mlpot.analysis.calibration import (
    calibration_curve,
    calibration_figure,
    calibration_scale,
    rank_correlation,
    rank_correlation_by_size,
    spread_and_error_of,
)


@pytest.fixture
def synthetic():
    """Errors whose size is 2σ on average: |N(0, (2σ)²)| per point."""
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.01, 1.0, 20000)
    error = np.abs(rng.normal(0.0, 2.0 * spread))
    return spread, error


def test_rank_correlation_sees_informative_and_useless_spreads(synthetic):
    spread, error = synthetic
    assert rank_correlation(spread, error) > 0.5
    shuffled = np.random.default_rng(1).permutation(spread)
    assert abs(rank_correlation(shuffled, error)) < 0.05


def test_scale_and_curve_recover_the_factor(synthetic, tmp_path):
    spread, error = synthetic
    scale = calibration_scale(spread, error)
    assert scale == pytest.approx(2.0, rel=0.05)
    curve = calibration_curve(scale * spread, error, bins=8)
    ratio = np.array(curve["rms_error"]) / np.array(curve["spread"])
    np.testing.assert_allclose(ratio, 1.0, atol=0.15)
    assert sum(curve["count"]) == len(spread)
    path = calibration_figure(tmp_path / "calibration.png", {"test": curve})
    assert path.stat().st_size > 0


def test_identical_members_cannot_be_calibrated():
    with pytest.raises(ValueError, match="identical"):
        calibration_scale(np.zeros(5), np.ones(5))


def test_larger_committees_order_the_errors_better():
    """Members scatter about the truth by a per-atom σ; more estimate σ better."""
    rng = np.random.default_rng(2)
    sigma = rng.uniform(0.01, 1.0, (5000, 1))
    truth = rng.normal(size=(5000, 3))
    members = truth + rng.normal(size=(8, 5000, 3)) * sigma
    spread, error = spread_and_error_of(members[:3], truth)
    np.testing.assert_allclose(
        spread, np.linalg.norm(members[:3].std(axis=0), axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(
        error, np.linalg.norm(members[:3].mean(axis=0) - truth, axis=1), rtol=1e-12
    )
    by_size = rank_correlation_by_size(members, truth)
    assert sorted(by_size) == list(range(2, 9))
    assert 0.0 < by_size[2] < by_size[4] < by_size[8]


def test_mlpot_calibrate_command(tmp_path, capsys):
    import json
    from pathlib import Path

    from conftest import make_model

    from mlpot.cli.calibrate import main as calibrate_main
    from mlpot.model.committee import Committee, save_committee

    data = Path(__file__).parent / "data" / "rmd17_ethanol_test_01_subset.npz"
    folder = save_committee(
        Committee([make_model("invariant"), make_model("invariant")]), tmp_path / "c"
    )
    out = tmp_path / "calibration.json"
    args = [str(folder), "--val", f"{data}:0:10", "--set", f"test={data}:10:20"]
    assert calibrate_main([*args, "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["command"].startswith("mlpot-calibrate ")
    assert record["sets"]["test"]["atoms"] == 90 and record["scale"] > 0
    assert "| test | 90 |" in capsys.readouterr().out
    assert calibrate_main([str(folder / "member-0.ckpt"), "--set", "x=y"]) == 1
    assert "is not a committee folder" in capsys.readouterr().err
    assert calibrate_main([*args[:3], "--set", f"{data}:0:5"]) == 1
    assert "give NAME=FILE[:START:STOP]" in capsys.readouterr().err
