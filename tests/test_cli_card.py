"""``mlpot-card``: a model card generated from a trained checkpoint."""

import json
from pathlib import Path

import pytest
import yaml
from tiny_training import DATA, train_tiny, train_tiny_on_ethanol

from mlpot.cards import _speed_section, _training_section
from mlpot.cli.card import main as card_main
from mlpot.cli.train import main as train_main
from mlpot.data import read_frames, write_store
from mlpot.data.files import sha256sum
from mlpot.train.report import evaluate_file


@pytest.fixture
def trained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return train_tiny_on_ethanol()


def test_card_is_generated_from_metadata_and_evaluation(trained, tmp_path):
    card_path = tmp_path / "card.md"
    assert card_main([str(trained), "-o", str(card_path), "--md-ps", "0.01"]) == 0
    card = card_path.read_text()
    errors = evaluate_file(trained, "test.npz")["metrics"]
    assert f"| forces | {errors['forces_mae_meV_per_A']:.2f} meV/Å" in card
    assert f"{errors['forces_mae_kcal_mol_per_A']:.4f} kcal/mol/Å" in card
    assert sha256sum(DATA / "rmd17_ethanol_train_01_subset.npz") in card
    assert "15 train + 5 validation (seed 0)" in card
    assert "mlpot-train recipe.yaml" in card
    assert "every covalent bond stayed within" in card or "bonds left" in card
    assert "ms (float64)" in card and "ms (float32)" in card
    assert "(E0s, eV; a least-squares fit on the training compositions): H " in card
    assert (
        "- loss: Huber (δ 0.01 eV/Å, eV of energy per atom); "
        "weights energy per atom 1, forces 100\n"
    ) in card
    assert str(tmp_path) not in card
    # A user's run: named after its folder, its own path in the usage lines.
    assert card.startswith("# card\n")
    assert 'InvariantCalculator("runs/card/best.ckpt")' in card
    assert "mlpot-eval runs/card/best.ckpt" in card and "models/" not in card


def test_card_name_and_level_of_theory_can_be_given(trained, tmp_path, capsys):
    card_path = tmp_path / "named.md"
    options = ["--name", "my-ethanol", "--level-of-theory", "PBE/def2-SVP"]
    assert card_main([str(trained), "-o", str(card_path), *options]) == 0
    card = card_path.read_text()
    assert card.startswith("# my-ethanol\n")
    assert "trained on PBE/def2-SVP data" in card
    assert "Level of theory: PBE/def2-SVP." in card
    assert "mlpot-card: evaluating on" in capsys.readouterr().err


def test_card_needs_a_test_file(trained, tmp_path, capsys):
    checkpoint = tmp_path / "runs" / "card" / "best.ckpt"
    from mlpot import load_model, save_model

    model = load_model(checkpoint)
    save_model(model, tmp_path / "bare.ckpt", {})
    assert card_main([str(tmp_path / "bare.ckpt")]) == 1
    assert "--test FILE" in capsys.readouterr().err


def test_card_shows_an_analysis_summary(trained, tmp_path):
    summary = {
        "title": "Torsion analysis",
        "command": "python examples/ethane_torsion.py --model m.ckpt",
        "reference_name": "GFN2-xTB",
        "checks": [
            {
                "check": "barrier, kcal/mol",
                "model": 2.5951,
                "reference": 2.5932,
                "target": "within 0.1",
            },
            {
                "check": "NVT bonds intact",
                "model": True,
                "reference": None,
                "target": True,
            },
            {"check": "drift", "model": 0.2, "reference": None, "target": "|x| < 1"},
            {
                "check": "basins",
                "model": [0.42, 0.31, 0.27],
                "reference": None,
                "target": "all > 0",
            },
        ],
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    card_path, figures_path = tmp_path / "card.md", tmp_path / "card.json"
    arguments = [str(trained), "-o", str(card_path), "--json", str(figures_path)]
    assert card_main([*arguments, "--analysis", "summary.json"]) == 0
    card = card_path.read_text()
    assert "## Torsion analysis" in card
    assert "`python examples/ethane_torsion.py --model m.ckpt`" in card
    assert "| check | model | GFN2-xTB | target |" in card
    assert "| barrier, kcal/mol | 2.595 | 2.593 | within 0.1 |" in card
    assert "| NVT bonds intact | yes |  | yes |" in card
    assert "| basins | 0.420 / 0.310 / 0.270 |  | all > 0 |" in card
    assert "| drift | 0.200 |  | \\|x\\| < 1 |" in card
    figures = json.loads(figures_path.read_text())
    assert figures["analysis"] == summary
    # A 9-atom call runs on one thread ("auto"), and the card says so.
    assert figures["call_threads"] == 1 and "threads in the call: 1)" in card


def test_card_of_a_store_records_the_store_sha256(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("train", "test"):
        frames = read_frames(DATA / f"rmd17_ethanol_{name}_01_subset.npz")
        write_store(tmp_path / f"{name}.h5", frames)
    checkpoint = train_tiny("train.h5", "test.h5", "runs/store", max_epochs=1)
    assert card_main([str(checkpoint), "-o", "card.md"]) == 0
    card = Path("card.md").read_text()
    assert sha256sum("train.h5") in card and sha256sum("test.h5") in card
    report = evaluate_file(checkpoint, "test.h5")
    assert report["data"]["sha256"] == sha256sum("test.h5")
    assert not evaluate_file(checkpoint, "test.h5")["in_training_file"]
    assert evaluate_file(checkpoint, "train.h5")["in_training_file"]


def test_committee_card_shows_the_mean_each_member_and_the_calibration(
    trained, tmp_path
):
    from mlpot.analysis.calibration import (
        calibration_scale,
        member_forces,
        rank_correlation,
        rank_correlation_by_size,
        spread_and_error_of,
    )
    from mlpot.calculator import CommitteeCalculator

    recipe = yaml.safe_load(Path("recipe.yaml").read_text())
    recipe["train"]["committee_size"] = 3
    recipe["output"] = "runs/trio"
    Path("trio.yaml").write_text(yaml.safe_dump(recipe))
    assert train_main(["trio.yaml", "--quiet"]) == 0
    frames = read_frames("test.npz")
    members, reference = member_forces(CommitteeCalculator("runs/trio"), frames)
    spread, error = spread_and_error_of(members, reference)
    calibration = {
        "scale": calibration_scale(spread, error),
        "fitted_on": "the test frames",
        "command": "python benchmarks/committee_calibration.py runs/trio",
        "json": "calibration.json",
        "sets": {
            "test": {
                "source": "test.npz",
                "atoms": len(spread),
                "rank_correlation": rank_correlation(spread, error),
                "rank_correlation_by_members": rank_correlation_by_size(
                    members, reference
                ),
                "mean_scaled_spread_eV_per_A": 0.0123,
                "rms_error_eV_per_A": 0.0456,
            }
        },
    }
    Path("calibration.json").write_text(json.dumps(calibration))
    assert card_main(["runs/trio", "--calibration", "calibration.json"]) == 0
    card = (tmp_path / "runs" / "trio.md").read_text()
    assert card.startswith("# trio\n") and "A committee of 3 invariant" in card
    mean = evaluate_file(tmp_path / "runs" / "trio", "test.npz")["metrics"]
    assert f"| forces | {mean['forces_mae_meV_per_A']:.2f} meV/Å" in card
    for k in range(3):
        alone = evaluate_file(f"runs/trio/member-{k}/best.ckpt", "test.npz")
        assert f"{alone['metrics']['forces_mae_meV_per_A']:.2f} |" in card
    assert f"This committee: s = {calibration['scale']:.2f} (fitted on the test" in card
    assert "| 12.3 | 45.6 |" in card
    assert 'load_calculator("runs/trio")' in card
    assert "python benchmarks/committee_calibration.py runs/trio" in card
    reproduce_card = "mlpot-card runs/trio --test test.npz --name trio"
    assert f"{reproduce_card} --calibration calibration.json" in card
    assert "\nmlpot-train trio.yaml --quiet\n" in card
    assert "- epochs of each member: " in card
    assert "ms (committee, float64)" in card and "ms (one member, float64)" in card
    assert "threads in the call: 1)" in card


@pytest.mark.parametrize(
    "train, expected",
    [
        # A run from before train.loss existed trained with squared errors.
        ({"energy_weight": 1.0, "forces_weight": 100.0}, "- loss: squared errors; "),
        ({}, "- loss: not recorded"),
    ],
)
def test_card_states_the_loss_of_runs_that_did_not_record_it(train, expected):
    lines = _training_section({"config": {"train": train}})
    assert any(line.startswith(expected) for line in lines)


def test_card_speed_names_the_threads_the_timed_call_used():
    report = {"n_atoms": 90, "data": {"n_frames": 10}}
    line = _speed_section(report, {"float64": 5.0}, threads=3)[-1]
    assert "(9 atoms)" in line and "torch threads in the call: 3)" in line
    assert "5.0 ms (float64)" in line
    unknown = _speed_section(report, {"float64": 5.0}, threads=None)[-1]
    assert "threads" not in unknown


def test_card_never_replaces_its_checkpoint_or_a_file_that_is_no_card(tmp_path, capsys):
    from conftest import make_model

    from mlpot.model.io import save_model

    named_md = save_model(make_model("invariant"), tmp_path / "m.md")
    before = named_md.read_bytes()
    assert card_main([str(named_md)]) == 1  # default output: m.md, the checkpoint
    assert "the card would replace the checkpoint" in capsys.readouterr().err
    ckpt = save_model(make_model("invariant"), tmp_path / "m.ckpt")
    assert card_main([str(ckpt), "-o", str(ckpt)]) == 1
    assert "the card would replace the checkpoint" in capsys.readouterr().err
    notes = tmp_path / "notes.md"
    notes.write_text("my notes\n")
    assert card_main([str(ckpt), "-o", str(notes)]) == 1
    assert "exists and is not a model card; give another path with -o, or " in (
        capsys.readouterr().err
    )
    assert card_main([str(ckpt), "-o", str(tmp_path)]) == 1
    assert "is a folder; give the card's file path with -o" in capsys.readouterr().err
    assert named_md.read_bytes() == before and notes.read_text() == "my notes\n"


def test_single_card_reproduces_its_own_options_and_overrides(trained, tmp_path):
    assert (
        card_main(
            [str(trained), "--name", "my model", "--level-of-theory", "PBE/def2-SVP"]
        )
        == 0
    )
    card = trained.with_suffix(".md").read_text()
    assert "--name 'my model' --level-of-theory PBE/def2-SVP\n" in card
