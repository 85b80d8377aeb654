"""The reader's calibration: from a span's named features to the probability that it is the right
answer, a logistic curve fitted on held-out articles (benchmarks/train_reader.py).

Its weights are the "calibration" object of the reader's `reader.json`: `{"weights": {FEATURE:
weight, ...}, "intercept": ...}`, or the first reader's keys (`slope` for the margin, `passage`
for the passage's cosine, `intercept`), which mean the same. The features a span has are named
in decision.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from factdesk.errors import ConfigError


@dataclass(frozen=True)
class Calibration:
    """A weight per named feature and an intercept."""

    weights: Mapping[str, float]
    intercept: float = 0.0

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Calibration:
        """The calibration a reader.json "calibration" object describes (empty: the margin
        alone, at weight 1)."""
        try:
            if "weights" in config:
                weights = {str(name): float(w) for name, w in dict(config["weights"]).items()}
            else:  # the first reader's keys
                weights = {
                    "margin": float(config.get("slope", 1.0)),
                    "passage_cosine": float(config.get("passage", 0.0)),
                }
            return cls(weights, float(config.get("intercept", 0.0)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"The reader's calibration cannot be read: {exc}.") from None

    def confidence(self, features: Mapping[str, float]) -> float:
        """The calibrated probability for a span with these features (a mapping that holds at
        least every feature weighed)."""
        z = 0.0
        for name, weight in self.weights.items():
            z += weight * features[name]
        z += self.intercept
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
