"""LoRA / DoRA from scratch: exact at B = 0, equal to PEFT's LoraModel on the same weights, merges."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from peft import LoraConfig, LoraModel
from torch import nn

from mmtutorial.finetune import (
    DoRALinear,
    LoRALinear,
    apply_lora,
    count_trainable,
    lora_layers,
    lora_state_dict,
    merge_lora,
    pointwise_convs_to_linear,
    unmerge_lora,
)


class Toy(nn.Module):
    """Two Linears to adapt (sizes not multiples of anything) and a head left alone."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(13, 7)
        self.v = nn.Linear(7, 11, bias=False)
        self.head = nn.Linear(11, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.v(torch.tanh(self.q(x)))))


def _toy(seed: int = 0) -> Toy:
    torch.manual_seed(seed)
    return Toy()


def test_zero_b_is_exactly_the_base():
    base = nn.Linear(13, 7)
    x = torch.randn(5, 4, 13)
    want = base(x)
    layer = LoRALinear(copy.deepcopy(base), r=3, alpha=6.0)
    assert torch.equal(layer(x), want)  # B = 0: bit-identical, not merely close
    assert torch.count_nonzero(layer.lora_B.weight) == 0 and torch.count_nonzero(layer.lora_A.weight) > 0
    assert layer.scaling == 2.0
    assert LoRALinear(nn.Linear(13, 7), r=4, alpha=6.0, rslora=True).scaling == 3.0  # alpha / sqrt(r)
    dora = DoRALinear(copy.deepcopy(base), r=3, alpha=6.0)
    assert torch.allclose(dora(x), want, atol=1e-6)
    assert torch.allclose(dora.magnitude, base.weight.norm(dim=1))


@pytest.mark.parametrize("r", [1, 4])
@pytest.mark.parametrize("dora", [False, True])
def test_trainable_parameters_are_r_times_in_plus_out(r, dora):
    model = _toy()
    names = apply_lora(model, ["q", "v"], r=r, alpha=8.0, dora=dora)
    assert names == ["q", "v"]
    per_layer = [r * (13 + 7), r * (7 + 11)]
    extra = (7 + 11) if dora else 0  # DoRA: one magnitude per output row
    assert count_trainable(model) == sum(per_layer) + extra
    for layer, n in zip(lora_layers(model), per_layer, strict=True):
        assert sum(p.numel() for n_, p in layer.named_parameters() if "lora_" in n_) == n
        assert not any(p.requires_grad for p in layer.base.parameters())
    assert not any(p.requires_grad for p in model.head.parameters())


def _peft_twin(ours: nn.Module, reference: nn.Module, rslora: bool, dora: bool, r: int, alpha: float):
    """A PEFT LoraModel on the same base weights, its adapters copied from ours."""
    cfg = LoraConfig(r=r, lora_alpha=alpha, target_modules=["q", "v"], use_rslora=rslora, use_dora=dora)
    peft_model = LoraModel(reference, cfg, "default")
    with torch.no_grad():
        for name in ("q", "v"):
            mine = getattr(ours, name)
            theirs = getattr(peft_model.model, name)
            theirs.lora_A["default"].weight.copy_(mine.lora_A.weight)
            theirs.lora_B["default"].weight.copy_(mine.lora_B.weight)
            if dora:
                theirs.lora_magnitude_vector["default"].weight.copy_(mine.magnitude)
    return peft_model


@pytest.mark.parametrize("rslora", [False, True])
@pytest.mark.parametrize("dora", [False, True])
def test_equals_peft_on_the_same_weights(rslora, dora):
    r, alpha = 4, 8.0
    reference = _toy()
    ours = copy.deepcopy(reference)
    apply_lora(ours, ["q", "v"], r=r, alpha=alpha, rslora=rslora, dora=dora)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in lora_layers(ours):
            layer.lora_B.weight.copy_(torch.randn(layer.lora_B.weight.shape, generator=g))
            if dora:
                layer.magnitude.mul_(1 + 0.3 * torch.rand(layer.magnitude.shape, generator=g))
    peft_model = _peft_twin(ours, reference, rslora, dora, r, alpha)
    assert (
        peft_model.model.q.scaling["default"]
        == ours.q.scaling
        == (alpha / math.sqrt(r) if rslora else alpha / r)
    )
    x = torch.randn(6, 13, generator=g)
    ours.eval(), peft_model.eval()
    y_ours, y_peft = ours(x), peft_model(x)
    assert not torch.allclose(y_ours, _toy()(x), atol=1e-3)  # the adapters really change the output
    assert torch.allclose(y_ours, y_peft, atol=1e-6, rtol=0)
    # same gradients for the adapter weights
    y_ours.square().sum().backward()
    y_peft.square().sum().backward()
    for name in ("q", "v"):
        mine, theirs = getattr(ours, name), getattr(peft_model.model, name)
        for a, b in ((mine.lora_A, theirs.lora_A["default"]), (mine.lora_B, theirs.lora_B["default"])):
            assert torch.allclose(a.weight.grad, b.weight.grad, atol=1e-5, rtol=1e-5)
        if dora:
            g_peft = theirs.lora_magnitude_vector["default"].weight.grad
            assert torch.allclose(mine.magnitude.grad, g_peft, atol=1e-5, rtol=1e-5)
    # the same trainable parameter count as PEFT
    assert count_trainable(ours) == sum(p.numel() for p in peft_model.parameters() if p.requires_grad)


@pytest.mark.parametrize("dora", [False, True])
def test_merge_unmerge_round_trip(dora):
    torch.manual_seed(0)
    base = nn.Linear(13, 7)
    w0 = base.weight.detach().clone()
    layer = (DoRALinear if dora else LoRALinear)(base, r=3, alpha=5.0)
    with torch.no_grad():
        layer.lora_B.weight.normal_()
        if dora:
            layer.magnitude.mul_(1.5)
    x = torch.randn(4, 13)
    y = layer(x)
    layer.merge()
    assert layer.merged and not torch.allclose(layer.base.weight, w0, atol=1e-3)
    assert torch.allclose(layer(x), y, atol=1e-5)  # merged forward = unmerged forward
    layer.unmerge()
    assert not layer.merged
    assert torch.allclose(layer.base.weight, w0, atol=1e-6, rtol=0)
    assert torch.allclose(layer(x), y, atol=1e-6)
    with pytest.raises(ValueError, match="not merged"):
        layer.unmerge()
    layer.merge()
    with pytest.raises(ValueError, match="already merged"):
        layer.merge()


def test_model_merge_and_adapter_state_dict():
    model = _toy()
    apply_lora(model, lambda name, m: m.out_features == 7, r=2, alpha=4.0, trainable=["head"])
    assert isinstance(model.q, LoRALinear) and not isinstance(model.v, LoRALinear)
    assert model.head.weight.requires_grad  # the new head trains beside the adapters (modules_to_save)
    with torch.no_grad():
        model.q.lora_B.weight.normal_()
    sd = lora_state_dict(model)
    assert sorted(sd) == ["q.lora_A.weight", "q.lora_B.weight"]
    assert sorted(lora_state_dict(model, extra=["head"])) == [
        "head.bias",
        "head.weight",
        "q.lora_A.weight",
        "q.lora_B.weight",
    ]
    # loading the adapter file into a fresh LoRA model reproduces the outputs
    fresh = _toy()
    apply_lora(fresh, lambda name, m: m.out_features == 7, r=2, alpha=4.0)
    missing, unexpected = fresh.load_state_dict(sd, strict=False)
    assert not unexpected and all("lora_" not in k for k in missing)
    x = torch.randn(3, 13)
    assert torch.allclose(fresh(x), model(x), atol=1e-6)
    y = model(x)
    merge_lora(model)
    assert torch.allclose(model(x), y, atol=1e-5)
    unmerge_lora(model)
    assert torch.allclose(model(x), y, atol=1e-6)


def test_pointwise_conv_as_linear_takes_lora():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(5, 6, 1), nn.ReLU(), nn.Conv2d(6, 4, 3, padding=1), nn.Conv2d(4, 3, 1, bias=False)
    )
    x = torch.randn(2, 5, 6, 7)
    want = net(x)
    names = pointwise_convs_to_linear(net)
    assert names == ["0", "3"]  # the 3x3 conv is left alone
    assert torch.allclose(net(x), want, atol=1e-6)
    wrapped = apply_lora(net, ["linear"], r=2, alpha=2.0)
    assert wrapped == ["0.linear", "3.linear"]
    assert count_trainable(net) == 2 * (5 + 6) + 2 * (4 + 3)
    assert torch.equal(net(x), net(x)) and torch.allclose(net(x), want, atol=1e-6)


def test_lora_errors():
    with pytest.raises(ValueError, match="base"):
        LoRALinear(nn.Conv2d(3, 3, 1), r=2, alpha=2.0)
    with pytest.raises(ValueError, match="r must"):
        LoRALinear(nn.Linear(3, 3), r=0, alpha=2.0)
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(3, 3), r=2, alpha=0.0)
    with pytest.raises(ValueError, match="dropout"):
        LoRALinear(nn.Linear(3, 3), r=2, alpha=1.0, dropout=1.0)
    with pytest.raises(ValueError, match="matched no"):
        apply_lora(_toy(), ["nothing"], r=2, alpha=2.0)
    with pytest.raises(ValueError, match="no LoRA"):
        lora_state_dict(_toy())
