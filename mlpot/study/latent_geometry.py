"""Latent geometry: what the last-layer features hold about energy and geometry."""

from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from mlpot.analysis.latent import PROJECTIONS, project, structure_features
from mlpot.analysis.probes import held_out_split, knn_r2, linear_probe_r2
from mlpot.analysis.variables import geometry_variables
from mlpot.data import Frames, read_frames
from mlpot.study.config import StudyConfig
from mlpot.study.data_efficiency import CURVE_FAMILIES, curve_run
from mlpot.study.figures import FIGURES_DIR, latent_figure
from mlpot.study.runs import PlannedRun, trained_model

ENERGY = "energy (eV, minus mean)"


def probe_frames(study: StudyConfig, molecule: str) -> Tuple[Frames, Dict]:
    """The first ``latent.n_frames`` test frames and the variables to probe.

    Returns
    -------
    frames : Frames
    variables : dict
        Name (with unit) → values of shape (n_frames,): the energy minus its
        mean, then the molecule's geometric variables.
    """
    data = study.molecules[molecule]
    frames = read_frames(data.test, energy_unit=data.energy_unit)
    if study.latent.n_frames is not None:
        frames = frames.subset(np.arange(min(study.latent.n_frames, len(frames))))
    variables = {ENERGY: frames.energy - frames.energy.mean()}
    variables.update(geometry_variables(frames, molecule))
    return frames, variables


def analysed_runs(study: StudyConfig, molecule: str) -> Dict[str, PlannedRun]:
    """Family → the learning-curve run on ``latent.n_train`` frames, first seed."""
    seed = study.data_efficiency.seeds[0]
    return {
        f: curve_run(study, molecule, f, study.latent.n_train, seed)
        for f in CURVE_FAMILIES
    }


def analyse(study: StudyConfig, molecule: str, output) -> Dict:
    """Probe R² of each variable from each model's pooled features and projections.

    The frames are the first ``latent.n_frames`` of the test file, which no
    model trained on. The models are the learning-curve runs on
    ``latent.n_train`` frames with the first seed. Each variable is probed on
    a held-out part (``latent.test_fraction``) after fitting on the rest:
    linearly from the pooled features, and by k nearest neighbours from the
    PCA and t-SNE projections (computed on all frames, without labels).

    Returns
    -------
    dict
        JSON-able: ``n_frames``, ``n_probe_test``, ``variables`` (names),
        ``scores``: family → variable → ``linear``, ``knn_pca``,
        ``knn_tsne`` (R²), and ``figures``: family → PNG path.
    """
    settings = study.latent
    seed = study.data_efficiency.seeds[0]
    frames, variables = probe_frames(study, molecule)
    train, test = held_out_split(len(frames), settings.test_fraction, seed)
    scores, figures = {}, {}
    for family, run in analysed_runs(study, molecule).items():
        _, pooled = structure_features(trained_model(run, output), frames)
        embeddings = {
            method: project(pooled, method, seed, settings.perplexity)
            for method in PROJECTIONS
        }
        scores[family] = {
            name: probe_scores(
                pooled, embeddings, values, train, test, settings.neighbours
            )
            for name, values in variables.items()
        }
        figure = Path(FIGURES_DIR) / f"latent_{molecule}_{family}.png"
        knn = {
            name: {m: s[f"knn_{m}"] for m in PROJECTIONS}
            for name, s in scores[family].items()
        }
        latent_figure(
            Path(output) / figure,
            f"{molecule}: {family} model ({settings.n_train} training frames), "
            f"pooled last-layer features of {len(frames)} test frames",
            embeddings,
            variables,
            knn,
        )
        figures[family] = str(figure)
    return {
        "n_frames": len(frames),
        "n_probe_test": len(test),
        "variables": list(variables),
        "scores": scores,
        "figures": figures,
    }


def probe_scores(
    features, embeddings, values, train, test, neighbours
) -> Dict[str, float]:
    """Held-out R² of one variable: a linear probe on ``features`` (``linear``)
    and k-nearest-neighbour probes on each projection (``knn_pca``, …)."""
    scores = {
        "linear": linear_probe_r2(
            features[train], values[train], features[test], values[test]
        )
    }
    for method, points in embeddings.items():
        scores[f"knn_{method}"] = knn_r2(
            points[train], values[train], points[test], values[test], neighbours
        )
    return scores
