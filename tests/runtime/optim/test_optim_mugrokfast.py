"""MuGrokfast: routing, Grokfast inside the step, training, QK-Clip hook, STE mode, resume."""

import io

import pytest
import torch
from optim_attention_helper import TinyAttention
from torch import nn

from runtime.optim import PRESETS, MuGrokfast, MuGrokfastConfig, route_parameter


class TinyLM(nn.Module):
    """Embedding -> attention -> norm -> MLP -> head: every kind of parameter once."""

    def __init__(self, vocab=11, d=16):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.attn = TinyAttention(d_model=d)
        self.norm = nn.LayerNorm(d)
        self.up = nn.Linear(d, 2 * d)
        self.down = nn.Linear(2 * d, d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):  # ids: (B, T)
        x = self.embed_tokens(ids)  # (B, T, d)
        x = x + self.attn(x)
        x = x + self.down(torch.relu(self.up(self.norm(x))))
        return self.lm_head(x)  # (B, T, vocab)

    def qk_clip_targets(self):
        return self.attn.qk_clip_targets()


def _lm_loss(model, ids):
    logits = model(ids[:, :-1])  # (B, T-1, V)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1))


def _train(model, opt, batches):
    for ids in batches:
        opt.zero_grad()
        _lm_loss(model, ids).backward()
        opt.step()


def _batches(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 11, (4, 8), generator=gen) for _ in range(n)]


def test_routes_hidden_matrices_to_muon_and_the_rest_to_adamw():
    torch.manual_seed(0)
    opt = MuGrokfast(TinyLM(), MuGrokfastConfig(weight_decay=0.1))
    muon = {n for n, r in opt.routes.items() if r == "muon"}
    assert muon == {"attn.q.weight", "attn.k.weight", "attn.v.weight", "up.weight", "down.weight"}
    for name in ("embed_tokens.weight", "lm_head.weight", "norm.weight", "norm.bias", "up.bias"):
        assert opt.routes[name] == "adamw"
    no_decay = [g for g in opt.param_groups if g["kind"] == "adamw" and g["weight_decay"] == 0.0]
    decayed = [g for g in opt.param_groups if g["weight_decay"] == 0.1]
    assert all(p.ndim == 1 for g in no_decay for p in g["params"]) and no_decay
    assert all(p.ndim == 2 for g in decayed for p in g["params"])


def test_routing_by_name_and_identity():
    w = torch.zeros(4, 4)
    assert route_parameter("blocks.0.mlp.weight", w) == "muon"
    assert route_parameter("model.wte.weight", w) == "adamw"
    assert route_parameter("x.weight", w, frozenset({id(w)})) == "adamw"
    assert route_parameter("blocks.0.ln.weight", torch.zeros(4)) == "adamw"


def test_grokfast_filters_gradients_before_the_update():
    torch.manual_seed(0)
    model = TinyLM()
    opt = MuGrokfast(model, MuGrokfastConfig(grokfast_lambda=2.0))
    _lm_loss(model, _batches(1)[0]).backward()
    raw = {n: p.grad.clone() for n, p in model.named_parameters()}
    opt.step()
    for n, p in model.named_parameters():  # μ starts at g, so the step saw (1 + λ)g
        torch.testing.assert_close(p.grad, 3.0 * raw[n])


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    model = TinyLM()
    ids = _batches(1)[0]  # memorise one batch
    opt = MuGrokfast(model, MuGrokfastConfig(muon_lr=0.02, adam_lr=3e-3))
    start = _lm_loss(model, ids).item()
    _train(model, opt, [ids] * 60)
    end = _lm_loss(model, ids).item()
    assert end < 0.5 * start, (start, end)


def test_qk_clip_runs_after_each_step():
    torch.manual_seed(0)
    model = TinyLM()
    with torch.no_grad():
        model.attn.q.weight.mul_(10.0)
        model.attn.k.weight.mul_(10.0)
    tau = 2.0
    opt = MuGrokfast(model, MuGrokfastConfig(muon_lr=0.0, adam_lr=0.0, qk_clip_tau=tau))
    ids = _batches(1)[0]
    _lm_loss(model, ids).backward()
    assert model.attn.last_max_logits.max() > tau
    opt.step()
    assert (opt.last_qk_scales[0] < 1.0).any()
    model(ids[:, :-1])
    assert model.attn.last_max_logits.max() <= tau * (1 + 1e-5)


def test_ste_mode_accumulates_updates_below_low_precision_resolution():
    plain, ste = (nn.Parameter(torch.ones(8, dtype=torch.bfloat16)) for _ in range(2))
    cfg = MuGrokfastConfig(adam_lr=1e-3, grokfast_lambda=0.0)  # step 1e-3 < bf16 half-ulp at 1
    opt_plain = MuGrokfast([("bias", plain)], cfg)
    opt_ste = MuGrokfast([("bias", ste)], cfg.with_overrides(ste_mode=True))
    for _ in range(20):
        for p, opt in ((plain, opt_plain), (ste, opt_ste)):
            p.grad = torch.ones_like(p)
            opt.step()
    assert torch.equal(plain.data, torch.ones_like(plain))  # every update rounded away
    assert ste.data.float().mean() < 0.99  # latent moved 20 * 1e-3 and got written back
    latent = opt_ste.param_groups[0]["params"][0]
    assert latent.dtype == torch.float32
    torch.testing.assert_close(latent, torch.full((8,), 0.98), atol=1e-4, rtol=0)


def test_ste_mode_refuses_qk_clip_on_low_precision_weights():
    model = TinyLM().to(torch.bfloat16)
    with pytest.raises(ValueError, match="STE"):
        MuGrokfast(model, MuGrokfastConfig(ste_mode=True))


@pytest.mark.parametrize("ste_mode", [False, True])
def test_resume_is_bit_exact(ste_mode):
    def fresh():
        torch.manual_seed(0)
        model = TinyLM()
        if ste_mode:  # bf16 MLP weights exercise the latent copies
            model.up.to(torch.bfloat16)
            model.down.to(torch.bfloat16)
            model.up.forward = lambda x, m=model.up: nn.functional.linear(
                x, m.weight.float(), m.bias.float())
            model.down.forward = lambda x, m=model.down: nn.functional.linear(
                x, m.weight.float(), m.bias.float())
        cfg = MuGrokfastConfig(weight_decay=0.01, qk_clip_tau=3.0, ste_mode=ste_mode)
        return model, MuGrokfast(model, cfg)

    batches = _batches(10, seed=1)
    model, opt = fresh()
    _train(model, opt, batches[:5])
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optim": opt.state_dict()}, buffer)
    _train(model, opt, batches[5:])
    buffer.seek(0)
    checkpoint = torch.load(buffer)
    resumed, resumed_opt = fresh()
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optim"])
    _train(resumed, resumed_opt, batches[5:])
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_works_with_lr_schedulers():
    opt = MuGrokfast(TinyLM(), MuGrokfastConfig(muon_lr=0.02, adam_lr=1e-3))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 ** step)
    opt.step()  # no gradients yet: a no-op, keeps the scheduler's call order
    sched.step()
    lrs = {g["kind"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"muon": 0.01, "adamw": 5e-4}


def test_presets_follow_the_design():
    assert PRESETS.names() == ["phase1", "phase3", "phase5"]
    p1, p3, p5 = (PRESETS.get(n) for n in PRESETS.names())
    assert (p1.muon_lr, p1.grokfast_lambda) == (1e-3, 0.3)
    assert (p3.muon_lr, p3.kl_coefficient) == (5e-4, 0.1)
    assert (p5.ste_mode, p5.grokfast_lambda) == (True, 2.0)
    with pytest.raises(KeyError, match="phase1"):
        PRESETS.get("phase_1")


def test_from_config_reads_the_documented_keys():
    cfg = {"muon_lr": 0.01, "adam_lr": 1e-3, "momentum": 0.9, "nesterov": False, "ns_steps": 4,
           "grokfast_alpha": 0.9, "grokfast_lambda": 1.0, "qk_clip_tau": 50.0,
           "weight_decay": 0.1, "ste_mode": False, "kl_coefficient": 0.2}
    opt = MuGrokfast.from_config(TinyLM(), cfg)
    muon = next(g for g in opt.param_groups if g["kind"] == "muon")
    assert (muon["lr"], muon["momentum"], muon["nesterov"], muon["ns_steps"]) == (0.01, 0.9, False, 4)
    assert opt.qk_clip.tau == 50.0 and opt.config.kl_coefficient == 0.2
    with pytest.raises(KeyError, match="did you mean `muon_lr`"):
        MuGrokfast.from_config(TinyLM(), {"muon_lrr": 0.1})


def test_adamw_over_a_group_matches_torch_adamw():
    """adamw_group_update_ (foreach ops) matches torch.optim.AdamW tensor by tensor, including
    a tensor that skipped a step (each keeps its own step count and bias correction)."""
    from runtime.optim.mugrokfast import adamw_group_update_

    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(shape, generator=gen) for shape in [(4, 3), (7,), (2, 5)]]
    reference = [nn.Parameter(p.clone()) for p in ours]
    torch_adamw = torch.optim.AdamW(reference, lr=0.01, betas=(0.9, 0.95), eps=1e-8,
                                    weight_decay=0.1, foreach=False)
    states = [{}, {}, {}]
    for step in range(3):
        grads = [torch.randn(p.shape, generator=gen) for p in ours]
        index = [0, 1, 2] if step != 1 else [0, 2]  # tensor 1 skips a step: counts differ
        adamw_group_update_([ours[i] for i in index], [grads[i] for i in index],
                            [states[i] for i in index], lr=0.01, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.1)
        for i, p in enumerate(reference):
            p.grad = grads[i] if i in index else None
        torch_adamw.step()
    assert [s["step"] for s in states] == [3, 2, 3]
    for p, q in zip(ours, reference, strict=True):
        torch.testing.assert_close(p, q.detach(), rtol=1e-6, atol=1e-7)


def test_a_model_can_name_matrices_that_are_not_hidden_weights():
    """A model's adamw_parameters() sends those matrices to AdamW; the Cognate model names
    its persistent tokens and its halting head, and its hidden matrices stay with Muon."""
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.nn.presets import preset_config

    model = TrmTitansMagForCausalLM(preset_config("smoke"))
    routes = MuGrokfast(model).routes
    assert routes["persistent"] == "adamw"
    assert routes["halt_head.weight"] == "adamw"
    assert routes["stack.layers.0.attn.q_proj.weight"] == "muon"
    assert routes["stack.layers.0.memory.init_w1"] == "muon"
