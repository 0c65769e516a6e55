"""The original comparison's protocol in a study: energy-only runs over seeds."""

import copy
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlpot.cli.study import main
from mlpot.model.io import read_checkpoint
from mlpot.study import study_config_from_dict
from mlpot.study.original_report import seed_noise
from mlpot.train.records import read_metrics

EXAMPLES = Path(__file__).parents[1] / "examples" / "study"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The small preset's ethanol and models, only the original protocol."""
    folder = tmp_path_factory.mktemp("original")
    values = yaml.safe_load((EXAMPLES / "small.yaml").read_text())
    for key in ("train", "test"):
        values["molecules"]["ethanol"][key] = str(
            (EXAMPLES / values["molecules"]["ethanol"][key]).resolve()
        )
    values["sections"] = ["original_protocol"]
    values["original_protocol"] = {
        "epochs": 2,
        "seeds": [0, 1],
        "n_train": 10,
        "n_val": 5,
    }
    config = folder / "original.yaml"
    config.write_text(yaml.safe_dump(values))
    output = folder / "out"
    assert main([str(config), "--output", str(output), "--quiet"]) == 0
    with redirect_stdout(io.StringIO()) as printed:
        assert main([str(config), "--output", str(output)]) == 0
    results = json.loads((output / "results.json").read_text())
    return output, printed.getvalue(), results["molecules"]["ethanol"]


def test_only_the_energy_only_runs_are_trained_and_recorded(study):
    output, printed, parts = study
    assert list(parts) == ["original_protocol"]
    runs = sorted(p.name for p in (output / "runs" / "ethanol").iterdir())
    assert runs == [
        "original-equivariant-seed0",
        "original-equivariant-seed1",
        "original-invariant-seed0",
        "original-invariant-seed1",
    ]
    assert "ethanol: original_protocol: recorded earlier" in printed
    assert "trained in" not in printed and "finished earlier" not in printed
    settings = read_checkpoint(output / "runs" / "ethanol" / runs[0] / "best.ckpt")[
        "metadata"
    ]["config"]["train"]
    assert settings["forces_weight"] == 0.0 and settings["monitor"] == "energy_mae"
    assert settings["max_epochs"] == 2 and settings["max_time"] is None


def test_curves_errors_and_probes_come_from_every_seed(study):
    output, _, parts = study
    part = parts["original_protocol"]
    for family in ("equivariant", "invariant"):
        result = part["families"][family]
        recorded = [
            read_checkpoint(
                output / "runs" / "ethanol" / f"original-{family}-seed{s}" / "best.ckpt"
            )["metadata"]["metrics"]["test"]["energy_mae_meV"]
            for s in (0, 1)
        ]
        assert result["test_energy_mae_meV"] == pytest.approx(recorded)
        tables = [
            read_metrics(
                output
                / "runs"
                / "ethanol"
                / f"original-{family}-seed{s}"
                / "metrics.csv"
            )["val_energy_mae_meV"]
            for s in (0, 1)
        ]
        curve = result["curve"]
        assert curve["epoch"] == [1, 2]
        np.testing.assert_allclose(curve["mean"], np.mean(tables, axis=0))
        np.testing.assert_allclose(curve["low"], np.min(tables, axis=0))
        assert all(len(v) == 2 for s in result["pooled"].values() for v in s.values())
        assert {"linear", "knn_pca", "knn_tsne"} <= set(
            result["pooled"]["C-O bond (Å)"]
        )
        atoms = result["per_atom"]
        assert any(name.startswith("O") and "(deg)" in name for name in atoms)
        assert all(len(values) == 2 for values in atoms.values())
    for path in part["figures"].values():
        assert (output / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_states_the_protocol_and_the_seed_noise(study):
    output, _, parts = study
    report = (output / "report.md").read_text()
    assert "## 1. The original protocol" in report
    assert "Data efficiency" not in report and "Learning curves:" not in report
    assert "**ethanol, original protocol** (energies only, 2 epochs" in report
    assert "seed noise" in report
    assert "Per-atom latents" in report
    errors = [
        parts["original_protocol"]["families"][f]["test_energy_mae_meV"]
        for f in ("equivariant", "invariant")
    ]
    row = next(line for line in report.splitlines() if line.startswith("| ethanol"))
    means = [f"{np.mean(e):.3g} ± {np.std(e, ddof=1):.3g}" for e in errors]
    assert f"| {means[0]} vs {means[1]} ({seed_noise(*errors)}) |" in row


def test_seed_noise_needs_disjoint_ranges():
    assert seed_noise([1.0, 1.2], [1.5, 2.0]) == "beyond seed noise"
    assert seed_noise([1.0, 1.6], [1.5, 2.0]) == "within seed noise"


def test_original_protocol_settings_are_checked():
    values = yaml.safe_load((EXAMPLES / "small.yaml").read_text())
    values["original_protocol"] = {"seeds": [0]}
    with pytest.raises(ValueError, match="original_protocol.seeds must be 2"):
        study_config_from_dict(copy.deepcopy(values), base=EXAMPLES)
    values["original_protocol"] = {"train": {"seed": 3}}
    with pytest.raises(ValueError, match="original_protocol.train.seed is set by"):
        study_config_from_dict(copy.deepcopy(values), base=EXAMPLES)
    values["original_protocol"] = {"train": {"forces_weight": 1.0}}
    config = study_config_from_dict(copy.deepcopy(values), base=EXAMPLES)
    assert config.original_protocol.train_settings()["forces_weight"] == 1.0
    assert "original_protocol" in config.sections
    values["sections"] = ["latent", "fancy"]
    with pytest.raises(ValueError, match="sections must be a list of"):
        study_config_from_dict(copy.deepcopy(values), base=EXAMPLES)
