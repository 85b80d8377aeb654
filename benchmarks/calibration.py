"""Draw the reader's calibration chart: stated confidence against how often answers were right.

    python benchmarks/calibration.py --figures build/reader/figures.json \
        --out benchmarks/charts/calibration.png

`figures.json` is what `train_reader.py` writes; its "calibration_points" part holds, for the
held-out tune and test articles, every question's confidence and whether its short answer was right
(F1 of at least 0.5 against a gold answer; an unanswerable question is never answered right).
Needs the `train` extra (matplotlib).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from factdesk.evaluation.metrics import calibration_bins, expected_calibration_error


def draw(calibration: dict[str, list[list]], out: Path) -> dict[str, float]:
    """One reliability curve per split; returns each split's expected calibration error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5), dpi=110)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    errors = {}
    for name, rows in calibration.items():
        scored = [(float(c), bool(r)) for c, r in rows]
        errors[name] = round(expected_calibration_error(scored), 4)
        bins = calibration_bins(scored)
        axes.plot(
            [c for c, _, _ in bins],
            [r for _, r, _ in bins],
            marker="o",
            label=f"{name} articles ({len(scored)} questions, ECE {errors[name]:.3f})",
        )
    axes.set_xlabel("confidence factdesk gives")
    axes.set_ylabel("share of answers that were right")
    axes.set_title("Reader calibration on held-out SQuAD articles")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=Path, required=True, help="train_reader.py's JSON")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args()
    report = json.loads(args.figures.read_text())
    # readers measured before the calibration had named weights kept the points as "calibration"
    points = report.get("calibration_points", report["calibration"])
    errors = draw(points, args.out)
    print(json.dumps({"expected_calibration_error": errors, "chart": str(args.out)}))


if __name__ == "__main__":
    main()
