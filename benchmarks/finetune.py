"""Cost of each fine-tuning method on all-MiniLM-L6-v2 (22.7 M parameters): time per step and memory.

    python benchmarks/finetune.py                         # batch 16 x 64 tokens, 5 timed steps
    python benchmarks/finetune.py --batch 2 --tokens 8 --repeats 1   # a smoke run
    python benchmarks/finetune.py --device cuda           # adds torch.cuda.max_memory_allocated

One training step = forward of MiniLM + a linear head on the mean-pooled tokens, cross-entropy, backward,
AdamW step. Every method runs in this one process on the same batch and is printed as a ratio to full
fine-tuning. The median of ``--repeats`` timed steps after two warm-up steps is reported.

Memory is counted exactly, on any device, in three parts: activations = bytes of the tensors autograd saves
for backward (``torch.autograd.graph.saved_tensors_hooks``, each storage once, parameters excluded),
gradients = bytes of ``.grad`` of the trainable parameters, optimizer state = bytes of AdamW's moments. The
frozen weights themselves (the same 91 MB for every method) are not included.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial.encoders.pretrained import pretrained_text_encoder
from mmtutorial.finetune import (
    GradualUnfreezing,
    apply_lora,
    bitfit,
    count_trainable,
    head_only,
    param_groups_lrd,
    top_k_blocks,
    unfreeze,
)


class Classifier(nn.Module):
    """MiniLM (HF ``BertModel``) + ``head``: Linear(384, classes) on the masked mean of the last states."""

    def __init__(self, bert: nn.Module, classes: int = 4) -> None:
        super().__init__()
        self.bert = bert
        self.head = nn.Linear(bert.config.hidden_size, classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask[..., None].to(h.dtype)
        return self.head((h * m).sum(1) / m.sum(1))


BLOCKS = "bert.encoder.layer"


def _adamw(model: nn.Module, lr: float = 1e-4) -> torch.optim.Optimizer:
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)


def methods() -> dict[str, Callable[[nn.Module], torch.optim.Optimizer]]:
    """name -> setup(model) that sets ``requires_grad`` and returns the optimizer."""

    def full(m):
        unfreeze(m)
        return _adamw(m)

    def llrd(m):
        unfreeze(m)
        return torch.optim.AdamW(param_groups_lrd(m, 1e-4, 0.65, BLOCKS, ["bert.embeddings"]))

    def head(m):
        head_only(m, "head")
        return _adamw(m)

    def top2(m):
        top_k_blocks(m, BLOCKS, 2, head=["bert.pooler", "head"])
        return _adamw(m)

    def bit(m):
        bitfit(m, head="head")
        return _adamw(m)

    def gradual(m):  # ULMFiT after 3 epochs: head + the top 2 blocks train; optimizer built over everything
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        groups = [f"{BLOCKS}.{i}" for i in range(6)] + ["head"]
        GradualUnfreezing(m, groups).step(2)
        return opt

    def lora(target, r=8, dora=False):
        def setup(m):
            apply_lora(m, target, r=r, alpha=2 * r, dora=dora, trainable=["head"])
            return _adamw(m, 1e-3)

        return setup

    attn_qv = ["query", "value"]
    every = r"bert\.encoder\.layer\.\d+\..*(query|key|value|dense)"
    return {
        "full": full,
        "LLRD (decay 0.65)": llrd,
        "head only": head,
        "top-2 blocks": top2,
        "BitFit": bit,
        "gradual (epoch 3)": gradual,
        "LoRA r=8 q,v": lora(attn_qv),
        "LoRA r=8 all linear": lora(every),
        "DoRA r=8 q,v": lora(attn_qv, dora=True),
    }


def saved_activation_bytes(step: Callable[[], torch.Tensor], params: set[int]) -> tuple[torch.Tensor, int]:
    """Run ``step()`` (forward to the loss) and count the bytes autograd saves for backward."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = step()
    return loss, sum(seen.values())


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def measure(name, setup, base: nn.Module, batch, labels, repeats: int, device: torch.device) -> dict:
    model = copy.deepcopy(base).to(device)
    model.train()
    opt = setup(model)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def forward() -> torch.Tensor:
        return F.cross_entropy(model(**batch), labels)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        forward().backward()
        opt.step()

    for _ in range(2):
        step()  # warm-up; creates the optimizer state
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    opt.zero_grad(set_to_none=True)
    loss, act = saved_activation_bytes(forward, params)
    loss.backward()
    grads = tensor_bytes(p.grad for p in model.parameters() if p.grad is not None)
    state = tensor_bytes(v for s in opt.state.values() for k, v in s.items() if k != "step")  # the moments
    row = {
        "method": name,
        "trainable": count_trainable(model),
        "step_s": statistics.median(times),
        "act": act,
        "grad": grads,
        "optim": state,
    }
    if device.type == "cuda":
        row["cuda_peak"] = torch.cuda.max_memory_allocated()
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    base = Classifier(copy.deepcopy(pretrained_text_encoder().model))
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (args.batch, args.tokens), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
    batch = {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device)}
    labels = torch.randint(0, 4, (args.batch,), generator=g).to(device)
    rows = [measure(n, s, base, batch, labels, args.repeats, device) for n, s in methods().items()]
    full = rows[0]
    mb = 1 / 2**20
    total = lambda r: r["act"] + r["grad"] + r["optim"]  # noqa: E731
    print(
        f"MiniLM fine-tuning, batch {args.batch} x {args.tokens} tokens, {device}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats} steps; ratios to full fine-tuning"
    )
    head = (
        f"{'method':<22}{'trainable':>12}{'step ms':>9}{'x full':>8}{'act MB':>9}{'grad MB':>9}"
        f"{'optim MB':>10}{'total MB':>10}{'x full':>8}"
    )
    if device.type == "cuda":
        head += f"{'cuda peak MB':>14}{'x full':>8}"
    print(head)
    for r in rows:
        line = (
            f"{r['method']:<22}{r['trainable']:>12,}{1e3 * r['step_s']:>9.1f}"
            f"{r['step_s'] / full['step_s']:>8.2f}{r['act'] * mb:>9.1f}{r['grad'] * mb:>9.1f}"
            f"{r['optim'] * mb:>10.1f}{total(r) * mb:>10.1f}{total(r) / total(full):>8.2f}"
        )
        if device.type == "cuda":
            line += f"{r['cuda_peak'] * mb:>14.1f}{r['cuda_peak'] / full['cuda_peak']:>8.2f}"
        print(line)
    return rows


if __name__ == "__main__":
    main()
