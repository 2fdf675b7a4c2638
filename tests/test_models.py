"""TwoTowerCLIP: shapes, normalisation, clamped learnable scale, loss decreases when trained."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mmtutorial.encoders import EncoderOutput, ImageCNN
from mmtutorial.models import TwoTowerCLIP


class BagOfWords(nn.Module):
    """Tiny text tower: embeddings averaged over the real tokens."""

    def __init__(self, vocab: int, dim: int = 16):
        super().__init__()
        self.emb, self.dim = nn.Embedding(vocab, dim), dim

    def forward(self, input_ids, attention_mask):
        t = self.emb(input_ids)
        w = attention_mask.float().unsqueeze(-1)
        return EncoderOutput(t, attention_mask, (t * w).sum(1) / w.sum(1).clamp_min(1))


def model():
    torch.manual_seed(0)
    return TwoTowerCLIP(ImageCNN(channels=(8, 16)), BagOfWords(10), embed_dim=12)


def batch(n=6):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 10, (n, 4), generator=g)
    return torch.rand(n, 3, 8, 8, generator=g), {
        "input_ids": ids,
        "attention_mask": torch.ones(n, 4, dtype=torch.bool),
    }


def test_embeddings_are_normalised_with_the_right_shape():
    m = model()
    img, txt = batch()
    za, zb, s = m(img, txt)
    assert za.shape == zb.shape == (6, 12)
    torch.testing.assert_close(za.norm(dim=1), torch.ones(6))
    torch.testing.assert_close(zb.norm(dim=1), torch.ones(6))
    assert s.shape == () and s.item() == pytest.approx(1 / 0.07, rel=1e-5)


def test_logit_scale_is_clamped_at_100_and_learnable_below():
    m = model()
    with torch.no_grad():
        m.log_scale.fill_(math.log(500.0))
    assert m.logit_scale.item() == pytest.approx(100.0, rel=1e-6)
    m.logit_scale.backward()
    assert m.log_scale.grad.item() == 0.0  # as CLIP: no push beyond the clamp
    m.log_scale.grad = None
    with torch.no_grad():
        m.log_scale.fill_(math.log(10.0))
    m.logit_scale.backward()
    assert m.log_scale.grad.item() == pytest.approx(10.0, rel=1e-5)


def test_training_lowers_the_loss():
    m = model()
    img, txt = batch(8)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = m.loss(img, txt).item()
    for _ in range(30):
        opt.zero_grad()
        loss = m.loss(img, txt)
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_bad_construction_is_a_value_error():
    with pytest.raises(ValueError, match="dim_a and dim_b"):
        TwoTowerCLIP(nn.Identity(), nn.Identity())
    with pytest.raises(ValueError, match="embed_dim must be positive"):
        TwoTowerCLIP(ImageCNN(), BagOfWords(3), embed_dim=0)
    m = TwoTowerCLIP(nn.Identity(), nn.Identity(), dim_a=3, dim_b=3)
    with pytest.raises(ValueError, match="must return EncoderOutput"):
        m.encode_a(torch.zeros(2, 3))
