"""The small study preset end to end: interrupted, continued, report and figures."""

import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from matplotlib.image import imread

from mlpot.cli.study import main
from mlpot.model.io import read_checkpoint
from mlpot.study import load_study_config, run_study, study_config_from_dict
from mlpot.study import run as study_run
from mlpot.study.runs import RunOutcome
from mlpot.train.records import read_metrics

EXAMPLES = Path(__file__).parents[1] / "examples" / "study"
CONFIG = str(EXAMPLES / "small.yaml")
FIGURES = {
    "learning_curves_ethanol.png",
    "generalisation_ethanol.png",
    "latent_ethanol_equivariant.png",
    "latent_ethanol_invariant.png",
    "symmetry_ethanol.png",
    "training_time_ethanol.png",
}
# Beside the study folder: its results.json as the interruption left it.
INTERRUPTED = "interrupted-results.json"


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
    shutil.copy(output / "results.json", output.parent / INTERRUPTED)
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
    assert f"| {ood['energy_mean_error_meV']:.3g} |" in report
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


def test_training_time_section_reads_the_largest_runs(study):
    output, _, results = study
    part = results["molecules"]["ethanol"]["training_time"]
    assert (part["n_train"], part["seed"]) == (10, 0)
    report = (output / "report.md").read_text()
    for family in ("equivariant", "invariant"):
        metrics = read_metrics(
            output / "runs" / "ethanol" / f"{family}-n10-seed0" / "metrics.csv"
        )
        summary = part["families"][family]
        assert summary["epochs"] == len(metrics["epoch"]) == 3
        # No time budget in the small preset: the budget is the longer run.
        best = summary["best_val_forces_meV_per_A"]
        assert best["1"] == metrics["val_forces_mae_meV_per_A"].min()
        reached = [best[k] for k in ("0.25", "0.5", "1") if best[k] is not None]
        assert reached == sorted(reached, reverse=True) and len(reached) >= 1
        assert f"{best['1']:.3g}" in report
    assert part["budget_s"] == max(
        read_metrics(output / "runs" / "ethanol" / f"{f}-n10-seed0" / "metrics.csv")[
            "elapsed_s"
        ][-1]
        for f in ("equivariant", "invariant")
    )
    assert "**ethanol, training time:**" in report


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
    for family, errors in ood["families"].items():
        for frames, figures in errors.items():
            mean, mae = figures["energy_mean_error_meV"], figures["energy_mae_meV"]
            # |mean error| reaches the MAE only if every error has one sign.
            assert abs(mean) <= mae * (1 + 1e-9), (family, frames)
    assert part["latent"]["n_frames"] == 20 and part["latent"]["n_probe_test"] == 10


def test_a_folder_of_another_study_is_refused(study):
    output, _, _ = study
    settings = yaml.safe_load(Path(CONFIG).read_text())
    settings["train"]["max_epochs"] = 4
    config = study_config_from_dict(settings, base=EXAMPLES)
    with pytest.raises(ValueError, match="another config .*train.max_epochs differ"):
        run_study(config, output)


def _strings(values):
    """Every string in a nested structure of dicts and lists."""
    if isinstance(values, dict):
        return [s for value in values.values() for s in _strings(value)]
    if isinstance(values, list):
        return [s for value in values for s in _strings(value)]
    return [values] if isinstance(values, str) else []


def _assert_relative_data_paths(recorded, folder, files):
    """``recorded`` names no absolute path, and its ``files`` lie in ``folder``."""
    assert not [s for s in _strings(recorded) if Path(s).is_absolute()]
    assert str(folder.parent) not in json.dumps(recorded)
    for key, expected in files.items():
        assert (folder / recorded[key]).resolve() == expected.resolve(), key


def test_records_name_data_files_relative_to_their_folder(study):
    output, _, results = study
    data = Path(__file__).parent / "data"
    files = {
        "train": data / "rmd17_ethanol_train_01_subset.npz",
        "test": data / "rmd17_ethanol_test_01_subset.npz",
    }
    recorded = yaml.safe_load((output / "study.yaml").read_text())
    for config in (recorded, results["config"]):
        _assert_relative_data_paths(config, output, {})
        _assert_relative_data_paths(config["molecules"]["ethanol"], output, files)
    _assert_relative_data_paths(results, output, {})
    split = {
        "train": output / "data" / "ethanol-lowest-0.8.h5",
        "test": output / "data" / "ethanol-highest-0.2.h5",
    }
    for run_dir in (output / "runs" / "ethanol").iterdir():
        run = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert run["output"] == "."
        run_files = split if run_dir.name.startswith("ood-") else files
        _assert_relative_data_paths(run["data"], run_dir, run_files)


def test_a_study_recorded_with_absolute_paths_continues(study, tmp_path, monkeypatch):
    """An older study folder (absolute data paths) continues from another folder."""
    output, _, results = study
    shutil.copytree(output, tmp_path / "old")
    absolute = load_study_config(CONFIG).to_dict()
    (tmp_path / "old" / "study.yaml").write_text(yaml.safe_dump(absolute))
    # Older versions recorded no run's training time and reused runs only.
    older = {
        key: value for key, value in results.items() if key != "run_training_time_s"
    }
    (tmp_path / "old" / "results.json").write_text(json.dumps(older))
    monkeypatch.chdir(tmp_path)
    with redirect_stdout(io.StringIO()) as printed:
        assert main([CONFIG, "--output", "old"]) == 0
    assert printed.getvalue().count("finished earlier") == 12
    assert "trained in" not in printed.getvalue()
    recorded = yaml.safe_load((tmp_path / "old" / "study.yaml").read_text())
    assert recorded == load_study_config(CONFIG).to_dict(relative_to="old")
    continued = json.loads((tmp_path / "old" / "results.json").read_text())
    assert continued["config"] == recorded
    assert continued["molecules"] == results["molecules"]


def _without_runs(output, copy):
    """A copy of the study folder ``output`` without its runs and data files."""
    shutil.copytree(output, copy, ignore=shutil.ignore_patterns("runs", "data"))
    return copy


def test_recorded_sections_are_reused_without_their_runs(study, tmp_path):
    """A folder that kept its results and figures but not its runs continues."""
    output, _, results = study
    copy = _without_runs(output, tmp_path / "small")
    with redirect_stdout(io.StringIO()) as printed:
        assert main([CONFIG, "--output", str(copy)]) == 0
    assert printed.getvalue().count(": recorded earlier") == 5
    assert "trained in" not in printed.getvalue()
    assert "finished earlier" not in printed.getvalue()
    assert not (copy / "runs").exists()
    continued = json.loads((copy / "results.json").read_text())
    assert continued == results
    report = (output / "report.md").read_text()
    assert (copy / "report.md").read_text() == report


def test_a_section_missing_from_the_results_is_trained_and_analysed(study, tmp_path):
    output, _, results = study
    copy = _without_runs(output, tmp_path / "small")
    recorded = json.loads((copy / "results.json").read_text())
    del recorded["molecules"]["ethanol"]["generalisation"]
    ood = [name for name in recorded["run_training_time_s"] if "/ood-" in name]
    assert len(ood) == 2
    for name in ood:
        del recorded["run_training_time_s"][name]
    (copy / "results.json").write_text(json.dumps(recorded))
    with redirect_stdout(io.StringIO()) as printed:
        assert main([CONFIG, "--output", str(copy)]) == 0
    assert printed.getvalue().count(": recorded earlier") == 4
    assert printed.getvalue().count(": trained in") == 2
    trained = sorted(f"ethanol/{p.name}" for p in (copy / "runs" / "ethanol").iterdir())
    assert trained == sorted(ood)
    continued = json.loads((copy / "results.json").read_text())
    assert list(continued["molecules"]["ethanol"]) == list(
        results["molecules"]["ethanol"]
    )
    assert _without_timings(continued) == _without_timings(results)
    times = continued["run_training_time_s"]
    assert len(times) == 12
    assert continued["training_time_s"] == pytest.approx(sum(times.values()))


def test_each_run_is_recorded_as_it_ends(study):
    """The four learning-curve runs that ended before the interruption."""
    output, _, results = study
    interrupted = json.loads((output.parent / INTERRUPTED).read_text())
    assert interrupted["molecules"] == {"ethanol": {}}
    ended = [f"ethanol/equivariant-n{n}-seed{s}" for n in (5, 10) for s in (0, 1)]
    assert sorted(interrupted["run_test_errors"]) == sorted(ended)
    assert sorted(interrupted["run_training_time_s"]) == sorted(ended)
    for name in ended:
        best = read_checkpoint(output / "runs" / name / "best.ckpt")
        assert (
            interrupted["run_test_errors"][name] == best["metadata"]["metrics"]["test"]
        )
        assert results["run_test_errors"][name] == interrupted["run_test_errors"][name]
    assert len(results["run_test_errors"]) == len(results["run_training_time_s"]) == 12


def test_recorded_runs_are_not_trained_again_without_their_folders(study, tmp_path):
    """On a fresh machine the learning curves train only the runs not recorded.

    The later sections analyse the checkpoint of ``equivariant-n10-seed0``,
    recorded but not kept, so it alone of the recorded runs is trained again.
    """
    output, _, results = study
    copy = tmp_path / "small"
    copy.mkdir()
    shutil.copy(output.parent / INTERRUPTED, copy / "results.json")
    with redirect_stdout(io.StringIO()) as printed:
        assert main([CONFIG, "--output", str(copy)]) == 0
    log = printed.getvalue()
    assert log.count(": test errors recorded earlier") == 4
    assert "[1/12] ethanol/equivariant-n5-seed0: test errors recorded earlier" in log
    assert log.count(": trained in") == 4 + 1 + 2 + 2
    assert "ethanol/equivariant-n5-seed0: trained" not in log
    assert "ethanol/equivariant-n10-seed0: trained" in log
    trained = {p.name for p in (copy / "runs" / "ethanol").iterdir()}
    assert len(trained) == 9 and "equivariant-n5-seed1" not in trained
    continued = json.loads((copy / "results.json").read_text())
    assert _without_timings(continued) == _without_timings(results)
    assert sorted(continued["run_training_time_s"]) == sorted(
        results["run_training_time_s"]
    )


def test_a_report_under_way_names_what_is_not_recorded_yet(study):
    from mlpot.study.report import report_text

    _, _, results = study
    complete = report_text(results)
    assert "Under way" not in complete
    assert "Generalisation to higher energies" in complete
    partial = json.loads(json.dumps(results))
    del partial["molecules"]["ethanol"]["generalisation"]
    del partial["molecules"]["ethanol"]["symmetry"]
    text = report_text(partial)
    assert "not recorded yet: ethanol (generalisation, symmetry)." in text
    assert "Generalisation to higher energies" not in text
    assert "## 3. Latent geometry" in text


def test_command_line_errors_are_reported(tmp_path, capsys):
    assert main([str(tmp_path / "missing.yaml")]) == 1
    assert "mlpot-study: error:" in capsys.readouterr().err


@pytest.fixture(scope="module")
def parallel_study(tmp_path_factory):
    """The small preset with --jobs 2, interrupted as its second run ends; continued."""
    output = tmp_path_factory.mktemp("parallel") / "small"
    message = RunOutcome.message
    ended = []

    def interrupted(outcome):
        ended.append(outcome.run.name)
        if len(ended) == 2:
            raise KeyboardInterrupt
        return message(outcome)

    args = [CONFIG, "--output", str(output), "--jobs", "2"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RunOutcome, "message", interrupted)
        assert main([*args, "--quiet"]) == 130
    assert not (output / "report.md").exists()
    recorded = json.loads((output / "results.json").read_text())["run_test_errors"]
    assert list(recorded) == [f"ethanol/{ended[0]}"]
    with redirect_stdout(io.StringIO()) as printed:
        assert main(args) == 0
    results = json.loads((output / "results.json").read_text())
    return output, printed.getvalue(), results


def _without_timings(results):
    """Results without what depends on the machine's speed (training times)."""
    molecules = {
        name: {key: part for key, part in parts.items() if key != "training_time"}
        for name, parts in results["molecules"].items()
    }
    timings = ("training_time_s", "run_training_time_s")
    kept = {key: value for key, value in results.items() if key not in timings}
    return {**kept, "molecules": molecules}


def test_parallel_study_continues_and_logs_each_run(parallel_study):
    _, printed, _ = parallel_study
    earlier = printed.count("finished earlier")
    # The run the other worker had under way when the interruption came may
    # have finished before the pool stopped: then it too finished earlier.
    assert earlier in (2, 3)
    assert (
        earlier
        + printed.count(": trained in")
        + printed.count(": resumed and finished in")
        == 12
    )
    for number in range(1, 13):
        assert f"[{number}/12] ethanol/" in printed


def test_parallel_study_gives_the_same_runs_and_numbers(study, parallel_study):
    serial, _, serial_results = study
    parallel, _, parallel_results = parallel_study
    assert _without_timings(parallel_results) == _without_timings(serial_results)
    names = sorted(p.name for p in (serial / "runs" / "ethanol").iterdir())
    assert names == sorted(p.name for p in (parallel / "runs" / "ethanol").iterdir())
    for name in names:
        one = read_checkpoint(serial / "runs" / "ethanol" / name / "best.ckpt")
        two = read_checkpoint(parallel / "runs" / "ethanol" / name / "best.ckpt")
        assert one["state_dict"].keys() == two["state_dict"].keys()
        for key, tensor in one["state_dict"].items():
            assert torch.equal(tensor, two["state_dict"][key]), f"{name}: {key}"
        assert one["metadata"]["metrics"] == two["metadata"]["metrics"], name


def test_an_error_in_a_worker_names_the_run(tmp_path, capsys):
    settings = yaml.safe_load(Path(CONFIG).read_text())
    settings["train"]["max_epochs"] = 1
    settings["data_efficiency"]["sizes"] = [30, 5]  # 30: more frames than there are
    settings["latent"]["n_train"] = settings["symmetry"]["n_train"] = 5
    for part in ("train", "test"):
        path = Path(settings["molecules"]["ethanol"][part])
        settings["molecules"]["ethanol"][part] = str(EXAMPLES / path)
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(settings))
    output = tmp_path / "out"
    assert main([str(config), "--output", str(output), "--jobs", "2", "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "mlpot-study: error: training run ethanol/" in error
    assert "-n30-seed" in error


def test_jobs_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        main([CONFIG, "--jobs", "0"])
    assert "--jobs: must be at least 1" in capsys.readouterr().err


def test_a_damaged_results_file_is_named(study, tmp_path, capsys):
    output, _, _ = study
    copy = _without_runs(output, tmp_path / "small")
    (copy / "results.json").write_text('{"molecules": ')
    assert main([CONFIG, "--output", str(copy), "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "results.json is not a study's results file" in error
    assert "move it away" in error
