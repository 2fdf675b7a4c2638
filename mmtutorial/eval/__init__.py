"""Evaluation: retrieval (recall@k), zero-shot classification, vector indexes, interpretability, robustness."""
