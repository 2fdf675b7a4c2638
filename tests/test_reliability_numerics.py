"""Nothing silently wrong: loss scalars checked in the compute dtype, chunk sizes checked, losses never
negative, no host reads on the unchecked path, one validation on the distributed path; fusion padding never
matters and an empty modality is a missing one; sizes of zero and bad dtypes refused; NaN images refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmtutorial import losses
from mmtutorial.encoders.base import EncoderOutput, masked_mean
from mmtutorial.encoders.image import ImageCNN, ImageViT
from mmtutorial.encoders.text import TextTokenizer
from mmtutorial.encoders.video import VideoCNN
from mmtutorial.fusion import FUSIONS, GatedCrossAttention, make_fusion
from mmtutorial.losses import chunked, dispatch

# Tiny modules: one thread avoids thread-pool overhead on a busy machine (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def aligned(n: int = 64, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(n, d, generator=g), dim=1)
    return a, a.clone()


A, B = aligned(8, 4)


# ---- loss scalars: checked after the cast to the compute dtype ---------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: losses.clip_loss(A, B, 1e39), r"logit_scale must be a positive number, got 1e\+39 \(inf in"),
        (lambda: losses.clip_loss(A, B, torch.tensor(1e39, dtype=torch.float64)), "logit_scale .* inf"),
        (lambda: losses.clip_loss(A.half(), B.half(), 1e39), "logit_scale"),
        (lambda: losses.siglip_loss(A, B, 10.0, 1e39), r"logit_bias must be a finite number, got 1e\+39"),
        (lambda: losses.siglip_loss(A, B, 10.0, -1e39), r"logit_bias must be a finite number, got -1e\+39"),
        (lambda: losses.siglip_loss(A, B, 1e39, 0.0), "logit_scale"),
        (lambda: losses.nt_xent_loss(A, B, 1e-45), "temperature .* finite 1/temperature"),
        (lambda: losses.nt_xent_loss(A, B, torch.tensor(1e-45)), "temperature"),
        (lambda: losses.nt_xent_loss(A, B, 1e-300), "temperature"),
        (lambda: losses.clip_loss(A[:, :0], B[:, :0], 1.0), r"a must hold at least one feature \(D >= 1\)"),
        (lambda: losses.siglip_loss(A[:, :0], B[:, :0], 1.0, 0.0), r"D >= 1"),
        (lambda: losses.nt_xent_loss(A[:, :0], B[:, :0], 0.1), r"z1 must hold at least one feature"),
        (lambda: losses.clip_loss(A.to("meta"), B.to("meta"), 1.0), "a must hold data"),
    ],
)
def test_loss_scalars_and_shapes_are_checked_where_they_are_used(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_values_that_fit_the_compute_dtype_are_accepted():
    # 1e39 is finite in fp64: fp64 inputs compute in fp64, so the same scale is fine there
    assert torch.isfinite(losses.clip_loss(A.double(), B.double(), 1e39))
    assert torch.isfinite(losses.nt_xent_loss(A.double(), B.double(), 1e-45))  # 1/tau = 1e45 fits fp64


# ---- chunk sizes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [-1, 0, 2.5, True, "4"])
@pytest.mark.parametrize("fn", ["clip", "siglip", "nt_xent"])
def test_bad_chunk_is_refused(fn, chunk):
    s = torch.tensor(10.0)
    call = {
        "clip": lambda: chunked.clip_loss(A, B, s, chunk=chunk),
        "siglip": lambda: chunked.siglip_loss(A, B, s, torch.tensor(-5.0), chunk=chunk),
        "nt_xent": lambda: chunked.nt_xent_loss(A, B, torch.tensor(0.1), chunk=chunk),
    }[fn]
    with pytest.raises(ValueError, match=r"chunk must be a positive int"):
        call()


def test_any_valid_chunk_gives_the_reference_value():
    a, b = aligned(37, 8, seed=1)
    b = F.normalize(b + 0.3 * torch.randn_like(b), dim=1)
    s, t = torch.tensor(20.0), torch.tensor(-3.0)
    for chunk in (1, 5, 36, 37, 1000):
        torch.testing.assert_close(
            chunked.clip_loss(a, b, s, chunk=chunk), losses.clip_loss(a, b, s, impl="reference")
        )
        torch.testing.assert_close(
            chunked.siglip_loss(a, b, s, t, chunk=chunk), losses.siglip_loss(a, b, s, t, impl="reference")
        )


# ---- never negative ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [100.0, 1000.0])
@pytest.mark.parametrize(("n", "d", "seeds"), [(64, 32, 3), (2048, 64, 1)])
def test_chunked_losses_of_aligned_batches_are_never_negative(scale, n, d, seeds):
    # nearly aligned pairs: before, the chunked CLIP loss came out at -3.8e-6 (scale 100) and -3.1e-5
    # (scale 1000) for (64, 32), seed 0, and at -8e-5 (chunk 7) and -3.1e-5 ("auto") for (2048, 64)
    for seed in range(seeds):
        g = torch.Generator().manual_seed(seed)
        a = F.normalize(torch.randn(n, d, generator=g), dim=1)
        b = F.normalize(a + 1e-3 * torch.randn(n, d, generator=g), dim=1)
        s = torch.tensor(scale)
        for chunk in (None, 7):
            assert float(chunked.clip_loss(a, b, s, chunk=chunk)) >= 0.0
            assert float(chunked.siglip_loss(a, b, s, torch.tensor(-scale), chunk=chunk)) >= 0.0
            if n < 2048:
                assert float(chunked.nt_xent_loss(a, b, 1 / s, chunk=chunk)) >= 0.0
        if n >= 2048:  # "auto" takes the chunked path from N = 2048 on the CPU
            assert float(losses.clip_loss(a, b, scale)) >= 0.0


# ---- no host reads when value checks are off (what CUDA does by default) -----------------------------------
@pytest.fixture
def no_host_reads(monkeypatch):
    """Make every way of reading a tensor's value on the host raise."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("a tensor value was read on the host (a GPU would make the CPU wait here)")

    for name in ("item", "__float__", "__bool__", "__int__", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, refuse)


@pytest.mark.parametrize("impl", ["reference", "chunked"])
def test_unchecked_losses_never_read_a_value_on_the_host(impl, no_host_reads):
    a, b = aligned(16, 8)
    a.requires_grad_(True)
    s = torch.tensor(10.0, requires_grad=True)
    t = torch.tensor(-2.0, requires_grad=True)
    tau = torch.tensor(0.1, requires_grad=True)
    total = (
        losses.clip_loss(a, b, s, impl=impl, check_values=False)
        + losses.siglip_loss(a, b, s, t, impl=impl, check_values=False)
        + losses.siglip_loss(a, b, 5.0, -1.0, impl=impl, check_values=False)  # Python numbers: host checks
        + losses.nt_xent_loss(a, b, tau, impl=impl, check_values=False)
    )
    total.backward()


def test_value_checks_default_on_for_cpu_off_for_cuda():
    assert dispatch._values_checked(torch.device("cpu"), None)
    assert not dispatch._values_checked(torch.device("cuda"), None)
    assert dispatch._values_checked(torch.device("cuda"), True)
    nan = A.clone().fill_(float("nan"))
    with pytest.raises(ValueError, match="finite"):
        losses.clip_loss(nan, B, 1.0)
    # unchecked, a NaN input is not hidden: the loss is NaN too
    assert torch.isnan(losses.clip_loss(nan, B, 1.0, check_values=False))


def test_distributed_losses_validate_once(monkeypatch, tmp_path):
    import torch.distributed as dist

    from mmtutorial.losses import distributed

    calls = []
    original = dispatch.check_pair
    monkeypatch.setattr(dispatch, "check_pair", lambda *a, **k: calls.append(1) or original(*a, **k))
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        a, b = aligned(8, 4)
        for loss in (
            lambda: distributed.clip_loss(a, b, 10.0),
            lambda: distributed.siglip_loss(a, b, 10.0, -1.0),
            lambda: distributed.nt_xent_loss(a, b, 0.1),
        ):
            calls.clear()
            loss()
            assert len(calls) == 1
        torch.testing.assert_close(distributed.clip_loss(a, b, 10.0), losses.clip_loss(a, b, 10.0))
    finally:
        dist.destroy_process_group()


# ---- fusion: padding never matters, an empty modality is a missing one -------------------------------------
DIMS = {"image": 16, "audio": 12, "text": 8}
BATCH = 4


def inputs(pad_value: float = 0.0, dtype=torch.float32) -> dict[str, EncoderOutput]:
    g = torch.Generator().manual_seed(0)
    out = {}
    for k, (m, d) in enumerate(DIMS.items()):
        t = 3 + k
        tokens = torch.randn(BATCH, t, d, generator=g, dtype=dtype)
        mask = torch.ones(BATCH, t, dtype=torch.bool)
        mask[:, -1] = False
        mask[1, 1:] = False
        pooled = masked_mean(tokens, mask)
        out[m] = EncoderOutput(tokens.masked_fill(~mask.unsqueeze(-1), pad_value), mask, pooled)
    return out


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    f = make_fusion(name, DIMS, 6).eval()
    if isinstance(f, GatedCrossAttention):  # open the gates: with them shut the context cannot matter
        with torch.no_grad():
            f.gate_attn.fill_(0.7)
            f.gate_ff.fill_(0.7)
    return f


@pytest.mark.parametrize("name", list(FUSIONS))
@pytest.mark.parametrize("pad", [float("nan"), float("inf"), 1e30])
def test_padding_never_reaches_the_output(name, pad):
    f = build(name)
    with torch.no_grad():
        clean, dirty = f(inputs(0.0)), f(inputs(pad))
    assert torch.isfinite(dirty).all()
    torch.testing.assert_close(dirty, clean)


@pytest.mark.parametrize("name", list(FUSIONS))
def test_a_sample_without_real_tokens_is_that_modality_missing(name):
    f = build(name)
    x = inputs()
    audio = x["audio"]
    mask = audio.mask.clone()
    mask[2] = False  # sample 2 has no real audio token
    tokens = audio.tokens.clone()
    tokens[2] = 1e3  # ... and garbage where its tokens would be
    empty = {**x, "audio": EncoderOutput(tokens, mask, torch.full_like(audio.pooled, 7.0))}
    with torch.no_grad():
        got = f(empty)[2]
        other = f({**empty, "audio": EncoderOutput(tokens.neg(), mask, audio.pooled)})[2]
        missing = f({m: v for m, v in x.items() if m != "audio"})[2]  # audio missing for the whole batch
    torch.testing.assert_close(got, other)  # the padding values do not matter ...
    torch.testing.assert_close(got, missing)  # ... because the sample is treated as missing its audio


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("early_concat", {"hidden": 0}, "hidden must be a positive int"),
        ("modality_attention", {"hidden": 0}, "hidden"),
        ("cross_attention", {"hidden": 0}, "hidden"),
        ("cross_attention", {"hidden": 30, "heads": 4}, "divisible by heads"),
        ("cross_attention", {"heads": 0}, "heads must be a positive int"),
        ("elementwise", {"hidden": 0}, "hidden"),
        ("tensor", {"hidden": 0}, "hidden"),
        ("tensor", {"hidden": -3}, "hidden"),
        ("low_rank_tensor", {"rank": 0}, "rank must be a positive int"),
        ("low_rank_tensor", {"rank": 2.5}, "rank"),
        ("film", {"hidden": 0}, "hidden"),
        ("transformer", {"hidden": 0}, "hidden"),
        ("transformer", {"hidden": 10, "heads": 4}, "divisible"),
        ("gated_xattn", {"heads": 0}, "heads"),
        ("perceiver", {"latents": 0}, "latents must be a positive int"),
        ("perceiver", {"hidden": 0}, "hidden"),
    ],
)
def test_zero_sizes_are_refused(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_fusion(name, DIMS, 6, **kwargs)


@pytest.mark.parametrize("name", ["late_concat", "cross_attention", "perceiver"])
def test_wrong_dtype_or_meta_inputs_name_the_modality(name):
    f = build(name)
    x = inputs()
    mixed = {
        **x,
        "audio": EncoderOutput(x["audio"].tokens.double(), x["audio"].mask, x["audio"].pooled.double()),
    }
    with pytest.raises(ValueError, match=r"inputs\['audio'\].tokens must have dtype torch.float32"):
        f(mixed)
    t = x["text"]
    meta = {**x, "text": EncoderOutput(t.tokens.to("meta"), t.mask.to("meta"), t.pooled.to("meta"))}
    with pytest.raises(ValueError, match=r"inputs\['text'\].tokens must hold data"):
        f(meta)
    assert f.double()(
        {m: EncoderOutput(v.tokens.double(), v.mask, v.pooled.double()) for m, v in x.items()}
    ).dtype == (torch.float64)


# ---- encoders ----------------------------------------------------------------------------------------------
def test_nan_images_and_videos_are_refused():
    images = torch.rand(2, 3, 32, 32)
    images[1, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="images must hold only finite values"):
        ImageCNN(channels=(4, 8))(images)
    with pytest.raises(ValueError, match="images must hold only finite values"):
        ImageViT(image_size=32, patch=8, dim=16, depth=1, heads=2)(images.clamp(0, 1) * float("inf"))
    videos = torch.rand(2, 4, 3, 16, 16)
    videos[0, 3] = float("nan")  # a padded frame of sample 0 (length 3): allowed, it is padding
    enc = VideoCNN(channels=(4,))
    enc(videos, torch.tensor([3, 4]))
    videos[1, 0] = float("nan")  # a real frame
    with pytest.raises(ValueError, match="videos must hold only finite values in their real frames"):
        enc(videos, torch.tensor([3, 4]))


def test_tokenizer_load_names_the_missing_or_bad_file(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path / "nope.json")):
        TextTokenizer.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        TextTokenizer.load(tmp_path / "bad.json")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("impl", ["reference", "chunked"])
def test_cuda_losses_never_synchronise_with_the_host(impl):
    """CUDA's own detector: with sync debug mode "error", any host synchronisation raises."""
    a, b = (x.cuda() for x in aligned(256, 32))
    a.requires_grad_(True)
    s = torch.tensor(10.0, device="cuda", requires_grad=True)
    t = torch.tensor(-2.0, device="cuda", requires_grad=True)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        total = losses.clip_loss(a, b, s, impl=impl) + losses.siglip_loss(a, b, s, t, impl=impl)
        total = total + losses.clip_loss(a, b, 20.0, impl=impl)  # a Python scale: checked on the host
        total.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(total).item()
