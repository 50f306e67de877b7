"""Evaluation harness: exact scoring, metric names, tool loop, real greedy generate()."""

import pytest
import torch

from runtime.data import TASKS, Example, format_example, make_split
from runtime.eval import evaluate, greedy_generate


@pytest.fixture(scope="module")
def heldout():
    return make_split(TASKS.names(), 80, seed=0, split="heldout", levels=[1, 2, 3])


def test_perfect_model_scores_one_with_exact_metric_names(tokenizer, heldout, scripted_model,
                                                          oracle_reply):
    model = scripted_model(oracle_reply(heldout))
    result = evaluate(model, tokenizer, heldout, max_new_tokens=48, batch_size=8)
    expected = {"accuracy"} | {f"accuracy.{e.family}" for e in heldout} | {
        f"accuracy.{e.family}.level{e.level}" for e in heldout}
    assert set(result.metrics) == expected
    assert all(value == 1.0 for value in result.metrics.values())
    assert result.counts["accuracy"] == len(heldout)
    assert sum(result.counts[f"accuracy.{f}"] for f in TASKS.names()) == len(heldout)


def test_garbage_model_scores_zero(tokenizer, heldout, scripted_model):
    model = scripted_model(lambda text: "zq zq<|eos|>")
    result = evaluate(model, tokenizer, heldout, max_new_tokens=16)
    assert result.accuracy == 0.0 and all(not r.correct for r in result.records)
    assert result.records[0].prediction == "zq zq"


def test_accuracy_is_the_mean_over_examples(tokenizer, scripted_model):
    examples = [Example("2+2=", "4", "arithmetic", 1), Example("3+3=", "6", "arithmetic", 2),
                Example("copy: ab", "ab", "copy", 1), Example("hi", "yo", "mine", 1)]
    result = evaluate(scripted_model(lambda text: "4<|eos|>"), tokenizer, examples)
    assert result.metrics == {"accuracy": 0.25, "accuracy.arithmetic": 0.5,
                              "accuracy.arithmetic.level1": 1.0, "accuracy.arithmetic.level2": 0.0,
                              "accuracy.copy": 0.0, "accuracy.copy.level1": 0.0,
                              "accuracy.mine": 0.0, "accuracy.mine.level1": 0.0}


def test_tool_calls_are_executed_by_the_runtime_calculator(tokenizer, scripted_model,
                                                            oracle_reply):
    example = Example("What is 37 times 91?", "3367", "tool_use", 2,
                      {"tool_call": "calc(37*91)", "tool_result": "3367"})
    model = scripted_model(oracle_reply([example]))
    record = evaluate(model, tokenizer, [example], max_new_tokens=32).records[0]
    assert record.correct and record.tool_calls == 1 and model.calls == 2
    assert record.transcript == ("<|tool|>calc(37*91)<|/tool|><|result|>3367<|/result|>"
                                 "3367<|eos|>")
    # A wrong call gets the calculator's (wrong-for-the-task) result echoed: scored wrong.
    wrong = scripted_model(lambda t: "4<|eos|>" if t.endswith("<|/result|>")
                          else "<|tool|>calc(2+2)<|/tool|>")
    assert not evaluate(wrong, tokenizer, [example]).records[0].correct


def test_tool_calls_stop_at_the_limit_and_budget_counts_only_model_tokens(tokenizer,
                                                                         scripted_model):
    looping = scripted_model(lambda text: "<|tool|>calc(1+1)<|/tool|>")
    [completion] = greedy_generate(looping, tokenizer, ["x<|sep|>"], max_new_tokens=100,
                                   max_tool_calls=2)
    assert completion.tool_calls == 2 and looping.calls == 3
    chatty = scripted_model(lambda text: "abcdefghij<|eos|>")
    [short] = greedy_generate(chatty, tokenizer, ["x<|sep|>"], max_new_tokens=3)
    assert len(tokenizer(short.prediction, add_special_tokens=False)["input_ids"]) == 3


def test_real_model_greedy_matches_argmax_and_batching_does_not_change_answers(
        tokenizer, tiny_llama, heldout):
    model = tiny_llama()
    model.train()
    one = evaluate(model, tokenizer, heldout[:12], max_new_tokens=6, batch_size=1)
    many = evaluate(model, tokenizer, heldout[:12], max_new_tokens=6, batch_size=7)
    assert model.training  # restored after evaluation
    assert [r.transcript for r in one.records] == [r.transcript for r in many.records]
    # Greedy = repeated argmax of the model's own logits.
    record = one.records[0]
    ids = tokenizer(format_example(record.example)[0])["input_ids"]
    model.eval()
    with torch.no_grad():
        for _ in range(6):
            next_id = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            ids.append(next_id)
            if next_id in (tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|/tool|>")):
                break
    prompt_len = len(tokenizer(format_example(record.example)[0])["input_ids"])
    assert record.transcript.startswith(tokenizer.decode(ids[prompt_len:]))


def test_empty_examples_is_an_error(tokenizer, scripted_model):
    with pytest.raises(ValueError):
        evaluate(scripted_model(lambda t: ""), tokenizer, [])
