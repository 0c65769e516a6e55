"""The original comparison's protocol: energies only, a fixed number of epochs, seeds.

Both families train on energies alone for ``original_protocol.epochs`` epochs,
once per seed. Reported per family: the validation energy MAE against epoch
(mean over seeds and the band from the lowest to the highest seed), the test
energy MAE of every seed, and what each seed's last-layer latents hold, probed
on held-out test frames:

- pooled (per-structure) latents: linear probes, and k-nearest-neighbour probes
  on their PCA and t-SNE projections, for the energy and the molecule's
  geometric variables (`mlpot.analysis.variables`);
- per-atom latents: linear probes from each C and O atom's own latent to its
  own bond lengths and angles (`mlpot.analysis.atom_probes`), so that the
  answer does not hinge on pooling.
"""

from pathlib import Path
from typing import Dict, List

import numpy as np

from mlpot.analysis.atom_probes import atom_probe_r2, own_geometry
from mlpot.analysis.latent import PROJECTIONS, project, structure_features
from mlpot.analysis.probes import held_out_split
from mlpot.study.config import StudyConfig
from mlpot.study.figures import FIGURES_DIR, latent_figure, seed_band_figure
from mlpot.study.latent_geometry import probe_frames, probe_scores
from mlpot.study.runs import PlannedRun, recorded_test_errors, trained_model
from mlpot.train.records import read_metrics

FAMILIES = ("equivariant", "invariant")
CURVE_COLUMN = "val_energy_mae_meV"


def protocol_run(
    study: StudyConfig, molecule: str, family: str, seed: int
) -> PlannedRun:
    """The energy-only run of ``family`` with ``seed``."""
    settings = study.original_protocol
    data = study.molecules[molecule]
    return PlannedRun(
        molecule=molecule,
        name=f"original-{family}-seed{seed}",
        family=family,
        train_file=data.train,
        test_file=data.test,
        energy_unit=data.energy_unit,
        n_train=settings.n_train,
        n_val=settings.n_val,
        seed=seed,
        train_settings=tuple(settings.train_settings().items()),
    )


def planned_runs(study: StudyConfig, molecule: str) -> List[PlannedRun]:
    """One run per family and seed."""
    return [
        protocol_run(study, molecule, family, seed)
        for family in FAMILIES
        for seed in study.original_protocol.seeds
    ]


def analyse(study: StudyConfig, molecule: str, output) -> Dict:
    """Curves with seed bands, test errors and latent probes of every seed.

    Returns
    -------
    dict
        JSON-able: ``epochs``, ``seeds``, ``n_frames`` (test frames probed),
        ``n_probe_test``, ``variables``, and per family (``families``):
        ``curve`` (``epoch``, ``mean``, ``low``, ``high`` of the validation
        energy MAE in meV), ``test_energy_mae_meV`` (one per seed),
        ``pooled``: variable → score (``linear``, ``knn_pca``, ``knn_tsne``)
        → one R² per seed, ``per_atom``: atom variable → one R² per seed;
        ``figures``: ``curves`` and family → latent PNG (first seed).
    """
    settings, latent = study.original_protocol, study.latent
    frames, variables = probe_frames(study, molecule)
    atoms_geometry = own_geometry(frames)
    first_seed = settings.seeds[0]
    train, test = held_out_split(len(frames), latent.test_fraction, first_seed)
    families, figures = {}, {}
    for family in FAMILIES:
        runs = [protocol_run(study, molecule, family, s) for s in settings.seeds]
        result = {
            "curve": _band(
                [read_metrics(r.directory(output) / "metrics.csv") for r in runs]
            ),
            "test_energy_mae_meV": [
                recorded_test_errors(r.best_checkpoint(output))["energy_mae_meV"]
                for r in runs
            ],
            "pooled": {name: {} for name in variables},
            "per_atom": {name: [] for name in atoms_geometry},
        }
        for run in runs:
            per_atom, pooled = structure_features(trained_model(run, output), frames)
            embeddings = {
                method: project(pooled, method, first_seed, latent.perplexity)
                for method in PROJECTIONS
            }
            for name, values in variables.items():
                scores = probe_scores(
                    pooled, embeddings, values, train, test, latent.neighbours
                )
                for score, value in scores.items():
                    result["pooled"][name].setdefault(score, []).append(value)
            probes = atom_probe_r2(
                per_atom, frames, atoms_geometry, latent.test_fraction, first_seed
            )
            for name, value in probes.items():
                result["per_atom"][name].append(value)
            if run.seed == first_seed:
                figure = Path(FIGURES_DIR) / f"original_latent_{molecule}_{family}.png"
                latent_figure(
                    Path(output) / figure,
                    f"{molecule}: {family} model, energy-only training for "
                    f"{settings.epochs} epochs (seed {run.seed}), pooled "
                    f"last-layer features of {len(frames)} test frames",
                    embeddings,
                    variables,
                    {
                        name: {
                            m: result["pooled"][name][f"knn_{m}"][-1]
                            for m in PROJECTIONS
                        }
                        for name in variables
                    },
                )
                figures[family] = str(figure)
        families[family] = result
    curves = Path(FIGURES_DIR) / f"original_curves_{molecule}.png"
    seed_band_figure(
        Path(output) / curves,
        f"{molecule}: energy-only training, {len(settings.seeds)} seeds",
        {family: families[family]["curve"] for family in FAMILIES},
    )
    figures["curves"] = str(curves)
    return {
        "epochs": settings.epochs,
        "seeds": list(settings.seeds),
        "n_frames": len(frames),
        "n_probe_test": len(test),
        "variables": list(variables),
        "families": families,
        "figures": figures,
    }


def _band(tables: List[Dict[str, np.ndarray]]) -> Dict[str, list]:
    """Mean and lowest-to-highest band over seeds of the validation energy MAE."""
    epochs = min(len(table[CURVE_COLUMN]) for table in tables)
    values = np.array([table[CURVE_COLUMN][:epochs] for table in tables])
    return {
        "epoch": tables[0]["epoch"][:epochs].astype(int).tolist(),
        "mean": values.mean(axis=0).tolist(),
        "low": values.min(axis=0).tolist(),
        "high": values.max(axis=0).tolist(),
    }
