"""Experiments over rows and seeds, and the evaluation protocols they use.

* :class:`~ltdd.studies.study.Study` (also importable as ``RebalanceStudy``), its rows' seed-by-seed
  :class:`~ltdd.studies.study.PairedComparison` and :func:`~ltdd.studies.study.study_table`, in
  :mod:`ltdd.studies.study`;
* :func:`~ltdd.studies.runner.run_study`, the one loop (settings check, seeds, atomic save after every row,
  resume, progress), in :mod:`ltdd.studies.runner`;
* :data:`~ltdd.studies.protocols.EVAL_PROTOCOLS`, the papers' evaluation recipes by name, in
  :mod:`ltdd.studies.protocols`;
* the studies themselves, each a row builder over :func:`~ltdd.studies.runner.run_study` (their modules are
  not imported here; import each from its own): chapter 04's long-tail effect
  (:func:`ltdd.studies.longtail_effect.longtail_effect`), chapter 08's bias sweep
  (:func:`ltdd.studies.biased.bias_sweep`), chapter 09's CRLT-DD plans (:func:`ltdd.studies.rebalance.rebalance_study`),
  chapter 11's ablation (:func:`ltdd.studies.tm_study.tm_ablation`), chapter 12's comparison
  (:func:`ltdd.studies.comparison.compare_methods`) and chapter 05's accuracy against iterations
  (:func:`ltdd.studies.convergence.accuracy_against_iterations`); the chapters' one-run helpers
  (:mod:`ltdd.studies.experiments`) and the recorded runs the chapters quote (:mod:`ltdd.studies.recorded`).
"""

from .protocols import EVAL_PROTOCOLS, EvalProtocol, check_protocol, eval_config
from .runner import check_seeds, resume_from, run_study
from .study import (HALF_COLUMNS, SIZE_COLUMNS, PairedComparison, Study, StudyFile, key_name, mean_std,
                    percent_of_long_tailed_set, seed_count, set_images, study_table, value_at)

RebalanceStudy = Study
"""The name :class:`~ltdd.studies.study.Study` had when CRLT-DD's runner was the only one (recorded files load
under either)."""

__all__ = ["EVAL_PROTOCOLS", "HALF_COLUMNS", "SIZE_COLUMNS", "EvalProtocol", "PairedComparison", "RebalanceStudy",
           "Study", "StudyFile", "check_protocol", "check_seeds", "eval_config", "key_name", "mean_std",
           "percent_of_long_tailed_set", "resume_from", "run_study", "seed_count", "set_images", "study_table",
           "value_at"]
