"""The SVF REINFORCE objective: gradients reach z only, KL to the base is 0 at z = 1, the
policy term's sign follows the reward, tool results are not trained on."""

from __future__ import annotations

import pytest
import torch

from runtime.data import make_split
from runtime.data.encoding import IGNORE_INDEX
from runtime.data.tokens import EOS, RESULT_CLOSE, RESULT_OPEN
from runtime.svf.decompose import decompose, target_matrices
from runtime.svf.reinforce import ReinforceSettings, SvfObjective, answer_rows, policy_and_kl
from tests.runtime.phases.kernel_inputs import INPUTS, suite_tokenizer


@pytest.fixture(scope="module")
def objective(tmp_path_factory):
    from runtime.phases.toolkit.inputs import load_model

    torch.manual_seed(0)
    model = load_model(INPUTS["llama"](tmp_path_factory.mktemp("llama")).path, "cpu")
    names = target_matrices(model, ["attention", "mlp"])
    pool = make_split(["arithmetic"], 4, 1, "train", [1])
    return SvfObjective(model, decompose(model, names), None, pool, suite_tokenizer(),
                        ReinforceSettings(0.1, 4, "svf.arithmetic"))


def test_gradients_flow_only_to_z(objective):
    torch.manual_seed(1)
    with torch.no_grad():
        for z in objective.z:
            z.mul_(1.1)  # away from the base, so the KL term has a gradient too
    index = torch.tensor([[0], [1], [2], [3]])
    out = objective(input_ids=index, labels=index)
    out.loss.backward()
    assert all(z.grad is not None and z.grad.abs().sum() > 0 for z in objective.z)
    assert all(p.grad is None and not p.requires_grad for p in objective.lm.parameters())
    assert set(objective.state_dict()) == {f"z.{i}" for i in range(len(objective.z))}
    assert {"svf.arithmetic.reward", "svf.arithmetic.kl"} <= set(out.stats)
    with torch.no_grad():
        for z in objective.z:
            z.fill_(1.0)
            z.grad = None


def test_sampling_leaves_the_base_weights_in_place(objective):
    before = {n: objective.lm.get_submodule(n).weight.detach().clone() for n in objective.names}
    with torch.no_grad():
        objective.z[0].mul_(3.0)
    objective.sample(list(objective.pool[:2]))
    for name, weight in before.items():
        assert torch.equal(objective.lm.get_submodule(name).weight, weight)
    with torch.no_grad():
        objective.z[0].fill_(1.0)


def test_kl_is_zero_for_equal_distributions_and_policy_follows_the_reward():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, requires_grad=True)
    targets = torch.full((2, 5), IGNORE_INDEX)
    targets[:, 3:] = torch.tensor([[1, 2], [3, 4]])
    policy, kl = policy_and_kl(logits, logits.detach(), targets, torch.tensor([1.0, 1.0]))
    assert float(kl.detach()) == pytest.approx(0.0, abs=1e-6)
    policy.backward()
    # a positive reward raises the log-probability of the sampled tokens: descent on -logp
    step = logits - 0.5 * logits.grad
    after, _ = policy_and_kl(step, logits.detach(), targets, torch.tensor([1.0, 1.0]))
    assert float(after.detach()) < float(policy.detach())


def test_answer_rows_mask_the_prompt_and_inserted_tool_results():
    tok = suite_tokenizer()
    transcript = f"<|tool|>calc(2+3)<|/tool|>{RESULT_OPEN}5{RESULT_CLOSE}5{EOS}"
    ids, labels = answer_rows(tok, ["What is 2+3?<|sep|>"], [transcript], tok.pad_token_id)
    prompt_len = len(tok("What is 2+3?<|sep|>")["input_ids"])
    assert (labels[0, :prompt_len] == IGNORE_INDEX).all()
    kept = [tok.convert_ids_to_tokens(int(t)) for t in labels[0] if t != IGNORE_INDEX]
    assert RESULT_OPEN not in kept and RESULT_CLOSE not in kept and EOS in kept
    assert kept[0] == "<|tool|>"
