"""Zero-shot classifier: the prompt ensemble against a direct, one-text-at-a-time computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmtutorial.eval import build_zero_shot_classifier, fill_template, zero_shot_accuracy, zero_shot_logits
from mmtutorial.types import EncoderOutput


class FakeTextEncoder:
    """A fixed random vector per distinct text, with very different norms (so normalisation matters)."""

    def __init__(self, dim: int = 6, seed: int = 0) -> None:
        self.dim, self.g, self.table = dim, torch.Generator().manual_seed(seed), {}
        self.calls = 0

    def vector(self, text: str) -> torch.Tensor:
        if text not in self.table:
            v = torch.randn(self.dim, generator=self.g, dtype=torch.float64)
            self.table[text] = v * 10 ** float(torch.randint(-2, 3, (1,), generator=self.g))
        return self.table[text]

    def __call__(self, texts: list[str]) -> torch.Tensor:
        self.calls += 1
        return torch.stack([self.vector(t) for t in texts])


CLASSES = ["cat", "dog", "red star"]
TEMPLATES = ["a photo of a {}.", "{}", lambda c: f"a drawing of the {c}"]


def test_ensemble_matches_direct_computation():
    enc = FakeTextEncoder()
    weights = build_zero_shot_classifier(enc, CLASSES, TEMPLATES)
    assert weights.shape == (3, 6) and enc.calls == 1
    for c, name in enumerate(CLASSES):
        per_template = [F.normalize(enc.vector(fill_template(t, name)), dim=0) for t in TEMPLATES]
        direct = F.normalize(torch.stack(per_template).mean(0), dim=0)
        torch.testing.assert_close(weights[c], direct.float())
    torch.testing.assert_close(weights.norm(dim=1), torch.ones(3))


def test_each_prompt_is_normalised_before_averaging():
    enc = FakeTextEncoder(seed=1)
    weights = build_zero_shot_classifier(enc, CLASSES, TEMPLATES)
    raw_mean = torch.stack(
        [
            F.normalize(torch.stack([enc.vector(fill_template(t, c)) for t in TEMPLATES]).mean(0), dim=0)
            for c in CLASSES
        ]
    )
    # prompt norms span 10^-2..10^2: a raw average lets one prompt dominate; the builder differs
    assert (weights - raw_mean.float()).abs().max() > 0.05


def test_single_template_is_the_normalised_prompt_and_encoder_output_is_accepted():
    enc = FakeTextEncoder(seed=2)

    def as_output(texts):
        pooled = enc(texts).float()
        return EncoderOutput(pooled[:, None, :], torch.ones(len(texts), 1, dtype=torch.bool), pooled)

    weights = build_zero_shot_classifier(as_output, CLASSES, ["an image of {}"])
    for c, name in enumerate(CLASSES):
        torch.testing.assert_close(weights[c], F.normalize(enc.vector(f"an image of {name}").float(), dim=0))


def test_logits_and_accuracy():
    classifier = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]), dim=-1)
    feats = torch.tensor([[3.0, 0.1], [0.2, 5.0], [-1.0, -2.0], [1.0, 0.9]])
    logits = zero_shot_logits(feats, classifier, scale=100.0)
    torch.testing.assert_close(logits, 100 * F.cosine_similarity(feats[:, None], classifier[None], dim=-1))
    assert zero_shot_accuracy(feats, classifier, torch.tensor([0, 1, 2, 1])) == pytest.approx(0.75)


def test_errors():
    enc = FakeTextEncoder()
    with pytest.raises(ValueError, match="template must be a str with exactly one"):
        build_zero_shot_classifier(enc, CLASSES, ["no slot"])
    with pytest.raises(ValueError, match="classnames must not repeat"):
        build_zero_shot_classifier(enc, ["a", "a"], TEMPLATES)
    with pytest.raises(ValueError, match="classnames must be a non-empty"):
        build_zero_shot_classifier(enc, "cat", TEMPLATES)
    with pytest.raises(ValueError, match="templates must be a non-empty"):
        build_zero_shot_classifier(enc, CLASSES, [])
    with pytest.raises(ValueError, match=r"encode_text\(texts\) must have shape"):
        build_zero_shot_classifier(lambda texts: torch.zeros(len(texts) + 1, 3), CLASSES, TEMPLATES)
    with pytest.raises(ValueError, match="classifier must have shape"):
        zero_shot_logits(torch.randn(2, 3), torch.randn(4, 5))
    with pytest.raises(ValueError, match="labels must be integer class ids"):
        zero_shot_accuracy(torch.randn(2, 3), torch.randn(4, 3), torch.tensor([0, 4]))
