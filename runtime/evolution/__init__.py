"""Evolutionary search over merges (EvoMerge): genome, operators, diversity, search loop."""

from runtime.evolution.diversity import (
    DIVERSITY_FLOOR,
    member_diversity,
    prediction_distance,
)
from runtime.evolution.genome import INPUT, Genome, input_genome
from runtime.evolution.search import (
    Candidate,
    EvolutionSearch,
    Measurement,
    SearchResult,
    SearchSettings,
    generation_rng,
)
from runtime.evolution.space import GenomeSpace

__all__ = ["DIVERSITY_FLOOR", "INPUT", "Candidate", "EvolutionSearch", "Genome", "GenomeSpace",
           "Measurement", "SearchResult", "SearchSettings", "generation_rng", "input_genome",
           "member_diversity", "prediction_distance"]
