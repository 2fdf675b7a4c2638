"""Zero-shot classification the way CLIP and open_clip build it: classes become text prompts.

For every class ``c`` and template ``t`` (e.g. ``"a photo of a {}."``) the text encoder embeds ``t(c)``;
each prompt embedding is L2-normalised, the prompts of one class are averaged, and the mean is normalised
again (open_clip's ``build_zero_shot_classifier``):

    w_c = normalize( mean_t normalize( f_text(t(c)) ) )                         (C, D)

A query ``x`` (an image, a sound, another text) is then classified by cosine similarity:
``argmax_c <normalize(f(x)), w_c>``. No training example of any class is needed, only its name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from mmtutorial._validate import check_tensor
from mmtutorial.types import EncoderOutput

Template = str | Callable[[str], str]


def fill_template(template: Template, classname: str) -> str:
    """``"a photo of a {}."`` -> ``"a photo of a dog."``; a callable template is called with the name."""
    if callable(template):
        text = template(classname)
    elif isinstance(template, str) and template.count("{}") == 1:
        text = template.format(classname)
    else:
        raise ValueError(f"template must be a str with exactly one '{{}}' or a callable, got {template!r}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"template {template!r} must give a non-empty str for {classname!r}, got {text!r}")
    return text


def _embed(encode_text: Callable, texts: list[str]) -> torch.Tensor:
    out = encode_text(texts)
    if isinstance(out, EncoderOutput):
        out = out.pooled
    check_tensor("encode_text(texts)", out, shape=(len(texts), None), floating=True, finite=True)
    return out.detach().float()


@torch.no_grad()
def build_zero_shot_classifier(
    encode_text: Callable[[list[str]], torch.Tensor | EncoderOutput],
    classnames: Sequence[str],
    templates: Sequence[Template],
) -> torch.Tensor:
    """Class embeddings ``(C, D)``, one unit vector per class name, averaged over ``templates``.

    ``encode_text(list_of_C_times_T_strings)`` returns ``(B, D)`` embeddings (or an ``EncoderOutput``, whose
    ``pooled`` is used). Row ``c`` is ``normalize(mean_t normalize(encode_text(t(classnames[c]))))``.
    """
    if isinstance(classnames, str) or not classnames:
        raise ValueError(f"classnames must be a non-empty sequence of str, got {classnames!r}")
    if isinstance(templates, str) or not templates:
        raise ValueError(f"templates must be a non-empty sequence of templates, got {templates!r}")
    if len(set(classnames)) != len(classnames):
        raise ValueError(f"classnames must not repeat a name, got {list(classnames)}")
    texts = [fill_template(t, c) for c in classnames for t in templates]  # class-major: C blocks of T
    emb = F.normalize(_embed(encode_text, texts), dim=-1)  # (C*T, D)
    emb = emb.view(len(classnames), len(templates), -1).mean(dim=1)  # (C, D)
    return F.normalize(emb, dim=-1)


def zero_shot_logits(features: torch.Tensor, classifier: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Cosine similarity of each query to each class, times ``scale``: ``(N, D), (C, D) -> (N, C)``.

    ``features`` are normalised here; ``classifier`` rows should already be unit vectors (as built by
    :func:`build_zero_shot_classifier`). CLIP multiplies by its learned logit scale (~100) before a softmax.
    """
    check_tensor("features", features, ndim=2, floating=True, finite=True)
    check_tensor("classifier", classifier, shape=(None, features.shape[1]), floating=True, finite=True)
    if len(classifier) == 0:
        raise ValueError("classifier must hold at least one class, got 0 rows")
    return scale * F.normalize(features.float(), dim=-1) @ classifier.float().T


def zero_shot_accuracy(features: torch.Tensor, classifier: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of the zero-shot guess ``argmax_c`` of :func:`zero_shot_logits`; labels ``(N,)``."""
    logits = zero_shot_logits(features, classifier)
    check_tensor("labels", labels, shape=(len(features),))
    if len(labels) == 0:
        raise ValueError("labels must hold at least one label, got an empty tensor")
    if labels.is_floating_point() or int(labels.min()) < 0 or int(labels.max()) >= len(classifier):
        raise ValueError(f"labels must be integer class ids in [0, {len(classifier)}), got {labels}")
    return float((logits.argmax(dim=1) == labels).float().mean())
