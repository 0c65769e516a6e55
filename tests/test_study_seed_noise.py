"""Learning-curve points with extra seeds, and the seed-noise verdict on them."""

from pathlib import Path

import pytest
import yaml

from mlpot.study import load_study_config, study_config_from_dict
from mlpot.study.data_efficiency import _fit, planned_runs
from mlpot.study.figures import learning_curve_figure
from mlpot.study.report import _curve_finding, _data_efficiency

EXAMPLES = Path(__file__).parents[1] / "examples" / "study"


def _small(**data_efficiency):
    settings = yaml.safe_load((EXAMPLES / "small.yaml").read_text())
    settings["data_efficiency"].update(data_efficiency)
    return study_config_from_dict(settings, base=EXAMPLES)


def test_noise_sizes_train_with_the_extra_seeds_only():
    study = _small(sizes=[5, 10], seeds=[0], noise_sizes=[10], noise_seeds=[1, 2])
    names = sorted(run.name for run in planned_runs(study, "ethanol"))
    assert names == sorted(
        f"{family}-{point}"
        for family in ("equivariant", "invariant")
        for point in ("n5-seed0", "n10-seed0", "n10-seed1", "n10-seed2")
    )


def test_studies_without_noise_points_plan_the_same_runs():
    plain = load_study_config(EXAMPLES / "small.yaml")
    assert plain.data_efficiency.noise_sizes == []
    assert [r.name for r in planned_runs(plain, "ethanol")] == [
        f"{family}-n{size}-seed{seed}"
        for family in ("equivariant", "invariant")
        for size in plain.data_efficiency.sizes
        for seed in plain.data_efficiency.seeds
    ]


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(noise_sizes=[7], noise_seeds=[1]), "noise_sizes must be sizes of"),
        (dict(noise_sizes=[5], noise_seeds=[0]), "seeds not in data_efficiency.seeds"),
        (dict(noise_sizes=[5]), "given together with"),
    ],
)
def test_noise_settings_that_cannot_work_are_explained(settings, message):
    with pytest.raises(ValueError, match=message):
        _small(sizes=[5, 10], seeds=[0], **settings)


def _part(equivariant_950, invariant_950):
    curves = {
        "equivariant": {"sizes": [100, 950], "energy": [[3.0], [1.0, 1.1, 1.2]]},
        "invariant": {"sizes": [100, 950], "energy": [[4.0], [2.0, 2.1, 2.2]]},
    }
    curves["equivariant"]["forces"] = [[30.0], equivariant_950]
    curves["invariant"]["forces"] = [[40.0], invariant_950]
    for curve in curves.values():
        curve["slopes"] = {
            q: _fit(curve["sizes"], curve[q]) for q in ("energy", "forces")
        }
    return {"sizes": [100, 950], "curves": curves, "figure": "figures/x.png"}


def test_report_calls_a_difference_beyond_seed_noise_only_when_seeds_separate():
    apart = _part([10.0, 11.0, 12.0], [13.0, 14.0, 15.0])
    overlapping = _part([10.0, 11.0, 14.0], [13.0, 14.0, 15.0])
    rows = [line for line in _data_efficiency(apart) if line.startswith("| 950")]
    assert rows and rows[0].endswith("| beyond seed noise | beyond seed noise |")
    rows = [line for line in _data_efficiency(overlapping) if line.startswith("| 950")]
    assert rows[0].endswith("| beyond seed noise | within seed noise |")
    one_seed = [line for line in _data_efficiency(apart) if line.startswith("| 100")]
    assert one_seed[0].endswith("| one seed | one seed |")
    assert "33 vs 14 meV/Å (beyond seed noise)" not in _curve_finding("x", apart)
    assert "11 vs 14 meV/Å (beyond seed noise)" in _curve_finding("x", apart)
    assert "(within seed noise)" in _curve_finding("x", overlapping)


def test_slopes_fit_the_seed_means_so_extra_seeds_do_not_weigh_more():
    many = _fit([100, 1000], [[10.0], [0.5, 1.0, 1.5]])
    assert many["slope"] == pytest.approx(-1.0)
    assert many["prefactor"] == pytest.approx(1000.0)


def test_learning_curve_figure_draws_points_with_different_seed_counts(tmp_path):
    path = learning_curve_figure(
        tmp_path / "curves.png", "x", _part([1, 2, 3], [4, 5, 6])["curves"]
    )
    assert path.stat().st_size > 1000
    from PIL import Image

    with Image.open(path) as image:  # 256 colours keep committed reports small
        assert image.format == "PNG" and image.mode == "P"


def test_records_from_before_the_noise_points_match_their_config(tmp_path):
    from mlpot.study.config import recorded_config

    config = load_study_config(EXAMPLES / "small.yaml")
    current = config.to_dict(relative_to=tmp_path)
    older = {**current, "data_efficiency": dict(current["data_efficiency"])}
    del older["data_efficiency"]["noise_sizes"], older["data_efficiency"]["noise_seeds"]
    assert recorded_config(older, tmp_path) == current


def test_three_molecule_config_plans_both_protocols_with_seed_noise(tmp_path):
    from collections import Counter

    from mlpot.study.run import planned_runs as study_runs

    config = load_study_config(EXAMPLES / "three-molecules.yaml")
    runs = study_runs(config, tmp_path / "three-molecules")
    assert Counter(run.molecule for run in runs) == {
        "aspirin": 28,
        "ethanol": 28,
        "toluene": 28,
    }
    names = {run.name for run in runs if run.molecule == "toluene"}
    for family in ("equivariant", "invariant"):
        assert {f"{family}-n950-seed{s}" for s in (0, 1, 2)} <= names
        assert {f"original-{family}-seed{s}" for s in (0, 1, 2)} <= names
    assert config.train["budget_clock"] == "cpu"
