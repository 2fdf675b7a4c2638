"""On CUDA every encoder gives what it gives on the CPU (skipped without a GPU)."""

import pytest
import torch

from mmtutorial.encoders import (
    AudioCNN,
    AudioTransformer,
    ImageCNN,
    ImageViT,
    TextTransformer,
    VideoCNN,
    VideoTransformer,
    pretrained_image_encoder,
    pretrained_text_encoder,
)

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture(autouse=True)
def exact_fp32(monkeypatch):
    """Compare in true fp32: TF32 convolutions / matmuls would differ from the CPU by ~1e-3."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


def _lengths(*n):
    return torch.tensor(n)


CASES = {
    "text": (
        lambda: TextTransformer(50, dim=32, depth=2, heads=4, max_length=16),
        lambda g: (
            torch.randint(3, 50, (3, 10), generator=g),
            torch.arange(10)[None] < _lengths(10, 6, 3)[:, None],
        ),
    ),
    "image_cnn": (lambda: ImageCNN(channels=(8, 16)), lambda g: (torch.rand(3, 3, 32, 32, generator=g),)),
    "image_vit": (
        lambda: ImageViT(image_size=32, patch=8, dim=32, depth=1),
        lambda g: (torch.rand(3, 3, 32, 32, generator=g),),
    ),
    "audio_cnn": (
        lambda: AudioCNN(dim=32, depth=2, n_mels=32),
        lambda g: (torch.randn(3, 8000, generator=g) * 0.1, _lengths(8000, 5000, 1000)),
    ),
    "audio_transformer": (
        lambda: AudioTransformer(dim=32, depth=1, n_mels=32),
        lambda g: (torch.randn(3, 8000, generator=g) * 0.1, _lengths(8000, 5000, 1000)),
    ),
    "video_cnn": (
        lambda: VideoCNN(channels=(8, 16)),
        lambda g: (torch.rand(3, 6, 3, 16, 16, generator=g), _lengths(6, 4, 1)),
    ),
    "video_transformer": (
        lambda: VideoTransformer(channels=(8, 16), depth=1, max_frames=8),
        lambda g: (torch.rand(3, 6, 3, 16, 16, generator=g), _lengths(6, 4, 1)),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scratch_encoder_matches_cpu(name):
    make, inputs = CASES[name]
    torch.manual_seed(0)
    model = make().eval()
    args = inputs(torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(*args)
        out = model.cuda()(*[a.cuda() for a in args])
    assert out.tokens.device.type == "cuda" and out.mask.device.type == "cuda"
    assert torch.equal(out.mask.cpu(), ref.mask)
    torch.testing.assert_close(out.tokens.cpu(), ref.tokens, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.pooled.cpu(), ref.pooled, atol=1e-4, rtol=1e-4)


def test_pretrained_encoders_match_cpu():
    texts = ["a red circle", "a small blue star moving up"]
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        text_cpu, image_cpu = pretrained_text_encoder()(texts), pretrained_image_encoder(64)(images)
        text_gpu = pretrained_text_encoder(copy=True).cuda()(texts)  # a copy: the cached one stays on the CPU
        image_gpu = pretrained_image_encoder(64, copy=True).cuda()(images)  # CPU input is moved for us
    torch.testing.assert_close(text_gpu.pooled.cpu(), text_cpu.pooled, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(image_gpu.pooled.cpu(), image_cpu.pooled, atol=1e-3, rtol=1e-3)
    assert next(pretrained_text_encoder().parameters()).device.type == "cpu"
