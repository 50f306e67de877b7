"""Quiet-STaR thoughts (Zelikman et al., arXiv:2403.09629) for any causal LM.

- ``tokens``: the start/end thought tokens, which tokens a thought may contain;
- ``lm``: one forward pass giving logits and the LM head's input (the final hidden state);
- ``head``: the mixing head, zero at first so the mixed output is the base model's;
- ``rows``: the batched thought rows, one per position and thought, and thought sampling;
- ``score``: the with-thought, without-thought and mixed predictions of the true tokens;
- ``objective``: the training loss (LM losses + REINFORCE with the per-position baseline);
- ``decode``: greedy answers with thoughts (or a control in their place);
- ``coherence``: the semantic, syntactic and predictive scores of thoughts;
- ``model``: a model with its mixing head, saved beside the weights and loaded back.

The batched computation uses one row per (position, thought): the text up to the
position, the thought, then the true tokens. For a causal model this is exactly what a
per-position loop computes (tests check it); it needs no attention-mask surgery, so it
runs the Cognate model (which has no KV cache) and any transformers causal LM alike.
See docs/quietstar.md.
"""
