"""Corruptions, FGSM and PGD against retrieval, and missing modalities."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from mmtutorial.eval.robustness import (
    corrupt,
    corruption_curve,
    fgsm,
    pgd,
    retrieval_loss,
    retrieval_recall,
    with_missing,
)


def linear_retrieval(seed=0, n=12, eps_noise=0.02):
    """A fixed linear image encoder, a gallery of the embeddings of n prototype images, and noisy queries."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(16, 3 * 8 * 8, generator=g, dtype=torch.float64)

    def encode(x):
        return F.normalize(x.flatten(1) @ w.T, dim=-1)

    protos = torch.rand(n, 3, 8, 8, generator=g, dtype=torch.float64)
    gallery = encode(protos)
    queries = (protos + eps_noise * torch.randn(protos.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return encode, queries, gallery, torch.arange(n)


def test_fgsm_and_pgd_lower_recall():
    encode, x, gallery, t = linear_retrieval()
    clean = retrieval_recall(encode(x) @ gallery.T, t)
    assert clean == 1.0
    eps = 0.1  # 0.03 and 0.05 leave recall at 1.0 here; from 0.08 the attack wins
    x_fgsm = fgsm(encode, x, gallery, t, eps)
    x_pgd = pgd(encode, x, gallery, t, eps, steps=10)
    for adv in (x_fgsm, x_pgd):
        assert (adv - x).abs().max() <= eps + 1e-12 and adv.min() >= 0 and adv.max() <= 1
    fgsm_recall = retrieval_recall(encode(x_fgsm) @ gallery.T, t)
    pgd_recall = retrieval_recall(encode(x_pgd) @ gallery.T, t)
    assert fgsm_recall <= 0.25 < clean
    assert pgd_recall <= fgsm_recall
    loss = {
        k: float(retrieval_loss(encode, v, gallery, t))
        for k, v in (("clean", x), ("fgsm", x_fgsm), ("pgd", x_pgd))
    }
    assert loss["clean"] < loss["fgsm"] <= loss["pgd"]
    # random noise of the same size does far less than the attack
    noise = (x + eps * torch.randint(0, 2, x.shape, dtype=x.dtype).mul(2).sub(1)).clamp(0, 1)
    assert retrieval_recall(encode(noise) @ gallery.T, t) > fgsm_recall
    # eps = 0 changes nothing
    assert torch.equal(fgsm(encode, x, gallery, t, 0.0), x)


def test_fgsm_is_one_sign_step():
    encode, x, gallery, t = linear_retrieval(1)
    x_req = x.clone().requires_grad_(True)
    retrieval_loss(encode, x_req, gallery, t).backward()
    want = (x + 0.01 * x_req.grad.sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(encode, x, gallery, t, 0.01), want)


def test_attack_inputs_checked():
    encode, x, gallery, t = linear_retrieval()
    with pytest.raises(ValueError, match="targets"):
        fgsm(encode, x, gallery, t + 100, 0.1)
    with pytest.raises(ValueError, match="eps"):
        pgd(encode, x, gallery, t, -0.1)
    with pytest.raises(ValueError, match="targets"):
        fgsm(encode, x, gallery, t.int(), 0.1)


def test_retrieval_recall_by_hand():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.2, 0.1], [0.0, 0.3, 0.4]])
    targets = torch.tensor([0, 1, 1])
    assert retrieval_recall(scores, targets, 1) == pytest.approx(1 / 3)  # row 1: a tie, index 0 wins
    assert retrieval_recall(scores, targets, 2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k=4"):
        retrieval_recall(scores, targets, 4)
    with pytest.raises(ValueError, match="targets must index"):
        retrieval_recall(scores, torch.tensor([0, 1, 3]), 1)


def test_corruptions():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 16, 16, generator=g)
    assert corrupt(x, "noise", 0.0) is x
    noisy = corrupt(x, "noise", 0.1, seed=3)
    assert torch.equal(noisy, corrupt(x, "noise", 0.1, seed=3)) and noisy.min() >= 0 and noisy.max() <= 1
    inner = (x > 0.3) & (x < 0.7)  # far from the clip: the noise is Gaussian with std 0.1
    assert (noisy - x)[inner].std().item() == pytest.approx(0.1, rel=0.1)
    blurred = corrupt(x, "blur", 1.5)
    torch.testing.assert_close(blurred, v2.GaussianBlur(kernel_size=11, sigma=1.5)(x))
    assert blurred.std() < x.std()  # blur smooths
    flat = torch.full((1, 3, 16, 16), 0.25)
    torch.testing.assert_close(corrupt(flat, "blur", 2.0), flat)  # and keeps a constant image
    with pytest.raises(ValueError, match="kind"):
        corrupt(x, "snow", 0.1)
    with pytest.raises(ValueError, match="level"):
        corrupt(x, "blur", -1.0)


def test_corruption_curve_falls_for_a_noise_sensitive_model():
    # the "model" reads the mean brightness of the image: noise clipped at 0 brightens dark images
    x = torch.cat([torch.full((50, 1, 8, 8), 0.05), torch.full((50, 1, 8, 8), 0.6)])
    y = torch.cat([torch.zeros(50), torch.ones(50)]).long()

    def predict(imgs):
        m = imgs.mean((1, 2, 3))
        return torch.stack([0.3 - m, m - 0.3], 1)

    acc = corruption_curve(predict, x, y, "noise", [0.0, 0.3, 1.0])
    assert acc[0] == 1.0 and acc[2] < acc[0]
    with pytest.raises(ValueError, match="labels"):
        corruption_curve(predict, x, y[:3], "noise", [0.0])


def test_with_missing():
    inputs = {"image": 1, "audio": 2, "text": 3}
    assert with_missing(inputs, ["audio"]) == {"image": 1, "audio": None, "text": 3}
    assert inputs["audio"] == 2  # a copy
    with pytest.raises(ValueError, match="missing entry"):
        with_missing(inputs, ["video"])
    with pytest.raises(ValueError, match="at least one"):
        with_missing(inputs, ["image", "audio", "text"])
