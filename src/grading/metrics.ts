/**
 * Agreement between predicted and reference KL grades. The definitions match
 * models/training/metrics.py, so figures from `jointspace eval` and from
 * training are comparable.
 */
import { GRADES } from './model.js';

export interface GradingMetrics {
  n: number;
  accuracy: number;
  /** Cohen's kappa with quadratic weights. */
  qwk: number;
  mae: number;
  /** ROC AUC of P(KL >= 2) for the radiographic OA definition KL >= 2 vs < 2. */
  auc_kl2: number;
  /** Recall per grade 0..4; NaN where the grade has no reference case. */
  recall: number[];
  /** Rows are the reference grade, columns the prediction. */
  confusion: number[][];
}

export interface Prediction {
  truth: number;
  probabilities: number[];
}

function argmax(values: number[]): number {
  let best = 0;
  values.forEach((value, index) => {
    if (value > (values[best] ?? -Infinity)) best = index;
  });
  return best;
}

export function confusionMatrix(truth: number[], predicted: number[]): number[][] {
  const matrix = Array.from({ length: GRADES }, () => new Array<number>(GRADES).fill(0));
  truth.forEach((t, i) => {
    const row = matrix[t];
    const p = predicted[i];
    if (row === undefined || p === undefined || p < 0 || p >= GRADES) {
      throw new RangeError(`grade out of range: truth ${t}, predicted ${String(p)}`);
    }
    row[p] = (row[p] ?? 0) + 1;
  });
  return matrix;
}

export function quadraticWeightedKappa(matrix: number[][]): number {
  const rowSums = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const columnSums = matrix[0]?.map((_, j) => matrix.reduce((a, row) => a + (row[j] ?? 0), 0));
  const n = rowSums.reduce((a, b) => a + b, 0);
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < GRADES; i++) {
    for (let j = 0; j < GRADES; j++) {
      const weight = (i - j) ** 2 / (GRADES - 1) ** 2;
      observed += weight * (matrix[i]?.[j] ?? 0);
      expected += (weight * (rowSums[i] ?? 0) * (columnSums?.[j] ?? 0)) / n;
    }
  }
  return expected === 0 ? 1 : 1 - observed / expected;
}

/** ROC AUC by the Mann–Whitney rank sum, ties counted half. */
export function rocAuc(scores: number[], positive: boolean[]): number {
  const order = scores.map((score, index) => ({ score, index })).sort((a, b) => a.score - b.score);
  const ranks = new Array<number>(scores.length).fill(0);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.score === order[i]?.score) j++;
    for (let k = i; k <= j; k++) ranks[order[k]?.index ?? 0] = (i + j) / 2 + 1;
    i = j + 1;
  }
  const nPositive = positive.filter(Boolean).length;
  const nNegative = positive.length - nPositive;
  if (nPositive === 0 || nNegative === 0) return Number.NaN;
  const rankSum = ranks.reduce((sum, rank, i) => (positive[i] === true ? sum + rank : sum), 0);
  return (rankSum - (nPositive * (nPositive + 1)) / 2) / (nPositive * nNegative);
}

export function summarise(predictions: Prediction[]): GradingMetrics {
  const truth = predictions.map((p) => p.truth);
  const predicted = predictions.map((p) => argmax(p.probabilities));
  const confusion = confusionMatrix(truth, predicted);
  const n = predictions.length;
  const correct = confusion.reduce((sum, row, i) => sum + (row[i] ?? 0), 0);
  const absoluteError = truth.reduce((sum, t, i) => sum + Math.abs(t - (predicted[i] ?? t)), 0);
  const recall = confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? Number.NaN : (row[i] ?? 0) / total;
  });
  const oaScore = predictions.map((p) => p.probabilities.slice(2).reduce((a, b) => a + b, 0));

  return {
    n,
    accuracy: n === 0 ? Number.NaN : correct / n,
    qwk: quadraticWeightedKappa(confusion),
    mae: n === 0 ? Number.NaN : absoluteError / n,
    auc_kl2: rocAuc(
      oaScore,
      truth.map((t) => t >= 2),
    ),
    recall,
    confusion,
  };
}

/**
 * Expected calibration error over equal-width confidence bins (Guo et al.
 * 2017), confidence being the probability of the predicted grade; the same
 * definition as models/training/metrics.py.
 */
export function expectedCalibrationError(predictions: Prediction[], bins = 15): number {
  const totals = Array.from({ length: bins }, () => ({ n: 0, confidence: 0, correct: 0 }));
  for (const prediction of predictions) {
    const grade = argmax(prediction.probabilities);
    const confidence = prediction.probabilities[grade] ?? 0;
    // Bins are (low, high]; a confidence of exactly 0 belongs to none, as in numpy's version.
    if (confidence <= 0) continue;
    const bin = totals[Math.min(bins - 1, Math.ceil(confidence * bins) - 1)];
    if (bin === undefined) continue;
    bin.n++;
    bin.confidence += confidence;
    if (grade === prediction.truth) bin.correct++;
  }
  return totals.reduce(
    (sum, bin) =>
      bin.n === 0
        ? sum
        : sum +
          (bin.n / predictions.length) * Math.abs(bin.correct / bin.n - bin.confidence / bin.n),
    0,
  );
}
