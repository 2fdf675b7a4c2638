"""Models: TwoTowerCLIP (shapes, normalisation, clamped scale, no loss inside, trains), the classifiers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mmtutorial.encoders import EncoderOutput, ImageCNN
from mmtutorial.losses import clip_loss
from mmtutorial.models import FusionClassifier, TwoTowerCLIP, UnimodalMLP


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
    first = clip_loss(*m(img, txt)).item()
    for _ in range(30):
        opt.zero_grad()
        loss = clip_loss(*m(img, txt))
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


def test_the_model_holds_no_loss():
    """As open_clip: the loss is chosen by the caller; the model module imports no loss."""
    import ast
    import inspect

    import mmtutorial.models.clip as clip_module

    assert not hasattr(TwoTowerCLIP, "loss")
    tree = ast.parse(inspect.getsource(clip_module))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not any("losses" in (m or "") for m in imported)


def test_classifiers_give_logits_and_name_a_missing_modality():
    from mmtutorial.fusion import make_fusion

    g = torch.Generator().manual_seed(0)
    inputs = {
        m: EncoderOutput(
            t := torch.randn(5, 3, d, generator=g), torch.ones(5, 3, dtype=torch.bool), t.mean(1)
        )
        for m, d in (("image", 8), ("audio", 6))
    }
    fc = FusionClassifier(make_fusion("late_concat", {"image": 8, "audio": 6}, 16), n_classes=4)
    assert fc(inputs).shape == (5, 4)
    uni = UnimodalMLP("audio", 6, n_classes=3)
    assert uni(inputs).shape == (5, 3)
    with pytest.raises(ValueError, match="'audio'.*missing"):
        uni({"image": inputs["image"], "audio": None})
