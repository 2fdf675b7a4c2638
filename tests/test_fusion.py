"""Fusion modules: shapes, gradient flow, missing modalities, registered parameters, identity init, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmtutorial.encoders.base import EncoderOutput, masked_mean
from mmtutorial.fusion import (
    FUSIONS,
    GatedCrossAttention,
    GatedMultimodalUnit,
    LowRankTensorFusion,
    ModalityAttention,
    TensorFusion,
    make_fusion,
)

DIMS2 = {"image": 16, "audio": 12}
DIMS3 = {"image": 16, "audio": 12, "text": 8}
OUT = 10
B = 5


def make_inputs(dims: dict[str, int], seed: int = 0, batch: int = B, dtype=torch.float32) -> dict:
    """Random encoder outputs with a different length per modality and some padding."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, (m, d) in enumerate(dims.items()):
        t = 3 + k
        tokens = torch.randn(batch, t, d, generator=g, dtype=dtype)
        mask = torch.rand(batch, t, generator=g) > 0.3
        mask[:, 0] = True  # at least one real token per row
        out[m] = EncoderOutput(tokens, mask, masked_mean(tokens, mask))
    return out


def build(name: str, dims: dict[str, int], seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    f = make_fusion(name, dims, OUT)
    if isinstance(
        f, GatedCrossAttention
    ):  # open the gates, otherwise only they get a gradient (tested below)
        with torch.no_grad():
            f.gate_attn.fill_(0.5)
            f.gate_ff.fill_(0.5)
    return f


def grads(f: nn.Module, inputs: dict) -> dict[str, torch.Tensor | None]:
    f.zero_grad(set_to_none=True)
    y = f(inputs)
    w = torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    (y * w).sum().backward()
    return {n: p.grad for n, p in f.named_parameters()}


def nonzero(g: torch.Tensor | None) -> bool:
    return g is not None and bool(g.abs().sum() > 0)


NAMES = list(FUSIONS)


# Tiny modules: one thread avoids thread-pool overhead on a busy machine (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def test_registry_covers_every_family():
    assert len(FUSIONS) == 13
    expected = {
        "LateConcat", "EarlyConcat", "ModalityAttention", "CrossAttention", "GatedMultimodalUnit",
        "ElementwiseProduct", "BilinearFusion", "TensorFusion", "LowRankTensorFusion", "FiLM",
        "CrossModalTransformer", "GatedCrossAttention", "PerceiverResampler",
    }  # fmt: skip
    assert {c.__name__ for c in FUSIONS.values()} == expected
    for cls in FUSIONS.values():
        doc = " ".join((cls.__doc__ or "").split())
        assert "math" in doc and "(B, out_dim)" in doc and "Missing modality" in doc, cls


@pytest.mark.parametrize("dims", [DIMS2, DIMS3], ids=["2mod", "3mod"])
@pytest.mark.parametrize("name", NAMES)
def test_shape_and_gradient_flow(name, dims):
    f = build(name, dims)
    x = make_inputs(dims)
    y = f(x)
    assert y.shape == (B, OUT) and torch.isfinite(y).all()
    g = grads(f, x)
    for n, gr in g.items():
        if n.startswith("missing."):
            assert gr is None or not nonzero(gr), f"{name}: {n} got a gradient with nothing missing"
        else:
            assert nonzero(gr), f"{name}: parameter {n} gets no gradient"


@pytest.mark.parametrize("dims", [DIMS2, DIMS3], ids=["2mod", "3mod"])
@pytest.mark.parametrize("name", NAMES)
def test_one_modality_missing(name, dims):
    for missing in dims:
        f = build(name, dims)
        x = make_inputs(dims)
        absent = {m: v for m, v in x.items() if m != missing}
        as_none = {**absent, missing: None}
        y = f(absent)
        assert y.shape == (B, OUT) and torch.isfinite(y).all()
        torch.testing.assert_close(y, f(as_none))  # absent key == None value
        assert not torch.allclose(y, f(x)), f"{name}: dropping {missing} changed nothing"
        g = grads(f, absent)
        if f.uses_missing_embedding:
            assert nonzero(g[f"missing.{missing}"]), (
                f"{name}: missing embedding of {missing} gets no gradient"
            )
        others = [n for n in g if not n.startswith("missing.") and f".{missing}" not in n]
        assert any(nonzero(g[n]) for n in others)


def test_modality_attention_gives_zero_weight_to_a_missing_modality():
    f = ModalityAttention(DIMS3, OUT)
    x = make_inputs(DIMS3)
    f({**x, "audio": None})
    w = f.last_weights
    assert w.shape == (B, 3)
    torch.testing.assert_close(w[:, 1], torch.zeros(B))
    torch.testing.assert_close(w.sum(1), torch.ones(B))


def unregistered_tensors(module: nn.Module) -> list[str]:
    """Trainable tensors reachable from a module's attributes (lists, dicts too) but not in .parameters()."""
    registered = {id(p) for p in module.parameters()}
    found: list[str] = []

    def walk(obj, path, seen):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            if obj.requires_grad and id(obj) not in registered:
                found.append(path)
        elif isinstance(obj, nn.Module):
            for k, v in vars(obj).items():
                walk(v, f"{path}.{k}", seen)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path}[{k!r}]", seen)
        elif isinstance(obj, (list, tuple, set)):
            for i, v in enumerate(obj):
                walk(v, f"{path}[{i}]", seen)

    walk(module, "model", set())
    return found


def test_parameter_walk_catches_a_plain_list_of_parameters():
    class Buggy(nn.Module):  # the MultiBench pattern: factors kept in a plain Python list
        def __init__(self):
            super().__init__()
            self.factors = [nn.Parameter(torch.randn(3, 4))]
            self.ok = nn.Parameter(torch.randn(2))

    assert unregistered_tensors(Buggy()) == ["model.factors[0]"]


@pytest.mark.parametrize("dims", [DIMS2, DIMS3], ids=["2mod", "3mod"])
@pytest.mark.parametrize("name", NAMES)
def test_every_trainable_tensor_is_registered(name, dims):
    f = build(name, dims)
    f(make_inputs(dims))  # modules that create tensors lazily would do it here
    assert unregistered_tensors(f) == []


def test_low_rank_factors_are_parameters_and_get_trained():
    f = LowRankTensorFusion(DIMS3, OUT, rank=3)
    names = {n for n, _ in f.named_parameters()}
    assert {"factors.image", "factors.audio", "factors.text"} <= names
    before = f.factors["audio"].detach().clone()
    opt = torch.optim.SGD(f.parameters(), lr=0.1)
    f(make_inputs(DIMS3)).pow(2).mean().backward()
    opt.step()
    assert not torch.equal(before, f.factors["audio"])
    assert "factors.audio" in f.state_dict()


def test_low_rank_equals_tensor_fusion_with_the_rank_r_weight():
    """LMF never builds the outer product; it equals the full contraction with W = sum_r l_r (x)_m W_m^r."""
    torch.manual_seed(0)
    dims = {"a": 3, "b": 4, "c": 2}
    f = LowRankTensorFusion(dims, 5, rank=3).double()
    x = make_inputs(dims, dtype=torch.float64)
    ones = [torch.cat([torch.ones(B, 1, dtype=torch.float64), x[m].pooled], -1) for m in dims]
    z = torch.einsum("bi,bj,bk->bijk", *ones)  # (B, 4, 5, 3), the tensor-fusion tensor
    fa, fb, fc = (f.factors[m] for m in dims)
    w = torch.einsum("r,rio,rjo,rko->ijko", f.fusion_weights[0], fa, fb, fc)  # full weight tensor
    ref = torch.einsum("bijk,ijko->bo", z, w) + f.fusion_bias
    torch.testing.assert_close(f(x), ref)


def test_tensor_fusion_keeps_unimodal_terms():
    """Thanks to the appended 1, vec(Z) contains the constant and every h_m itself, not only products."""
    torch.manual_seed(0)
    f = TensorFusion(DIMS2, OUT, hidden=3)
    x = make_inputs(DIMS2)
    captured = {}
    f.out.register_forward_hook(lambda mod, inp, out: captured.setdefault("z", inp[0]))
    f(x)
    z = captured["z"].view(B, 4, 4)
    h_img = torch.relu(f.proj["image"](x["image"].pooled))
    h_aud = torch.relu(f.proj["audio"](x["audio"].pooled))
    torch.testing.assert_close(z[:, 0, 0], torch.ones(B))
    torch.testing.assert_close(z[:, 1:, 0], h_img)
    torch.testing.assert_close(z[:, 0, 1:], h_aud)
    torch.testing.assert_close(z[:, 1:, 1:], h_img[:, :, None] * h_aud[:, None, :])


def test_gmu_two_modalities_is_arevalo():
    torch.manual_seed(0)
    f = GatedMultimodalUnit(DIMS2, OUT)
    x = make_inputs(DIMS2)
    y = f(x)
    g = f.gate(torch.cat([x["image"].pooled, x["audio"].pooled], -1)).view(B, 2, OUT)
    z = torch.sigmoid(g[:, 0] - g[:, 1])
    h1 = torch.tanh(f.h["image"](x["image"].pooled))
    h2 = torch.tanh(f.h["audio"](x["audio"].pooled))
    torch.testing.assert_close(y, z * h1 + (1 - z) * h2)


def test_gated_cross_attention_is_identity_at_init():
    torch.manual_seed(0)
    f = GatedCrossAttention(DIMS3, OUT)
    x = make_inputs(DIMS3)
    y, ym = x["image"].tokens, x["image"].mask
    ctx = torch.randn(B, 7, 16)
    assert torch.equal(f.block(y, ym, ctx, torch.ones(B, 7, dtype=torch.bool)), y)
    # so the fused output ignores the context entirely...
    other = make_inputs(DIMS3, seed=5)
    torch.testing.assert_close(f(x), f({**x, "audio": other["audio"], "text": None}))
    torch.testing.assert_close(f(x), f.out(masked_mean(y, ym)))
    # ...and only the gates (and the read-out) receive a gradient at the first step
    g = grads(f, x)
    assert nonzero(g["gate_attn"]) and nonzero(g["gate_ff"])
    for n in g:
        if n.startswith(("attn.", "ff.", "norm_", "context.")):
            assert not nonzero(g[n]), n
    # once a gate opens, the context matters
    with torch.no_grad():
        f.gate_attn.fill_(1.0)
    assert not torch.allclose(f(x), f({**x, "audio": other["audio"]}))


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_a_seed(name):
    x = make_inputs(DIMS3)
    a, b, c = build(name, DIMS3, seed=3), build(name, DIMS3, seed=3), build(name, DIMS3, seed=4)
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    assert not torch.allclose(a(x), c(x))


@pytest.mark.parametrize("name", NAMES)
def test_rows_without_real_tokens_stay_finite(name):
    f = build(name, DIMS2)
    x = make_inputs(DIMS2)
    m = x["audio"].mask.clone()
    m[0] = False
    x["audio"] = EncoderOutput(x["audio"].tokens, m, masked_mean(x["audio"].tokens, m))
    assert torch.isfinite(f(x)).all()


@pytest.mark.parametrize("name", NAMES)
def test_errors_name_the_problem(name):
    f = build(name, DIMS2)
    x = make_inputs(DIMS2)
    with pytest.raises(ValueError, match="unknown modality.*video"):
        f({**x, "video": x["image"]})
    with pytest.raises(ValueError, match=r"inputs\['audio'\].*feature dim 12"):
        f({**x, "audio": make_inputs({"audio": 7})["audio"]})
    with pytest.raises(ValueError, match="batch size"):
        f({**x, "audio": make_inputs({"audio": 12}, batch=B + 1)["audio"]})
    with pytest.raises(ValueError, match="at least one"):
        f({"image": None})
    with pytest.raises(ValueError, match="EncoderOutput"):
        f({**x, "audio": x["audio"].tokens})
    with pytest.raises(ValueError, match="inputs must be a dict"):
        f([x["image"]])


def test_construction_errors():
    with pytest.raises(ValueError, match="name must be one of"):
        make_fusion("nope", DIMS2, OUT)
    with pytest.raises(ValueError, match="dims"):
        make_fusion("late_concat", {}, OUT)
    with pytest.raises(ValueError, match="dims"):
        make_fusion("late_concat", {"image": 0}, OUT)
    with pytest.raises(ValueError, match="out_dim"):
        make_fusion("late_concat", DIMS2, 0)
    with pytest.raises(ValueError, match="at least 2"):
        make_fusion("film", {"image": 8}, OUT)
    with pytest.raises(ValueError, match="target"):
        make_fusion("film", DIMS2, OUT, target="video")
    with pytest.raises(ValueError, match="divisible by heads"):
        make_fusion("gated_xattn", {"image": 15, "audio": 8}, OUT)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name):
    f = build(name, DIMS3)
    x = make_inputs(DIMS3)
    cuda = lambda d: {m: EncoderOutput(v.tokens.cuda(), v.mask.cuda(), v.pooled.cuda()) for m, v in d.items()}
    want, want_missing = f(x), f({**x, "audio": None})
    f = f.cuda()
    torch.testing.assert_close(f(cuda(x)).cpu(), want, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(f({**cuda(x), "audio": None}).cpu(), want_missing, rtol=1e-3, atol=1e-3)


def test_a_fusion_without_fuse_cannot_be_built():
    from mmtutorial.fusion.base import Fusion

    class Incomplete(Fusion):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete(dims={"image": 4}, out_dim=2)
