"""Does it poison? A controlled, seeded, offline experiment: a small class-conditional
generative model trained from scratch on taef2 latents of shaded images, judged by a
probe trained on clean latents. ``run_poison_experiment(PoisonConfig(...))`` returns the
report; ``write_outputs`` writes report.json, the dose-response plot and the sample grid.
"""

from .data import Concept, concept_from_folder, painting_concepts
from .flow import FlowSettings
from .report import dose_response_plot, format_table, sample_grid, write_outputs
from .runner import PoisonConfig, PoisonResult, conditions_for, fast_config, run_poison_experiment

__all__ = [
    "Concept", "concept_from_folder", "painting_concepts", "FlowSettings",
    "PoisonConfig", "PoisonResult", "conditions_for", "fast_config", "run_poison_experiment",
    "dose_response_plot", "format_table", "sample_grid", "write_outputs",
]
