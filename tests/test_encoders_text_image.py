"""Text and image encoders: shapes, masks, padding invariance, tokenizer round trip, input errors."""

import pytest
import torch

from mmtutorial.encoders import (
    EncoderOutput,
    ImageCNN,
    ImageViT,
    TextTokenizer,
    TextTransformer,
    count_parameters,
    train_caption_tokenizer,
)

CAPTIONS = [
    "a large red circle left of a small blue star",
    "a small green square",
    "two yellow triangles moving up",
    "a purple cross right of an orange star",
    "a blue circle",
]


@pytest.fixture(scope="module")
def tok():
    return TextTokenizer.train(CAPTIONS * 3, vocab_size=120, max_length=16)


def test_tokenizer_special_ids_and_padding(tok):
    assert (tok.pad_id, tok.unk_id, tok.cls_id) == (0, 1, 2)
    assert tok.tokenize("A Red Circle") == ["a", "red", "circle"]  # lower-cased, whole words
    batch = tok(["a red star", CAPTIONS[0]])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.dtype == torch.long and mask.dtype == torch.bool
    assert ids.shape == mask.shape == (2, 10)
    assert mask.sum(1).tolist() == [3, 10]
    assert (ids[~mask] == tok.pad_id).all()
    assert tok.decode(ids[0, :3].tolist()) == "a red star"
    assert tok(["a red star"], pad_to=12)["input_ids"].shape == (1, 12)
    # unseen characters become [UNK] instead of failing
    assert tok.unk_id in tok(["a red zebra"])["input_ids"][0].tolist()


def test_tokenizer_truncates_and_validates(tok):
    long = " ".join(["red"] * 40)
    assert tok([long])["input_ids"].shape == (1, 16)
    with pytest.raises(ValueError, match="texts"):
        tok([])
    with pytest.raises(ValueError, match="texts"):
        tok([1, 2])
    with pytest.raises(ValueError, match="pad_to"):
        tok([CAPTIONS[0]], pad_to=3)


def test_tokenizer_save_load_roundtrip(tok, tmp_path):
    path = tmp_path / "tok.json"
    tok.save(path)
    again = TextTokenizer.load(path, max_length=16)
    a, b = tok(CAPTIONS), again(CAPTIONS)
    assert torch.equal(a["input_ids"], b["input_ids"])
    assert again.vocab_size == tok.vocab_size


def test_train_caption_tokenizer_vocab_size():
    t = train_caption_tokenizer(CAPTIONS, vocab_size=60)
    assert t.get_vocab_size() <= 60
    assert t.token_to_id("[CLS]") == 2


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("batch", [1, 3])
def test_text_transformer_shapes(tok, pooling, batch):
    torch.manual_seed(0)
    enc = TextTransformer(tok.vocab_size, dim=32, depth=2, heads=4, max_length=16, pooling=pooling).eval()
    out = enc(**tok(CAPTIONS[:batch]))
    assert isinstance(out, EncoderOutput)
    t = tok(CAPTIONS[:batch])["input_ids"].shape[1]
    assert out.tokens.shape == (batch, t + 1, 32)
    assert out.mask.shape == (batch, t + 1) and out.mask[:, 0].all()
    assert out.pooled.shape == (batch, 32)
    assert torch.isfinite(out.tokens).all()


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("pad_to", [8, 16])
def test_text_padding_does_not_change_pooled(tok, pooling, pad_to):
    torch.manual_seed(0)
    enc = TextTransformer(tok.vocab_size, dim=32, depth=2, heads=4, max_length=16, pooling=pooling).eval()
    alone = enc(**tok(["a blue circle"]))
    padded = enc(**tok(["a blue circle"], pad_to=pad_to))
    in_batch = enc(**tok(["a blue circle", CAPTIONS[0]]))  # padded by the longer caption
    assert torch.allclose(alone.pooled, padded.pooled, atol=1e-5)
    assert torch.allclose(alone.pooled[0], in_batch.pooled[0], atol=1e-5)
    n = alone.tokens.shape[1]
    assert torch.allclose(alone.tokens, padded.tokens[:, :n], atol=1e-5)


def test_text_padding_matters_without_mask(tok):
    """The check above can fail: without the mask, padding tokens DO change the output."""
    torch.manual_seed(0)
    enc = TextTransformer(tok.vocab_size, dim=32, depth=2, heads=4, max_length=16, pooling="cls").eval()
    b = tok(["a blue circle"], pad_to=12)
    masked = enc(**b).pooled
    unmasked = enc(b["input_ids"]).pooled
    assert not torch.allclose(masked, unmasked, atol=1e-3)


def test_text_transformer_errors(tok):
    enc = TextTransformer(tok.vocab_size, dim=32, max_length=16)
    with pytest.raises(ValueError, match="input_ids"):
        enc(torch.zeros(2, 5))  # float ids
    with pytest.raises(ValueError, match="input_ids"):
        enc(torch.zeros(5, dtype=torch.long))  # 1-D
    with pytest.raises(ValueError, match="max_length"):
        enc(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="input_ids"):
        enc(torch.full((1, 3), tok.vocab_size, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask"):
        enc(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 3))  # float mask
    with pytest.raises(ValueError, match="pooling"):
        TextTransformer(10, pooling="max")
    with pytest.raises(ValueError, match="divisible"):
        TextTransformer(10, dim=30, heads=4)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("size", [32, 48])
def test_image_cnn_shapes(batch, size):
    enc = ImageCNN(channels=(8, 16, 32)).eval()
    out = enc(torch.rand(batch, 3, size, size))
    s = size // 8
    assert out.tokens.shape == (batch, s * s, 32)
    assert out.mask.all() and out.pooled.shape == (batch, 32)
    assert torch.allclose(out.pooled, out.tokens.mean(1))
    assert ImageCNN(channels=(8, 16), dim=24).eval()(torch.rand(batch, 3, size, size)).tokens.shape[-1] == 24


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("batch", [1, 3])
def test_image_vit_shapes(pooling, batch):
    enc = ImageViT(image_size=32, patch=8, dim=32, depth=1, heads=4, pooling=pooling).eval()
    out = enc(torch.rand(batch, 3, 32, 32))
    assert out.tokens.shape == (batch, 1 + 16, 32)
    assert out.mask.shape == (batch, 17) and out.mask.all()
    expect = out.tokens[:, 0] if pooling == "cls" else out.tokens.mean(1)
    assert torch.allclose(out.pooled, expect)


def test_image_encoders_are_per_sample_in_eval():
    """In eval mode a sample's embedding does not depend on the rest of the batch."""
    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 32)
    for enc in (ImageCNN(channels=(8, 16)).eval(), ImageViT(image_size=32, patch=8, dim=32, depth=1).eval()):
        assert torch.allclose(enc(x).pooled[1:2], enc(x[1:2]).pooled, atol=1e-5)


def test_image_errors():
    cnn, vit = ImageCNN(channels=(8, 16)), ImageViT(image_size=32, patch=8, dim=32, depth=1)
    with pytest.raises(ValueError, match="images"):
        cnn(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="images"):
        cnn(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="images"):
        cnn(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="images"):
        vit(torch.rand(1, 3, 48, 48))
    with pytest.raises(ValueError, match="divisible"):
        ImageViT(image_size=30, patch=8)


def test_count_parameters():
    enc = ImageCNN(channels=(8,))
    # conv 3->8 (3*3*3*8) + BN(2*8) + conv 8->8 (3*3*8*8) + BN(2*8)
    assert count_parameters(enc) == 216 + 16 + 576 + 16
    for p in enc.features[0][0].parameters():
        p.requires_grad_(False)
    assert count_parameters(enc, trainable_only=True) == 16 + 576 + 16


def test_tokenizer_training_gives_the_same_ids_in_every_process():
    # The HF trainer breaks ties in hash-map order, which is seeded per process: compare three processes.
    import subprocess
    import sys

    code = (
        "from mmtutorial.data import ShapesWorld, WorldConfig\n"
        "from mmtutorial.encoders.text import train_caption_tokenizer\n"
        "w = ShapesWorld(WorldConfig(seed=0))\n"
        "caps = [w.get(i, modalities=('caption',))['caption'] for i in range(2000)]\n"
        "tok = train_caption_tokenizer(caps, vocab_size=300)\n"
        "print([tok.encode(c).ids for c in caps[:500]])\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        for _ in "abc"
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
