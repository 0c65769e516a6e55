"""The equivariant-vs-invariant study, run from one config: ``mlpot-study CONFIG``.

Five parts, each a module: data efficiency (learning curves), training time
(accuracy against training time of the largest runs), generalisation
(train on low energies, test on high ones), latent geometry (what the
last-layer features hold) and symmetry (equivariance errors, and a
deliberately non-equivariant model trained with and without rotations).
`run_study` trains every run (`mlpot.study.runs`; with ``jobs=N`` N runs at a
time in worker processes, `mlpot.study.parallel`), analyses them, and writes
figures and a Markdown report.
"""

from mlpot.study.config import StudyConfig, load_study_config, study_config_from_dict
from mlpot.study.run import run_study

__all__ = ["StudyConfig", "load_study_config", "run_study", "study_config_from_dict"]
