"""The small study preset end to end: interrupted, continued, report and figures."""

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from mlpot.cli.study import main
from mlpot.model.io import read_checkpoint
from mlpot.study import run as study_run
from mlpot.study import run_study, study_config_from_dict

EXAMPLES = Path(__file__).parents[1] / "examples" / "study"
CONFIG = str(EXAMPLES / "small.yaml")
FIGURES = {
    "learning_curves_ethanol.png",
    "generalisation_ethanol.png",
    "latent_ethanol_equivariant.png",
    "latent_ethanol_invariant.png",
    "symmetry_ethanol.png",
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The small preset, interrupted during its fifth run and run again."""
    output = tmp_path_factory.mktemp("study") / "small"
    train = study_run.train
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return train(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(study_run, "train", interrupted)
        assert main([CONFIG, "--output", str(output), "--quiet"]) == 130
    assert not (output / "report.md").exists()
    with redirect_stdout(io.StringIO()) as printed:
        assert main([CONFIG, "--output", str(output)]) == 0
    results = json.loads((output / "results.json").read_text())
    return output, printed.getvalue(), results


def test_continued_study_reuses_the_finished_runs(study):
    _, printed, _ = study
    assert printed.count("finished earlier") == 4
    assert printed.count(": trained in") == 8
    assert "[12/12] ethanol/cartesian-augmented-n10" in printed
    assert f"report: {study[0] / 'report.md'}" in printed


def test_folder_holds_config_results_report_and_figures(study):
    output, _, _ = study
    names = {p.name for p in (output / "figures").iterdir()}
    assert names == FIGURES
    for name in FIGURES:
        path = output / "figures" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width, _ = imread(path).shape
        assert height > 200 and width > 400
    recorded = yaml.safe_load((output / "study.yaml").read_text())
    assert recorded["data_efficiency"]["sizes"] == [5, 10]
    assert len(list((output / "runs" / "ethanol").iterdir())) == 12


def test_report_states_each_finding_with_its_numbers(study):
    output, printed, results = study
    report = (output / "report.md").read_text()
    part = results["molecules"]["ethanol"]
    curves = part["data_efficiency"]["curves"]
    for family in ("equivariant", "invariant"):
        at_5 = np.mean(curves[family]["forces"][0])
        slope = curves[family]["slopes"]["forces"]["slope"]
        assert f"{at_5:.3g}" in report
        assert f"{slope:.2f}" in report
    ood = part["generalisation"]["families"]["equivariant"]["out_of_distribution"]
    assert f"{ood['forces_mae_meV_per_A']:.3g} meV/Å" in report
    latent = part["latent"]
    assert "H-O-C-C torsion (°)" in latent["variables"]
    for name in latent["variables"]:
        scores = [latent["scores"][f][name]["linear"] for f in latent["scores"]]
        assert f"{name} {scores[0]:.2f} vs {scores[1]:.2f}" in report
    cartesian = part["symmetry"]["models"]["cartesian"]["equivariance"]["float64"]
    assert f"cartesian {cartesian['forces_meV_per_A']:.3g}" in report
    for name in FIGURES:
        assert f"(figures/{name})" in report
    assert "**ethanol, symmetry:**" in printed


def test_numbers_agree_with_the_runs_and_the_physics(study):
    output, _, results = study
    part = results["molecules"]["ethanol"]
    best = output / "runs" / "ethanol" / "invariant-n10-seed1" / "best.ckpt"
    recorded = read_checkpoint(best)["metadata"]["metrics"]["test"]
    curve = part["data_efficiency"]["curves"]["invariant"]
    assert curve["forces"][1][1] == recorded["forces_mae_meV_per_A"]
    models = part["symmetry"]["models"]
    for label in ("equivariant", "invariant"):
        assert models[label]["equivariance"]["float64"]["forces_meV_per_A"] < 1e-6
        assert models[label]["equivariance"]["float32"]["forces_meV_per_A"] < 1e-1
    for label in ("cartesian", "cartesian-augmented"):
        assert models[label]["equivariance"]["float64"]["forces_meV_per_A"] > 1e-2
    ood = part["generalisation"]
    assert (ood["n_out_of_distribution"], ood["fraction"]) == (4, 0.8)
    assert part["latent"]["n_frames"] == 20 and part["latent"]["n_probe_test"] == 10


def test_a_folder_of_another_study_is_refused(study):
    output, _, _ = study
    settings = yaml.safe_load(Path(CONFIG).read_text())
    settings["train"]["max_epochs"] = 4
    config = study_config_from_dict(settings, base=EXAMPLES)
    with pytest.raises(ValueError, match="holds a study run with another config"):
        run_study(config, output)


def test_command_line_errors_are_reported(tmp_path, capsys):
    assert main([str(tmp_path / "missing.yaml")]) == 1
    assert "mlpot-study: error:" in capsys.readouterr().err
