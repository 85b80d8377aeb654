"""What a benchmark ran on, recorded beside its figures: numbers mean little without the machine."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path

from rich.console import Console, RenderableType


def describe() -> dict[str, object]:
    """CPU model, core count, Python and model-runtime versions, and when the run happened.

    Versions come from the installed packages' metadata: importing torch only to ask would add
    seconds to every benchmark.
    """
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": _version("onnxruntime"),
        "torch": _version("torch"),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def publish(result: dict, rendered: RenderableType, out: Path | None) -> None:
    """Print a benchmark's table and, when asked, write its figures as JSON."""
    # Rich wraps at 80 columns when not writing to a terminal: a saved table should not wrap.
    Console(highlight=False, width=None if sys.stdout.isatty() else 160).print(rendered)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
