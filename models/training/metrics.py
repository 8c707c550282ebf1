"""Grading metrics; the same definitions as src/grading/metrics.ts."""

import numpy as np

GRADES = 5


def confusion(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    matrix = np.zeros((GRADES, GRADES), dtype=np.int64)
    for t, p in zip(truth, pred):
        matrix[t, p] += 1
    return matrix


def quadratic_kappa(matrix: np.ndarray) -> float:
    n = matrix.sum()
    grades = np.arange(GRADES)
    weights = (grades[:, None] - grades[None, :]) ** 2 / (GRADES - 1) ** 2
    expected = np.outer(matrix.sum(1), matrix.sum(0)) / n
    return float(1.0 - (weights * matrix).sum() / (weights * expected).sum())


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula, ties counted half."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    n_pos = positive.sum()
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def expected_calibration_error(probs: np.ndarray, truth: np.ndarray, bins: int) -> float:
    confidence = probs.max(1)
    correct = probs.argmax(1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def reliability(probs: np.ndarray, truth: np.ndarray, bins: int) -> list[dict]:
    """Per confidence bin: count, mean confidence, accuracy (a reliability diagram's data)."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            rows.append(
                {
                    "from": round(float(low), 4),
                    "to": round(float(high), 4),
                    "count": int(inside.sum()),
                    "confidence": float(confidence[inside].mean()),
                    "accuracy": float(correct[inside].mean()),
                }
            )
    return rows


def summarise(probs: np.ndarray, truth: np.ndarray, bins: int = 15) -> dict:
    pred = probs.argmax(1)
    matrix = confusion(truth, pred)
    recall = [float(matrix[g, g] / max(1, matrix[g].sum())) for g in range(GRADES)]
    return {
        "n": int(len(truth)),
        "accuracy": float((pred == truth).mean()),
        "qwk": quadratic_kappa(matrix),
        "mae": float(np.abs(pred - truth).mean()),
        "auc_kl2": auc(probs[:, 2:].sum(1), truth >= 2),
        "recall": recall,
        "confusion": matrix.tolist(),
        "ece": expected_calibration_error(probs, truth, bins),
        "reliability": reliability(probs, truth, bins),
    }
