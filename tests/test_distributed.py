"""Global-batch losses over 2 gloo processes equal the single-process loss, gradients included."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from mmtutorial import losses
from mmtutorial.losses import distributed

WORLD, N_LOCAL, D = 2, 3, 5
CASES = [  # (loss, impl, grad mode)
    ("clip", "reference", "exact"),
    ("clip", "chunked", "exact"),
    ("siglip", "chunked", "exact"),
    ("nt_xent", "reference", "exact"),
    ("clip", "chunked", "ddp"),
    ("siglip", "reference", "ddp"),
]


def global_batch():
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(WORLD * N_LOCAL, D, generator=g, dtype=torch.float64), dim=1)
    b = F.normalize(a + torch.randn(WORLD * N_LOCAL, D, generator=g, dtype=torch.float64), dim=1)
    return a, b


def run(kind, impl, a, b, s, t, dist_grad=None):
    if dist_grad is None:
        mod, kw = losses, {"impl": impl}
    else:
        mod, kw = distributed, {"impl": impl, "grad": dist_grad}
    if kind == "clip":
        return mod.clip_loss(a, b, s, **kw)
    if kind == "siglip":
        return mod.siglip_loss(a, b, s, t, **kw)
    return mod.nt_xent_loss(a, b, 1 / s, **kw)


def loss_and_grads(kind, impl, a, b, dist_grad=None):
    a = a.clone().requires_grad_()
    b = b.clone().requires_grad_()
    s = torch.tensor(7.0, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
    loss = run(kind, impl, a, b, s, t, dist_grad)
    loss.backward()
    return [
        loss.detach(),
        a.grad,
        b.grad,
        s.grad,
        t.grad if t.grad is not None else torch.zeros((), dtype=torch.float64),
    ]


def _worker(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        a, b = global_batch()
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        results = [loss_and_grads(k, i, a[sl], b[sl], dist_grad=m) for k, i, m in CASES]
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    mp.spawn(_worker, args=(free_port(), str(out)), nprocs=WORLD, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_two_ranks_match_one_process(rank_results, case):
    kind, impl, mode = CASES[case]
    a, b = global_batch()
    want = loss_and_grads(kind, "reference", a, b)
    factor = WORLD if mode == "ddp" else 1  # ddp mode: feature grads are summed over ranks (DDP averages)
    for rank in range(WORLD):
        loss, ga, gb, gs, gt = rank_results[rank][case]
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        torch.testing.assert_close(loss, want[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ga, factor * want[1][sl], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(gb, factor * want[2][sl], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(gs, want[3], rtol=1e-10, atol=1e-12)  # replicated scale: exact dL/ds
        torch.testing.assert_close(gt, want[4], rtol=1e-10, atol=1e-12)


def test_ddp_average_gives_the_global_gradient(rank_results):
    """What DDP would do in ddp mode: average the ranks' gradients of a shared linear encoder."""
    kind, impl, mode = CASES[4]
    assert mode == "ddp"
    a, b = global_batch()
    want = loss_and_grads(kind, "reference", a, b)
    # encoder a = x @ W for a fixed x: dL/dW = x.T @ dL/da; DDP's average over ranks of x_r.T @ g_r
    x = torch.randn(WORLD * N_LOCAL, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    avg = sum(x[r * N_LOCAL : (r + 1) * N_LOCAL].T @ rank_results[r][4][1] for r in range(WORLD)) / WORLD
    torch.testing.assert_close(avg, x.T @ want[1], rtol=1e-10, atol=1e-12)


def test_without_process_group_is_a_clear_error():
    a, b = global_batch()
    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed.clip_loss(a, b, 2.0)
    with pytest.raises(ValueError, match="grad must be one of"):
        distributed.gather_features(a, grad="sum")
