"""The report's summary table: a row per molecule, each section's headline."""

from mlpot.study.report import summary


def curves(forces_eq, forces_inv):
    return {
        "equivariant": {"energy": [[9.0], [1.0, 1.2]], "forces": [[90.0], forces_eq]},
        "invariant": {"energy": [[8.0], [2.0, 2.4]], "forces": [[80.0], forces_inv]},
    }


def generalisation(inside, outside):
    return {
        "families": {
            family: {
                "in_distribution": {"forces_mae_meV_per_A": inside[k]},
                "out_of_distribution": {"forces_mae_meV_per_A": outside[k]},
            }
            for k, family in enumerate(("equivariant", "invariant"))
        }
    }


def latent(equivariant, invariant):
    variables = ["energy (eV, minus mean)", "bond (Å)", "angle (°)", "torsion (°)"]
    return {
        "variables": variables,
        "scores": {
            family: {v: {"linear": r2} for v, r2 in zip(variables, values, strict=True)}
            for family, values in (
                ("equivariant", equivariant),
                ("invariant", invariant),
            )
        },
    }


def molecule(forces_eq, forces_inv):
    return {
        "data_efficiency": {
            "sizes": [50, 950],
            "curves": curves(forces_eq, forces_inv),
        },
        "generalisation": generalisation([10.0, 20.0], [15.0, 20.0]),
        "latent": latent([0.99, 0.2, 0.5, 0.9], [0.0, 0.8, 0.1, 0.3]),
    }


def test_a_row_per_molecule_with_the_largest_size_and_seed_noise():
    results = {
        "molecules": {
            "ethanol": molecule([5.0, 6.0], [7.0, 8.0]),
            "toluene": molecule([5.0, 7.5], [7.0, 8.0]),
        }
    }
    lines = summary(results)
    assert lines[0] == "## Summary"
    header = next(line for line in lines if line.startswith("| molecule"))
    assert "test force MAE (meV/Å), 950 frames" in header
    assert "energies only" not in header  # no original-protocol section
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}
    assert set(rows) == {"molecule", "---", "ethanol", "toluene"}
    # Mean ± sample standard deviation of the two seeds at 950 frames.
    assert "| 5.5 ± 0.707 vs 7.5 ± 0.707 (beyond seed noise) |" in rows["ethanol"]
    assert "(within seed noise)" in rows["toluene"].split(" | ")[1]
    assert "| 1.1 ± 0.141 vs 2.2 ± 0.283 (beyond seed noise) |" in rows["ethanol"]
    assert "| 1.50 vs 1.00 |" in rows["ethanol"]
    # Median over the geometric variables, without the energy.
    assert "| 0.50 vs 0.30 |" in rows["ethanol"]


def test_no_table_without_a_section_it_draws_on():
    assert summary({"molecules": {"ethanol": {"symmetry": {}}}}) == []
