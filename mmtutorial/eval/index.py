"""Vector search over a gallery of embeddings: exact in torch, approximate with FAISS, compared side by side.

- :func:`exact_search` scores the queries against the gallery one chunk of rows at a time and keeps a running
  top-k, so the ``(Q, G)`` score matrix never exists and the gallery may be a memory-mapped array larger than
  RAM (``torch.from_numpy(np.load(path, mmap_mode="r"))``): memory is ``O(Q * (chunk + k))``.
- :class:`FaissIndex` wraps a FAISS index built from a factory string (``"Flat"`` exact, ``"IVF64,Flat"``
  inverted lists, ``"HNSW32,Flat"`` a graph, ``"IVF64,PQ16"`` compressed codes), with inner-product scores.
- :func:`recall_vs_exact` is the ANN-benchmark recall: the share of the exact top-k that the approximate top-k
  found. :func:`compare_indexes` reports it beside queries per second for each index.

Use inner product on L2-normalised embeddings: it is cosine similarity, the score CLIP retrieval ranks by.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import numpy as np
import torch

from mmtutorial._validate import check_positive, check_tensor


def _check_k(k: object, gallery_size: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= gallery_size:
        raise ValueError(f"k must be an int in [1, G={gallery_size}] (the gallery size), got {k!r}")
    return k


@torch.no_grad()
def exact_search(
    queries: torch.Tensor, gallery: torch.Tensor, k: int, chunk_size: int = 65_536
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` gallery items for each query by inner product: ``(Q, D), (G, D) -> scores, ids (Q, k)``.

    Rows of ``scores`` are sorted high to low; ties go to the lower gallery index. The gallery is read
    ``chunk_size`` rows at a time (it may be a memory-mapped tensor); each chunk's scores are merged into the
    running top-k, so the result equals ``torch.sort(queries @ gallery.T)`` truncated to ``k``.
    """
    check_tensor("queries", queries, ndim=2, floating=True, finite=True)
    check_tensor("gallery", gallery, shape=(None, queries.shape[1]), floating=True)
    if len(queries) == 0 or len(gallery) == 0:
        raise ValueError(
            f"queries and gallery must be non-empty, got {len(queries)} queries, {len(gallery)} items"
        )
    k = _check_k(k, len(gallery))
    check_positive("chunk_size", chunk_size)
    q = queries.float()
    best_s = torch.empty(len(q), 0)
    best_i = torch.empty(len(q), 0, dtype=torch.long)
    for start in range(0, len(gallery), chunk_size):
        chunk = gallery[start : start + chunk_size].float()
        if not bool(torch.isfinite(chunk).all()):
            raise ValueError(
                f"gallery must hold only finite values; rows {start}..{start + len(chunk) - 1} do not"
            )
        s = torch.cat([best_s, q @ chunk.T], dim=1)  # earlier (lower-index) candidates first ...
        i = torch.cat([best_i, torch.arange(start, start + len(chunk)).expand(len(q), -1)], dim=1)
        top = torch.sort(s, dim=1, descending=True, stable=True).indices[:, :k]  # ... so ties keep them first
        best_s, best_i = s.gather(1, top), i.gather(1, top)
    return best_s, best_i


def recall_vs_exact(approx_ids: torch.Tensor, exact_ids: torch.Tensor) -> float:
    """k-recall@k: mean over queries of ``|approx top-k ∩ exact top-k| / k``; both ``(Q, k)`` integer ids.

    1.0 means the approximate index returned exactly the true nearest neighbours (in any order).
    """
    check_tensor("exact_ids", exact_ids, ndim=2)
    check_tensor("approx_ids", approx_ids, shape=tuple(exact_ids.shape))
    if exact_ids.numel() == 0:
        raise ValueError(f"exact_ids must be non-empty, got shape {tuple(exact_ids.shape)}")
    found = (approx_ids[:, :, None] == exact_ids[:, None, :]).any(dim=1)  # (Q, k): exact id j was found
    return float(found.float().mean())


class FaissIndex:
    """A FAISS index over ``D``-dim vectors with inner-product scores, built from a factory string.

    ``FaissIndex(dim, "HNSW32,Flat").add(gallery)`` then ``.search(queries, k) -> (scores, ids)`` as torch
    tensors ``(Q, k)``. Indexes that learn a codebook (IVF, PQ) are trained on the first ``add`` call.
    ``nprobe`` (IVF: lists visited per query) and ``ef_search`` (HNSW: candidate list size) trade speed for
    recall; ``None`` keeps FAISS's default.
    """

    def __init__(
        self, dim: int, factory: str = "HNSW32,Flat", nprobe: int | None = None, ef_search: int | None = None
    ):
        import faiss  # imported here so that the rest of the package works without faiss installed

        check_positive("dim", dim)
        self.dim, self.factory = int(dim), factory
        try:
            self.index = faiss.index_factory(self.dim, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as err:
            raise ValueError(
                f"factory must be a FAISS index_factory string, got {factory!r}: {err}"
            ) from None
        params = faiss.ParameterSpace()
        for name, faiss_name, value in (("nprobe", "nprobe", nprobe), ("ef_search", "efSearch", ef_search)):
            if value is None:
                continue
            check_positive(name, value)
            try:
                params.set_index_parameter(self.index, faiss_name, int(value))
            except RuntimeError:
                raise ValueError(
                    f"{name} does not apply to a {factory!r} index (got {name}={value})"
                ) from None

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def __repr__(self) -> str:
        return f"FaissIndex(dim={self.dim}, factory={self.factory!r}, ntotal={len(self)})"

    def _numpy(self, name: str, x: torch.Tensor) -> np.ndarray:
        check_tensor(name, x, shape=(None, self.dim), floating=True, finite=True)
        return np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)

    def add(self, vectors: torch.Tensor) -> FaissIndex:
        """Append ``vectors`` ``(N, D)``; ids go on from ``len(self)``; trains the index first if needed."""
        x = self._numpy("vectors", vectors)
        if len(x) == 0:
            raise ValueError("vectors must hold at least one row, got 0")
        if not self.index.is_trained:
            self.index.train(x)
        self.index.add(x)
        return self

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and ids ``(Q, k)`` of the ``k`` best items per query (id -1 where the index found fewer)."""
        if len(self) == 0:
            raise ValueError("the index is empty: add vectors before searching")
        k = _check_k(k, len(self))
        scores, ids = self.index.search(self._numpy("queries", queries), k)
        return torch.from_numpy(scores), torch.from_numpy(ids)

    def nbytes(self) -> int:
        """Size of the serialised index in bytes (vectors, codes, graph links)."""
        import faiss

        return int(faiss.serialize_index(self.index).nbytes)


def _queries_per_second(search, queries: torch.Tensor, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        search()
        times.append(time.perf_counter() - t0)
    return len(queries) / statistics.median(times)


def compare_indexes(
    gallery: torch.Tensor,
    queries: torch.Tensor,
    k: int = 10,
    factories: Sequence[str] = ("Flat", "IVF64,Flat", "HNSW32,Flat"),
    nprobe: int | None = None,
    ef_search: int | None = None,
    repeats: int = 3,
) -> list[dict[str, float | str]]:
    """Exact torch search and each FAISS index on the same data, side by side.

    Returns one row per method: ``{"index", "recall_vs_exact" (k-recall@k), "queries_per_s" (median of
    ``repeats`` timed searches), "build_s", "bytes"}``; the first row is the torch exact search. ``nprobe``
    goes to the IVF indexes, ``ef_search`` to the HNSW ones. Timings are measurements, not guarantees.
    """
    check_positive("repeats", repeats)
    _, exact_ids = exact_search(queries, gallery, k)
    qps = _queries_per_second(lambda: exact_search(queries, gallery, k), queries, repeats)
    rows: list[dict[str, float | str]] = [
        {
            "index": "torch exact",
            "recall_vs_exact": 1.0,
            "queries_per_s": qps,
            "build_s": 0.0,
            "bytes": gallery.numel() * 4,
        }
    ]
    for factory in factories:
        t0 = time.perf_counter()
        index = FaissIndex(
            gallery.shape[1],
            factory,
            nprobe=nprobe if "IVF" in factory else None,
            ef_search=ef_search if "HNSW" in factory else None,
        ).add(gallery)
        build = time.perf_counter() - t0
        _, ids = index.search(queries, k)
        rows.append(
            {
                "index": factory,
                "recall_vs_exact": recall_vs_exact(ids, exact_ids),
                "queries_per_s": _queries_per_second(
                    lambda index=index: index.search(queries, k), queries, repeats
                ),
                "build_s": build,
                "bytes": index.nbytes(),
            }
        )
    return rows
