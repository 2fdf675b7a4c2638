"""Audio and video encoders: shapes, length masks, padding invariance, input errors."""

import pytest
import torch

from mmtutorial.encoders import AudioCNN, AudioTransformer, LogMel, VideoCNN, VideoTransformer

SR = 16000


def small_audio(kind):
    torch.manual_seed(0)
    if kind == "cnn":
        return AudioCNN(dim=32, depth=2, n_mels=32).eval()
    return AudioTransformer(dim=32, depth=1, heads=4, n_mels=32, frames_per_token=4).eval()


def test_logmel_frames_and_mask():
    lm = LogMel(n_mels=32)
    w = torch.randn(2, 8000) * 0.1
    feats, mask = lm(w, torch.tensor([8000, 4000]))
    # frames that touch only real samples: (n - 400) // 160 + 1
    assert feats.shape == (2, 32, (8000 - 400) // 160 + 1)
    assert mask.sum(1).tolist() == [48, (4000 - 400) // 160 + 1]
    assert torch.isfinite(feats).all()
    # a louder clip has larger log-mel values: 20 dB more = +1 after the (dB + 40) / 20 scaling
    loud, _ = lm(w * 10)
    assert torch.allclose(loud, feats + 1.0, atol=1e-3)
    # silence is finite (clamped at -100 dB), not -inf
    silent, _ = lm(torch.zeros(1, 8000))
    assert torch.allclose(silent, torch.full_like(silent, -3.0))


@pytest.mark.parametrize("kind", ["cnn", "transformer"])
@pytest.mark.parametrize("batch", [1, 3])
def test_audio_shapes(kind, batch):
    enc = small_audio(kind)
    out = enc(torch.randn(batch, SR // 2) * 0.1)
    frames = (SR // 2 - 400) // 160 + 1  # 48
    t = frames if kind == "cnn" else 1 + frames // 4
    assert out.tokens.shape == (batch, t, 32)
    assert out.mask.shape == (batch, t) and out.mask.all()
    assert out.pooled.shape == (batch, 32)
    assert torch.isfinite(out.tokens).all()


@pytest.mark.parametrize("kind", ["cnn", "transformer"])
@pytest.mark.parametrize("length", [4000, 6123])
def test_audio_padding_does_not_change_pooled(kind, length):
    enc = small_audio(kind)
    torch.manual_seed(1)
    short = torch.randn(1, length) * 0.1
    other = torch.randn(1, SR // 2) * 0.1
    batch = torch.cat([torch.nn.functional.pad(short, (0, SR // 2 - length)), other])
    alone = enc(short)
    padded = enc(batch, torch.tensor([length, SR // 2]))
    real = int(alone.mask.sum())
    assert int(padded.mask[0].sum()) == real
    assert torch.allclose(alone.pooled[0], padded.pooled[0], atol=1e-5)
    assert torch.allclose(alone.tokens[0, :real], padded.tokens[0, :real], atol=1e-5)
    # the other clip is full length and unaffected by its neighbour's padding
    assert torch.allclose(enc(other).pooled[0], padded.pooled[1], atol=1e-5)


@pytest.mark.parametrize("kind", ["cnn", "transformer"])
def test_audio_without_lengths_sees_the_padding(kind):
    """The invariance above is real: ignoring lengths, the zero-padded clip embeds differently."""
    enc = small_audio(kind)
    torch.manual_seed(1)
    short = torch.randn(1, 4000) * 0.1
    padded = torch.nn.functional.pad(short, (0, 4000))
    assert not torch.allclose(enc(short).pooled, enc(padded).pooled, atol=1e-3)


def test_audio_errors():
    enc = small_audio("cnn")
    with pytest.raises(ValueError, match="waveforms"):
        enc(torch.randn(8000))  # 1-D
    with pytest.raises(ValueError, match="waveforms"):
        enc(torch.randn(1, 100))  # shorter than one window
    with pytest.raises(ValueError, match="waveforms"):
        enc(torch.ones(1, 8000, dtype=torch.int16))
    with pytest.raises(ValueError, match="waveforms"):
        enc(torch.full((1, 8000), float("nan")))
    with pytest.raises(ValueError, match="lengths"):
        enc(torch.randn(2, 8000), torch.tensor([8000]))
    with pytest.raises(ValueError, match="lengths"):
        enc(torch.randn(2, 8000), torch.tensor([8000, 9000]))
    with pytest.raises(ValueError, match="lengths"):
        enc(torch.randn(2, 8000), torch.tensor([8000.0, 4000.0]))
    with pytest.raises(ValueError, match="kernel"):
        AudioCNN(kernel=4)
    with pytest.raises(ValueError, match="max_tokens"):
        AudioTransformer(max_tokens=4)(torch.randn(1, 8000))


def small_video(kind):
    torch.manual_seed(0)
    if kind == "cnn":
        return VideoCNN(channels=(8, 16)).eval()
    return VideoTransformer(channels=(8, 16), depth=1, heads=4, max_frames=8).eval()


@pytest.mark.parametrize("kind", ["cnn", "transformer"])
@pytest.mark.parametrize("batch", [1, 3])
def test_video_shapes(kind, batch):
    enc = small_video(kind)
    out = enc(torch.rand(batch, 6, 3, 16, 16))
    t = 6 if kind == "cnn" else 7
    assert out.tokens.shape == (batch, t, 16)
    assert out.mask.shape == (batch, t) and out.mask.all()
    assert out.pooled.shape == (batch, 16)


@pytest.mark.parametrize("kind", ["cnn", "transformer"])
@pytest.mark.parametrize("length", [1, 4])
def test_video_padding_does_not_change_pooled(kind, length):
    enc = small_video(kind)
    torch.manual_seed(1)
    clip = torch.rand(1, length, 3, 16, 16)
    padded = torch.cat([clip, torch.rand(1, 8 - length, 3, 16, 16)], dim=1)  # junk frames, not zeros
    alone = enc(clip)
    both = enc(torch.cat([padded, torch.rand(1, 8, 3, 16, 16)]), torch.tensor([length, 8]))
    assert both.mask[0].sum() == alone.mask.sum()
    assert torch.allclose(alone.pooled[0], both.pooled[0], atol=1e-5)
    # and the junk frames do matter when they are declared real
    assert not torch.allclose(alone.pooled[0], enc(padded).pooled[0], atol=1e-3)


def test_video_motion_matters_to_the_temporal_models():
    """Reversing time changes the (2+1)D CNN's frame tokens and the Transformer's class token."""
    torch.manual_seed(2)
    clip = torch.rand(1, 6, 3, 16, 16)
    rev = clip.flip(1)
    cnn, tr = small_video("cnn"), small_video("transformer")
    assert not torch.allclose(cnn(clip).tokens, cnn(rev).tokens.flip(1), atol=1e-4)
    assert not torch.allclose(tr(clip).pooled, tr(rev).pooled, atol=1e-4)


def test_video_errors():
    cnn, tr = small_video("cnn"), small_video("transformer")
    with pytest.raises(ValueError, match="videos"):
        cnn(torch.rand(6, 3, 16, 16))
    with pytest.raises(ValueError, match="videos"):
        cnn(torch.rand(1, 6, 1, 16, 16))
    with pytest.raises(ValueError, match="videos"):
        cnn(torch.rand(1, 6, 3, 2, 2))
    with pytest.raises(ValueError, match="lengths"):
        cnn(torch.rand(2, 6, 3, 16, 16), torch.tensor([0, 6]))
    with pytest.raises(ValueError, match="max_frames"):
        tr(torch.rand(1, 9, 3, 16, 16))
