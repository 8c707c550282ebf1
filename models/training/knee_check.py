"""Build the pixel model of the knee check ("is this a knee crop the grader can grade?").

Run:  /usr/bin/python3 models/training/knee_check.py [--data ../shared/data/knee-kl]

Writes models/knee-kl/knee-check.json, read by src/grading/knee-check.ts.

Why this model: the grader only ever saw centred knee-joint crops, so the check asks how
well an image is explained by the appearance of those crops, not what else it might be.
It is an "eigen-knee" model in the sense of the eigenface method (Turk & Pentland, 1991):

  1. thumbnail: area-average the whole image to 32 x 32 (every source pixel weighted by
     the share of it that falls in the output cell; aspect not preserved), then
     standardise per image (zero mean, unit population variance), so exposure,
     brightness and contrast do not matter;
  2. polarity: 70 of the 5778 train crops are stored inverted (bone dark). Each thumbnail
     is flipped to bone-bright polarity by the sign of its correlation with the mean of
     all thumbnails, so that the model describes one polarity and inversion can be
     detected and named;
  3. PCA of the train thumbnails: mean knee and the first k principal components;
  4. three statistics of an image x (standardised, polarity-normalised):
       residual     = |x - mu - P(x - mu)|^2 / D, the "distance from feature space"
                      (Moghaddam & Pentland, 1997) as the share of the image's variance
                      that the k eigen-knees cannot explain;
       mahalanobis  = sum_i y_i^2 / lambda_i with y = components . (x - mu), the "distance
                      in feature space": unusual mixtures of knee-like patterns;
       correlation  = Pearson correlation of x with the mean knee (template match);
  5. limits from the TRAIN distribution only (val is never used to choose anything):
       residual, mahalanobis: limit = P99.5(train) x 1.5
       correlation:           limit = median - 1.5 x (median - P0.5(train))
     and each statistic is normalised to z = (t - median) / (limit - median): 0 is a
     typical train knee, 1 is the acceptance limit;
  6. knee-likeness score = 0.5 ** max(0, max z): 1 for a typical knee, 0.5 at the limit,
     halving with every further limit-width. Accepted when score >= 0.5.
  7. orientation: the combined Gaussian distance d = mahalanobis + D * residual / rho
     (rho = mean discarded eigenvalue, Moghaddam & Pentland) of the image turned by 180
     degrees is compared with d of the image as given; an image that fits better upside
     down is refused as upside down.

The same arithmetic is implemented in src/grading/knee-check.ts; the `selfTest` entries
of the JSON (statistics of some train files computed here from the rounded model) hold
the two implementations together.

Afterwards the script prints the val acceptance rate of the pixel check (val is only
reported, never used for a choice).
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

# Keep CPU use modest: a training job shares this machine.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

VERSION = "1.0.0"
THUMBNAIL = 32
# 20 eigen-knees explain 87 % of the train variance. Fewer let a knee turned by 90 degrees
# fit too well; more widen the train tail of the residual without separating non-knees better.
COMPONENTS = 20
PERCENTILE = 99.5
MARGIN = 1.5
SCORE_LIMIT = 0.5
# Smallest side the check accepts: half of the grader's 224-pixel input; anything smaller
# would be enlarged more than twice before grading.
MIN_SIDE = 112
# Standard deviation (8-bit levels) below which an image is called blank.
MIN_STD = 2.0
# Refuse as upside down when d(turned 180) < UPSIDE_DOWN_RATIO * d(as given).
UPSIDE_DOWN_RATIO = 1.0
SIGNIFICANT = 6
GRADES = 5

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "knee-kl"
DEFAULT_OUT = REPO / "models" / "knee-kl" / "knee-check.json"


def area_weights(source: int, target: int) -> np.ndarray:
    """(target, source) matrix of area-averaging weights along one axis.

    Output cell j covers the source interval [j * s, (j + 1) * s) with s = source / target;
    source pixel i (the interval [i, i + 1)) gets weight overlap / s. Works for shrinking
    and enlarging; rows sum to 1.
    """
    scale = source / target
    weights = np.zeros((target, source), dtype=np.float64)
    for j in range(target):
        low, high = j * scale, (j + 1) * scale
        first = int(np.floor(low))
        last = min(source, int(np.ceil(high)))
        for i in range(first, last):
            overlap = min(high, i + 1) - max(low, i)
            if overlap > 0:
                weights[j, i] = overlap / scale
    return weights


def thumbnail(pixels: np.ndarray, size: int = THUMBNAIL) -> np.ndarray:
    """Whole image (H, W) area-averaged to (size, size) float64: rows first, then columns."""
    height, width = pixels.shape
    across = pixels.astype(np.float64) @ area_weights(width, size).T
    return area_weights(height, size) @ across


def standardise(thumbs: np.ndarray) -> np.ndarray:
    """(N, size, size) to (N, D) rows of zero mean and unit population variance."""
    flat = thumbs.reshape(len(thumbs), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    std = flat.std(axis=1, keepdims=True)
    return flat / np.where(std > 0, std, 1.0)


def list_split(root: Path) -> list[Path]:
    files = []
    for grade in range(GRADES):
        folder = root / str(grade)
        files += sorted(folder / name for name in os.listdir(folder) if name.endswith(".png"))
    return files


def read_gray(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.uint8)


def split_thumbnails(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Thumbnails and full-image standard deviations of a list of files."""
    thumbs = np.zeros((len(files), THUMBNAIL, THUMBNAIL))
    stds = np.zeros(len(files))
    for index, path in enumerate(files):
        pixels = read_gray(path)
        thumbs[index] = thumbnail(pixels)
        stds[index] = pixels.std()
    return thumbs, stds


def rounded(values) -> list:
    """Floats to SIGNIFICANT significant digits (keeps the JSON small and exact to read)."""
    array = np.asarray(values, dtype=np.float64)
    return [float(f"{value:.{SIGNIFICANT}g}") for value in array.reshape(-1)]


class Model:
    """The fitted subspace, in the rounded form written to the JSON."""

    def __init__(self, mean, basis, eigenvalues, rho):
        self.mean = np.asarray(mean)
        self.basis = np.asarray(basis)
        self.eigenvalues = np.asarray(eigenvalues)
        self.rho = float(rho)
        self.dims = self.mean.size
        self.norm_mean = float(np.linalg.norm(self.mean))

    def correlation(self, x: np.ndarray) -> np.ndarray:
        return (x @ self.mean) / (np.sqrt(self.dims) * self.norm_mean)

    def statistics(self, x: np.ndarray) -> np.ndarray:
        """(N, 3): residual, mahalanobis, correlation of polarity-normalised rows."""
        centred = x - self.mean
        y = centred @ self.basis.T
        residual = np.maximum((centred**2).sum(axis=1) - (y**2).sum(axis=1), 0.0) / self.dims
        mahalanobis = (y**2 / self.eigenvalues).sum(axis=1)
        return np.stack([residual, mahalanobis, self.correlation(x)], axis=1)

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Combined Gaussian distance d = mahalanobis + D * residual / rho."""
        stats = self.statistics(x)
        return stats[:, 1] + self.dims * stats[:, 0] / self.rho


def turned(x: np.ndarray) -> np.ndarray:
    """Standardised rows of thumbnails turned by 180 degrees."""
    return x[:, ::-1].copy()


def scores(stats: np.ndarray, medians: np.ndarray, limits: np.ndarray) -> np.ndarray:
    z = (stats - medians) / (limits - medians)
    return 0.5 ** np.maximum(0.0, z.max(axis=1))


def fit(train: np.ndarray) -> tuple[Model, np.ndarray, int]:
    """PCA of polarity-normalised standardised thumbnails; returns model, signs, inverted count."""
    first_mean = train.mean(axis=0)
    signs = np.where(train @ first_mean >= 0, 1.0, -1.0)
    normalised = train * signs[:, None]
    mean = normalised.mean(axis=0)
    centred = normalised - mean
    covariance = centred.T @ centred / (len(centred) - 1)
    eigenvalues, vectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    dims = train.shape[1]
    rho = eigenvalues[COMPONENTS:].clip(min=0).sum() / (dims - COMPONENTS)
    model = Model(
        rounded(mean),
        np.array(rounded(vectors[:, :COMPONENTS].T)).reshape(COMPONENTS, dims),
        rounded(eigenvalues[:COMPONENTS]),
        rounded([rho])[0],
    )
    explained = eigenvalues[:COMPONENTS].sum() / eigenvalues.clip(min=0).sum()
    print(f"PCA: {COMPONENTS} components explain {explained:.1%} of the variance; rho {rho:.5f}")
    return model, signs, int((signs < 0).sum())


def polarity_normalise(model: Model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    signs = np.where(model.correlation(x) >= 0, 1.0, -1.0)
    return x * signs[:, None], signs


def data_fingerprint(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="knee-kl folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--thumbnail",
        type=Path,
        nargs="+",
        help="only print the thumbnails of these images as JSON (parity tests) and exit",
    )
    args = parser.parse_args()
    if args.thumbnail:
        thumbs = {str(path): thumbnail(read_gray(path)).reshape(-1).tolist() for path in args.thumbnail}
        print(json.dumps(thumbs))
        return 0
    data = args.data.resolve()

    train_files = list_split(data / "train")
    val_files = list_split(data / "val")
    print(f"reading {len(train_files)} train and {len(val_files)} val images from {data}")
    train_thumbs, train_stds = split_thumbnails(train_files)
    train = standardise(train_thumbs)

    model, train_signs, inverted = fit(train)
    train_norm, _ = polarity_normalise(model, train)
    stats = model.statistics(train_norm)
    medians = np.median(stats, axis=0)
    upper = np.percentile(stats[:, :2], PERCENTILE, axis=0)
    lower = np.percentile(stats[:, 2], 100 - PERCENTILE)
    limits = np.array(
        [upper[0] * MARGIN, upper[1] * MARGIN, medians[2] - MARGIN * (medians[2] - lower)]
    )
    medians = np.array(rounded(medians))
    limits = np.array(rounded(limits))
    ratio = model.distance(turned(train_norm)) / model.distance(train_norm)
    train_scores = scores(stats, medians, limits)
    train_upside = ratio < UPSIDE_DOWN_RATIO
    print(
        f"train: {inverted} stored inverted; knee-likeness below {SCORE_LIMIT} for "
        f"{(train_scores < SCORE_LIMIT).sum()}, upside-down test trips on {train_upside.sum()}; "
        f"blank {(train_stds < MIN_STD).sum()}"
    )

    names = ["residual", "mahalanobis", "correlation"]
    for name, median, limit in zip(names, medians, limits):
        print(f"  {name}: median {median:.6g}, limit {limit:.6g}")

    self_test = []
    for index in [0, len(train_files) // 2, int(np.argmin(train_signs))]:
        row = train_norm[index : index + 1]
        self_test.append(
            {
                "file": str(train_files[index].relative_to(data)),
                "polarity": "inverted" if train_signs[index] < 0 else "normal",
                "residual": rounded(stats[index, 0])[0],
                "mahalanobis": rounded(stats[index, 1])[0],
                "correlation": rounded(stats[index, 2])[0],
                "score": rounded(train_scores[index])[0],
                "upsideDownRatio": rounded(model.distance(turned(row)) / model.distance(row))[0],
            }
        )

    document = {
        "kind": "jointspace-knee-check",
        "version": VERSION,
        "built": {
            "by": "models/training/knee_check.py",
            "from": "knee-kl train split only",
            "trainImages": len(train_files),
            "trainInverted": inverted,
            "trainFingerprint": data_fingerprint(train_files, data),
            "method": (
                "PCA eigen-knees of area-averaged, per-image standardised, "
                "polarity-normalised thumbnails; limits = train P99.5 x 1.5 "
                "(correlation: median - 1.5 x (median - P0.5))"
            ),
        },
        "thumbnail": {
            "size": THUMBNAIL,
            "resize": "area average of the whole image (aspect not preserved), rows then columns",
            "standardise": "per image: subtract mean, divide by population standard deviation",
        },
        "pixels": {"minSide": MIN_SIDE, "minStd": MIN_STD},
        "subspace": {
            "components": COMPONENTS,
            "mean": rounded(model.mean),
            "basis": [rounded(row) for row in model.basis],
            "eigenvalues": rounded(model.eigenvalues),
            "rho": model.rho,
        },
        "statistics": {
            name: {"median": float(median), "limit": float(limit)}
            for name, median, limit in zip(names, medians, limits)
        },
        "acceptance": {
            "percentile": PERCENTILE,
            "margin": MARGIN,
            "scoreLimit": SCORE_LIMIT,
            "upsideDownRatio": UPSIDE_DOWN_RATIO,
        },
        "selfTest": self_test,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, separators=(",", ":")) + "\n"
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text) / 1024:.0f} KiB)")

    # Val: reported only, never used to choose anything above.
    val_thumbs, val_stds = split_thumbnails(val_files)
    val = standardise(val_thumbs)
    val_norm, val_signs = polarity_normalise(model, val)
    val_scores = scores(model.statistics(val_norm), medians, limits)
    val_ratio = model.distance(turned(val_norm)) / model.distance(val_norm)
    knee_like = (
        (val_scores >= SCORE_LIMIT) & (val_ratio >= UPSIDE_DOWN_RATIO) & (val_stds >= MIN_STD)
    )
    inverted_val = val_signs < 0
    print(
        f"val: {knee_like.sum()}/{len(val_files)} knee-like by pixels "
        f"({knee_like.mean():.2%}); {inverted_val.sum()} of them stored inverted "
        f"(accepted with polarity 'inverted' by default; refused under policy 'refuse': "
        f"{(knee_like & ~inverted_val).mean():.2%}); min score {val_scores.min():.3f}"
    )
    for index in np.where(~knee_like)[0]:
        print(
            f"  not knee-like: {val_files[index].relative_to(data)} score {val_scores[index]:.3f} "
            f"upside-down ratio {val_ratio[index]:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
