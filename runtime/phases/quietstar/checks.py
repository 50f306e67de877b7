"""After training: does thinking help (anti-theatre), and are the thoughts coherent?

Anti-theatre: held-out arithmetic and word problems (the phase's eval levels), answered
greedily with a thought before every token against three controls in the thought's
place (``runtime.thoughts.decode``): no thought, random tokens, another example's
thought. Recorded as ``anti_theater.<mode>`` accuracies, the gains of real thoughts over
each control, and ``anti_theater.passed`` (gain over no thought > ``min_gain`` and, with
``shuffled_control``, real thoughts above both random and shuffled ones).
"""

from __future__ import annotations

import warnings

from forgelang.kinds.quietstar_cost import REASONING
from runtime.data.formatting import format_example, training_text
from runtime.data.splits import derive_seed
from runtime.eval.harness import score
from runtime.kernels import ForgeWarning
from runtime.phases.toolkit.draws import fitting_examples
from runtime.thoughts.answers import answer_nll, batches
from runtime.thoughts.coherence import coherence_scores
from runtime.thoughts.decode import MODES, decode, padded

CONTROLS = ("none", "random", "shuffled")


def mode_accuracy(model, head, tokens, tokenizer, examples, mode: str, params, seed: int) -> float:
    """Exact-match accuracy of greedy answers with ``mode`` in the thoughts' place."""
    answers = []
    for batch in batches(examples, params.eval.batch_size):  # never one alone: see shuffled
        prompts = [tokenizer(format_example(ex)[0])["input_ids"] for ex in batch]
        answers += decode(model, head, tokens, prompts, max_new_tokens=params.eval.max_new_tokens,
                          stop_ids=[tokenizer.eos_token_id], pad_id=tokenizer.pad_token_id,
                          mode=mode, temperature=params.temperature, seed=seed)
    hits = [score(ex, tokenizer.decode(ids, skip_special_tokens=True))
            for ex, ids in zip(examples, answers, strict=True)]
    return sum(hits) / len(hits)


def anti_theater(ctx, model, head, tokens, tokenizer, params, seq_len: int) -> dict[str, float]:
    """``anti_theater.*`` (empty when ``anti_theater.enabled`` is false)."""
    cfg = params.anti_theater
    if not cfg.enabled:
        return {}
    examples = fitting_examples(REASONING, cfg.examples, derive_seed(ctx.seed, "anti-theater") % 2**63,
                                "heldout", tokenizer, seq_len, params.eval.levels)
    seed = derive_seed(ctx.seed, "anti-theater-thoughts") % 2**63
    scores = {mode: mode_accuracy(model, head, tokens, tokenizer, examples, mode, params, seed)
              for mode in MODES}
    out = {f"anti_theater.{mode}": value for mode, value in scores.items()}
    out.update(answer_likelihoods(model, head, tokens, tokenizer, examples, params, seed))
    for control in CONTROLS:
        gain = scores["thoughts"] - scores[control]
        out["anti_theater.gain" if control == "none" else f"anti_theater.gain_vs_{control}"] = gain
    passed = out["anti_theater.gain"] > cfg.min_gain and (
        not cfg.shuffled_control or min(out["anti_theater.gain_vs_random"],
                                        out["anti_theater.gain_vs_shuffled"]) > 0)
    out["anti_theater.passed"] = float(passed)
    out["anti_theater.examples"] = float(len(examples))
    if not passed:
        warnings.warn(f"{ctx.phase}: thoughts did not beat the controls on {len(examples)} held-out "
                      f"problems (accuracy with thoughts {scores['thoughts']:.3f}, none "
                      f"{scores['none']:.3f}, random {scores['random']:.3f}, shuffled "
                      f"{scores['shuffled']:.3f})", ForgeWarning, stacklevel=2)
    return out


def answer_likelihoods(model, head, tokens, tokenizer, examples, params, seed: int) -> dict:
    """``anti_theater.nll.<mode>``: mean NLL per answer token, teacher-forced, with the
    mode's thought before every answer token (``runtime.thoughts.answers``), and
    ``anti_theater.nll_gain`` (none minus thoughts: positive when thoughts help)."""
    nll = {mode: answer_nll(model, head, tokens, tokenizer, examples, mode,
                            temperature=params.temperature, seed=seed,
                            batch_size=params.eval.batch_size, pad_id=tokenizer.pad_token_id)
           for mode in MODES}
    out = {f"anti_theater.nll.{mode}": value for mode, value in nll.items()}
    out["anti_theater.nll_gain"] = nll["none"] - nll["thoughts"]
    return out


def coherence(ctx, model, head, tokens, tokenizer, params, heldout) -> dict[str, float]:
    """``coherence.*``, ``thought.gain`` and ``mixing_weight`` on held-out text."""
    texts = [tokenizer(training_text(ex))["input_ids"][: params.seq_len]
             for ex in heldout[: params.batch_size]]
    weights = params.coherence.model_dump()
    return coherence_scores(model, head, tokens, padded(texts, tokenizer.pad_token_id),
                            [len(t) for t in texts], per_position=params.thoughts_per_position,
                            n_true=params.n_true, temperature=params.temperature,
                            seed=derive_seed(ctx.seed, "coherence") % 2**63, weights=weights,
                            pad_id=tokenizer.pad_token_id)
