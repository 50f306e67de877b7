"""Evaluation: accuracy per family/level with greedy generate(), and perplexity.

Metric names: ``accuracy``, ``accuracy.<family>``, ``accuracy.<family>.level<k>``,
``perplexity``. The prompt format and training encoding are re-exported from
``runtime.data`` so training and evaluation cannot drift apart.
"""

from runtime.data.encoding import IGNORE_INDEX, encode_for_training
from runtime.data.formatting import format_example, training_text
from runtime.eval.generation import Completion, greedy_generate
from runtime.eval.harness import EvalRecord, EvalResult, evaluate, score, summarise
from runtime.eval.perplexity import answer_nll, answer_perplexity, perplexity, token_nll

__all__ = ["IGNORE_INDEX", "Completion", "EvalRecord", "EvalResult", "answer_nll",
           "answer_perplexity", "encode_for_training", "evaluate", "format_example",
           "greedy_generate", "perplexity", "score", "summarise", "token_nll", "training_text"]
