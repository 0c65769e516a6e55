"""mlpot-train trains committees member by member, resumably."""

import pytest
import torch
from ase.build import molecule
from test_train_loop import tiny_run

from mlpot import load_calculator
from mlpot.calculator import CommitteeCalculator
from mlpot.model.io import read_checkpoint
from mlpot.train import fit, load_resume_config


def test_a_committee_trains_opens_and_resumes(tmp_path):
    run_dir = tmp_path / "committee"
    folder = fit(tiny_run(run_dir, max_epochs=1, committee_size=3))
    assert folder == run_dir and (run_dir / "committee.json").is_file()
    weights = [
        read_checkpoint(run_dir / f"member-{k}" / "best.ckpt")["state_dict"]
        for k in range(3)
    ]
    name = next(key for key in weights[0] if key.endswith("weight"))
    assert not torch.equal(weights[0][name], weights[1][name])  # own initialisation
    splits = [
        read_checkpoint(run_dir / f"member-{k}" / "best.ckpt")["metadata"]["split"]
        for k in range(3)
    ]
    assert splits[0] == splits[1] == splits[2]  # the same frames
    atoms = molecule("CH3CH2OH")
    atoms.calc = load_calculator(run_dir)
    assert isinstance(atoms.calc, CommitteeCalculator)
    atoms.get_forces()
    assert atoms.calc.results["max_forces_std"] > 0

    # Resuming with a larger budget continues every member from its state.
    kept = (run_dir / "member-0" / "last.state").read_bytes()
    fit(load_resume_config(run_dir, ["train.max_epochs=2"]), resume=True)
    metadata = read_checkpoint(run_dir / "member-0" / "last.ckpt")["metadata"]
    assert metadata["epochs_run"] == 2
    assert (run_dir / "member-0" / "last.state").read_bytes() != kept
    with pytest.raises(FileExistsError, match="already holds a run"):
        fit(tiny_run(run_dir, max_epochs=1, committee_size=3))


def test_mlpot_eval_scores_a_committee_as_its_mean(tmp_path, capsys):
    from pathlib import Path

    from mlpot.cli.evaluate import main as eval_main
    from mlpot.train.report import evaluate_file

    run_dir = fit(tiny_run(tmp_path / "committee", max_epochs=1, committee_size=2))
    test = Path(__file__).parent / "data" / "rmd17_ethanol_test_01_subset.npz"
    report = evaluate_file(run_dir, test)
    members = [
        evaluate_file(run_dir / f"member-{k}" / "best.ckpt", test) for k in range(2)
    ]
    mean_error = report["metrics"]["energy_mean_error_meV"]
    expected = sum(m["metrics"]["energy_mean_error_meV"] for m in members) / 2
    assert mean_error == pytest.approx(expected, rel=1e-9)
    assert eval_main([str(run_dir), str(test)]) == 0
    assert "committee" in capsys.readouterr().out


def test_an_edited_committee_size_is_refused_on_resume(tmp_path):
    from dataclasses import replace

    import yaml

    run_dir = tmp_path / "committee"
    config = tiny_run(run_dir, max_epochs=1)
    config = replace(config, train=replace(config.train, committee_size=2))
    fit(config)
    edited = yaml.safe_load((run_dir / "config.yaml").read_text())
    edited["train"]["committee_size"] = 3
    (run_dir / "config.yaml").write_text(yaml.safe_dump(edited))
    with pytest.raises(
        ValueError,
        match=r"was edited since the committee started "
        r"\(train.committee_size: 2 → 3\)",
    ):
        fit(load_resume_config(run_dir), resume=True)
    assert not (run_dir / "member-2").exists()
    edited["train"]["committee_size"] = 2
    (run_dir / "config.yaml").write_text(yaml.safe_dump(edited))
    fit(load_resume_config(run_dir, ["train.max_epochs=2"]), resume=True)
