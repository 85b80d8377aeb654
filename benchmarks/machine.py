"""What a benchmark ran on, recorded beside its figures: numbers mean little without the machine."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def describe() -> dict[str, object]:
    """CPU model, core count, Python and torch versions, and when the run happened."""
    import torch

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
