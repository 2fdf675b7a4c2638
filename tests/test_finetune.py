"""Fine-tuning tools: freezing, partial methods, LLRD, gradual unfreezing, WiSE-FT, LP-FT, data2vec."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmtutorial.encoders import ImageViT
from mmtutorial.encoders import pretrained as pt
from mmtutorial.finetune import (
    CollapseError,
    Data2VecViT,
    EMATeacher,
    GradualUnfreezing,
    bitfit,
    check_collapse,
    count_trainable,
    extract_features,
    feature_drift,
    fit_linear_probe,
    freeze,
    get_annealed_rate,
    head_only,
    layer_id,
    layer_targets,
    masked_regression_loss,
    param_groups_lrd,
    random_token_mask,
    set_trainable,
    top_k_blocks,
    trainable_names,
    unfreeze,
    wise_ft,
)


class TinyViT(nn.Module):
    """ImageViT (3 blocks) + a classifier head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = ImageViT(image_size=16, patch=8, dim=8, depth=3, heads=2)
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).pooled)


BLOCKS = "encoder.transformer.blocks"
EMBEDDINGS = ("encoder.patch_embedding", "encoder.cls", "encoder.position")


def test_old_names_still_import_from_encoders():
    from mmtutorial import encoders
    from mmtutorial.finetune import freezing

    assert pt.freeze is freezing.freeze is encoders.freeze
    assert pt.extract_features is freezing.extract_features is encoders.extract_features


def test_freeze_unfreeze_and_counts():
    m = TinyViT().train()
    total = sum(p.numel() for p in m.parameters())
    assert count_trainable(m) == total
    assert freeze(m) is m and not m.training and count_trainable(m) == 0
    assert unfreeze(m) is m and count_trainable(m) == total
    with pytest.raises(ValueError, match="nothing would train"):
        set_trainable(m, lambda name, p: False)


def test_partial_methods():
    m = TinyViT()
    assert head_only(m, "head") == 8 * 5 + 5
    assert trainable_names(m) == ["head.weight", "head.bias"]
    block = sum(p.numel() for p in m.encoder.transformer.blocks[2].parameters())
    assert top_k_blocks(m, BLOCKS, 1, head="head") == block + 45
    assert top_k_blocks(m, BLOCKS, 0, head="head") == 45
    top_k_blocks(m, BLOCKS, 2, head="head")
    names = trainable_names(m)
    assert any(n.startswith(BLOCKS + ".1.") for n in names) and not any(
        n.startswith(BLOCKS + ".0.") for n in names
    )
    n_bias = sum(p.numel() for n, p in m.named_parameters() if n.endswith("bias"))
    assert bitfit(m, head="head") == n_bias + 8 * 5
    assert all(n.endswith("bias") or n.startswith("head") for n in trainable_names(m))
    with pytest.raises(ValueError, match="k must"):
        top_k_blocks(m, BLOCKS, 4)


def test_llrd_rates_follow_the_formula():
    m = TinyViT()
    lr, decay, L = 1e-3, 0.5, 3
    groups = param_groups_lrd(m, lr, decay, BLOCKS, EMBEDDINGS, weight_decay=0.05)
    by_param = {id(p): g for g in groups for p in g["params"]}
    for name, p in m.named_parameters():
        g = by_param[id(p)]
        i = layer_id(name, BLOCKS, L, EMBEDDINGS)
        want_layer = (
            0 if name.startswith(EMBEDDINGS) else (int(name.split(".")[3]) + 1 if BLOCKS in name else L + 1)
        )
        assert i == want_layer == g["layer"], name
        assert g["lr"] == pytest.approx(lr * decay ** (L + 1 - i), rel=1e-12)
        assert g["weight_decay"] == (0.0 if p.ndim == 1 else 0.05)
    assert by_param[id(m.head.weight)]["lr"] == lr  # the head gets lr
    assert by_param[id(m.encoder.cls)]["lr"] == pytest.approx(lr * decay**4)  # embeddings: lr * decay^(L+1)
    assert (
        by_param[id(m.encoder.transformer.norm.weight)]["lr"] == lr
    )  # final norm sits with the head, as in MAE
    assert sum(len(g["params"]) for g in groups) == len(list(m.parameters()))
    opt = torch.optim.AdamW(groups)
    assert sorted({g["lr"] for g in opt.param_groups}) == sorted({lr * decay**k for k in range(5)})
    with pytest.raises(ValueError, match="layer_decay"):
        param_groups_lrd(m, lr, 1.5, BLOCKS)


def test_gradual_unfreezing_goes_top_down():
    m = TinyViT()
    groups = [BLOCKS + ".0", BLOCKS + ".1", BLOCKS + ".2", "head"]
    sched = GradualUnfreezing(m, groups, every=2)
    seen = []
    for epoch in range(9):
        n = sched.step(epoch)
        live = {g for g in groups if any(x.startswith(g + ".") for x in trainable_names(m))}
        seen.append(n)
        assert live == set(groups[len(groups) - n :])
    assert seen == [1, 1, 2, 2, 3, 3, 4, 4, 4]
    assert not m.encoder.cls.requires_grad  # in no group: stays frozen
    with pytest.raises(ValueError, match="names no parameter"):
        GradualUnfreezing(m, ["nope"])


def test_wise_ft_endpoints_and_errors():
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        b.weight.add_(torch.tensor([0.1, 0.2, 0.3]))
        b.running_mean.add_(1.0)
    za, fb = a.state_dict(), b.state_dict()
    assert all(torch.equal(wise_ft(za, fb, 0.0)[k], za[k]) for k in za)
    assert all(torch.equal(wise_ft(za, fb, 1)[k], fb[k]) for k in za)
    mid = wise_ft(za, fb, 0.25)
    assert torch.allclose(mid["weight"], 0.75 * za["weight"] + 0.25 * fb["weight"])
    assert torch.allclose(mid["running_mean"], torch.full((3,), 0.25))
    assert mid["num_batches_tracked"].dtype == torch.long
    for bad in (-0.1, 1.01, True, "0.5"):
        with pytest.raises(ValueError, match="alpha"):
            wise_ft(za, fb, bad)
    with pytest.raises(ValueError, match="same keys"):
        wise_ft(za, {k: v for k, v in fb.items() if k != "bias"}, 0.5)
    with pytest.raises(ValueError, match="num_batches_tracked"):
        wise_ft(za, {**fb, "num_batches_tracked": torch.tensor(7)}, 0.5)
    with pytest.raises(ValueError, match="shape"):
        wise_ft(za, {**fb, "weight": torch.ones(4)}, 0.5)


def test_linear_probe_and_drift():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    x = torch.randn(60, 5, generator=g) + 3 * nn.functional.one_hot(y, 5).float()
    head = fit_linear_probe(x, y, 3)
    assert (head(x).argmax(1) == y).float().mean() > 0.95
    head2 = fit_linear_probe(x, y, 3)
    assert torch.equal(head.weight, head2.weight)  # deterministic
    with pytest.raises(ValueError, match="labels"):
        fit_linear_probe(x, y.float(), 3)
    with pytest.raises(ValueError, match="labels must lie"):
        fit_linear_probe(x, y, 2)
    assert torch.allclose(feature_drift(x, x), torch.zeros(60))
    assert torch.allclose(feature_drift(x, 2 * x), torch.ones(60))


def test_extract_features_moved():
    from mmtutorial.encoders import ImageCNN

    torch.manual_seed(0)
    enc = ImageCNN(channels=(8,)).train()
    x = torch.rand(5, 3, 8, 8)
    f = extract_features(enc, [x[:2], x[2:]], disable=True)
    assert f.shape == (5, 8) and enc.training


def test_annealed_rate_and_ema_teacher_gets_no_gradients():
    assert get_annealed_rate(0.9, 0.99, 0, 10) == 0.9
    assert get_annealed_rate(0.9, 0.99, 5, 10) == pytest.approx(0.945)
    assert get_annealed_rate(0.9, 0.99, 10, 10) == get_annealed_rate(0.9, 0.99, 50, 10) == 0.99
    student = nn.Linear(4, 4)
    teacher = EMATeacher(student, 0.5, 0.5, anneal_steps=1)
    assert not any(p.requires_grad for p in teacher.parameters())
    t0 = teacher.model.weight.clone()
    with torch.no_grad():
        student.weight.add_(1.0)
    assert teacher.update(student) == 0.5
    assert torch.allclose(teacher.model.weight, 0.5 * t0 + 0.5 * student.weight)
    out = teacher(torch.randn(2, 4))
    assert not out.requires_grad


def test_layer_targets_and_mask():
    g = torch.Generator().manual_seed(0)
    hs = [torch.randn(2, 5, 6, generator=g) * (k + 1) + k for k in range(4)]
    t = layer_targets(hs, 2)
    ln = [nn.functional.layer_norm(h, (6,)) for h in hs[-2:]]
    assert torch.allclose(t, (ln[0] + ln[1]) / 2, atol=1e-6)
    ti = layer_targets(hs, 1, norm="instance")
    assert torch.allclose(ti.mean(1), torch.zeros(2, 6), atol=1e-5)  # each channel centred over time
    with pytest.raises(ValueError, match="top_k"):
        layer_targets(hs, 5)
    m = random_token_mask(3, 10, 0.4, torch.Generator().manual_seed(0))
    assert m.dtype == torch.bool and m.sum(1).tolist() == [4, 4, 4]
    pred = torch.zeros(3, 10, 6)
    assert masked_regression_loss(pred, torch.ones(3, 10, 6), m) == 1.0
    with pytest.raises(ValueError, match="mask"):
        masked_regression_loss(pred, pred, torch.zeros(3, 10, dtype=torch.bool))


def test_collapse_is_detected():
    varied = torch.randn(4, 8, 16, generator=torch.Generator().manual_seed(0))
    assert check_collapse(varied) > 0.5
    collapsed = varied[:, :1].expand(4, 8, 16) * 0 + varied[0, 0]  # every position the same vector
    with pytest.raises(CollapseError, match="collapsed"):
        check_collapse(collapsed)
    with pytest.raises(CollapseError, match="student"):
        check_collapse(varied, preds=collapsed)


def test_data2vec_step_teacher_gets_no_gradient_and_follows_the_student():
    torch.manual_seed(0)
    vit = ImageViT(image_size=16, patch=4, dim=16, depth=3, heads=2)
    d2v = Data2VecViT(vit, top_k=2, mask_ratio=0.5, decay_start=0.9, decay_end=0.99, anneal_steps=10)
    opt = torch.optim.AdamW([p for p in d2v.parameters() if p.requires_grad], lr=1e-3)
    x = torch.rand(4, 3, 16, 16)
    teacher_before = [p.clone() for p in d2v.teacher.parameters()]
    loss, stats = d2v.loss(x, torch.Generator().manual_seed(0))
    loss.backward()
    assert all(p.grad is None for p in d2v.teacher.parameters())
    assert all(not p.requires_grad for p in d2v.teacher.parameters())
    assert d2v.student.patch_embedding.proj.weight.grad is not None and d2v.mask_token.grad is not None
    assert stats["target_std"] > 0.1 and stats["tau"] == pytest.approx(0.9)
    opt.step()
    tau = d2v.update_teacher()
    for t0, t1, s in zip(teacher_before, d2v.teacher.parameters(), d2v.student.parameters(), strict=True):
        assert torch.allclose(t1, tau * t0 + (1 - tau) * s.detach(), atol=1e-6)
    with pytest.raises(ValueError, match="top_k"):
        Data2VecViT(vit, top_k=4)
