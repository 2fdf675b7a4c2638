"""Vector search: chunked exact search against a full sort; FAISS indexes against exact search."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmtutorial.eval import FaissIndex, compare_indexes, exact_search, recall_vs_exact


def unit(n: int, d: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


@pytest.mark.parametrize("chunk_size", [1, 7, 10, 103, 1000])
def test_exact_search_matches_full_sort_with_ties(chunk_size):
    g = torch.Generator().manual_seed(0)
    queries = torch.randint(-2, 3, (9, 4), generator=g).float()
    gallery = torch.randint(-2, 3, (103, 4), generator=g).float()  # integer scores: many ties
    full = queries @ gallery.T
    order = torch.sort(full, dim=1, descending=True, stable=True).indices[:, :5]
    scores, ids = exact_search(queries, gallery, k=5, chunk_size=chunk_size)
    assert torch.equal(ids, order)
    assert torch.equal(scores, full.gather(1, order))


def test_exact_search_reads_a_memory_mapped_gallery(tmp_path):
    gallery = unit(500, 16, 1)
    path = tmp_path / "gallery.npy"
    np.save(path, gallery.numpy())
    mapped = torch.from_numpy(np.load(path, mmap_mode="c"))  # pages read from the file on demand
    queries = unit(20, 16, 2)
    s1, i1 = exact_search(queries, mapped, 10, chunk_size=64)
    s2, i2 = exact_search(queries, gallery, 10)
    assert torch.equal(i1, i2) and torch.equal(s1, s2)


def test_faiss_flat_equals_exact():
    gallery, queries = unit(2000, 32, 3), unit(50, 32, 4)
    exact_s, exact_i = exact_search(queries, gallery, 10)
    s, i = FaissIndex(32, "Flat").add(gallery).search(queries, 10)
    assert torch.equal(i, exact_i)
    torch.testing.assert_close(s, exact_s, atol=1e-5, rtol=1e-5)
    assert recall_vs_exact(i, exact_i) == 1.0


def test_ivf_visiting_every_list_is_exact_and_fewer_lists_trade_recall():
    gallery, queries = unit(3000, 32, 5), unit(100, 32, 6)
    _, exact_i = exact_search(queries, gallery, 10)
    _, all_lists = FaissIndex(32, "IVF16,Flat", nprobe=16).add(gallery).search(queries, 10)
    assert recall_vs_exact(all_lists, exact_i) == 1.0
    _, one_list = FaissIndex(32, "IVF16,Flat", nprobe=1).add(gallery).search(queries, 10)
    assert recall_vs_exact(one_list, exact_i) < 0.9  # random unit vectors in 32-D: neighbours span many lists


def test_hnsw_recall_is_high_and_grows_with_ef_search():
    gallery, queries = unit(3000, 16, 7), unit(100, 16, 8)
    _, exact_i = exact_search(queries, gallery, 10)
    recalls = []
    for ef in (10, 128):
        _, ids = FaissIndex(16, "HNSW16,Flat", ef_search=ef).add(gallery).search(queries, 10)
        recalls.append(recall_vs_exact(ids, exact_i))
    assert recalls[1] >= 0.95 and recalls[1] > recalls[0]


def test_recall_vs_exact_by_hand():
    exact = torch.tensor([[1, 2, 3], [4, 5, 6]])
    approx = torch.tensor([[3, 2, 9], [6, 5, 4]])  # order does not matter; 9 is not a true neighbour
    assert recall_vs_exact(approx, exact) == pytest.approx(5 / 6)


def test_compare_indexes_rows():
    gallery, queries = unit(1000, 16, 9), unit(30, 16, 10)
    rows = compare_indexes(gallery, queries, k=5, factories=("Flat", "IVF8,Flat"), nprobe=8, repeats=1)
    assert [r["index"] for r in rows] == ["torch exact", "Flat", "IVF8,Flat"]
    assert rows[1]["recall_vs_exact"] == 1.0 and rows[2]["recall_vs_exact"] == 1.0
    assert all(r["queries_per_s"] > 0 and r["bytes"] > 0 for r in rows)


def test_errors():
    with pytest.raises(ValueError, match="gallery must have shape"):
        exact_search(torch.randn(2, 3), torch.randn(5, 4), 1)
    with pytest.raises(ValueError, match=r"k must be an int in \[1, G=5\]"):
        exact_search(torch.randn(2, 3), torch.randn(5, 3), 6)
    with pytest.raises(ValueError, match="must be non-empty"):
        exact_search(torch.randn(0, 3), torch.randn(5, 3), 1)
    with pytest.raises(ValueError, match="gallery must hold only finite values"):
        exact_search(torch.randn(2, 3), torch.full((5, 3), float("nan")), 1)
    with pytest.raises(ValueError, match="factory must be a FAISS index_factory string"):
        FaissIndex(8, "NotAnIndex")
    with pytest.raises(ValueError, match="nprobe does not apply to a 'Flat' index"):
        FaissIndex(8, "Flat", nprobe=4)
    with pytest.raises(ValueError, match="index is empty"):
        FaissIndex(8, "Flat").search(torch.randn(1, 8), 1)
    with pytest.raises(ValueError, match="queries must have shape"):
        FaissIndex(8, "Flat").add(torch.randn(4, 8)).search(torch.randn(1, 7), 1)
    with pytest.raises(ValueError, match="approx_ids must have shape"):
        recall_vs_exact(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
