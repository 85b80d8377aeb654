"""Upgrade the lock on purpose, and show what moved: packages, answers, speed.

`make upgrade` runs it. It measures the installed environment first (the seed and paraphrased
question sets through `factdesk eval`), takes the newest releases that pyproject.toml allows into
requirements.lock (`make lock` with --upgrade), installs them exactly, measures again, runs the
quality tests, and prints the packages that changed beside the figures before and after. It
writes the whole report as JSON (--out). Nothing is committed: read the report, then commit the
lock with a line in CHANGELOG.md, or put the old lock back (`git checkout requirements.lock`).

    python benchmarks/upgrade.py --lock requirements.lock --out benchmarks/results/upgrade.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FACTDESK = REPO / ".venv" / "bin" / "factdesk"
PYTHON = REPO / ".venv" / "bin" / "python"
# The question sets the quality tests gate, asked the way the tests ask them.
SETS = {
    "seed": [],
    "paraphrased": [
        "--questions",
        "tests/paraphrased_questions.jsonl",
        "--articles",
        "seeds",
        "--articles",
        "tests/data/news",
    ],
}
FIGURES = ("hit@1", "answer_has_evidence", "declined_unanswerable", "wrongly_declined")
QUALITY_TESTS = ["tests/test_quality.py", "tests/test_evaluation.py", "tests/test_reader.py"]
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", re.M)


def pins(lock: Path) -> dict[str, str]:
    return {name.lower(): version for name, version in _PIN.findall(lock.read_text())}


def moved(before: dict[str, str], after: dict[str, str]) -> list[dict]:
    return [
        {"package": name, "before": before.get(name), "after": after.get(name)}
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def figures() -> dict[str, dict]:
    """Each question set's figures from `factdesk eval --json`, top-k 3 as the tests ask."""
    result = {}
    for name, options in SETS.items():
        run = subprocess.run(
            [str(FACTDESK), "eval", "--json", "--top-k", "3", *options],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode not in (0, 7):
            sys.exit(f"Error: factdesk eval failed on the {name} set:\n{run.stderr[-2000:]}")
        report = json.loads(run.stdout)["figures"]
        result[name] = {key: report.get(key) for key in FIGURES}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=REPO / "requirements.lock")
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    args = parser.parse_args()
    old = pins(args.lock)
    print("Measuring the installed environment…", flush=True)
    before = figures()
    subprocess.run(["make", "lock", "LOCK_UPGRADE=--upgrade"], cwd=REPO, check=True)
    changes = moved(old, pins(args.lock))
    if not changes:
        print("Nothing newer: the lock is unchanged.")
        return
    subprocess.run(["make", "install"], cwd=REPO, check=True)
    print("Measuring the upgraded environment…", flush=True)
    after = figures()
    tests = subprocess.run(
        [str(PYTHON), "-m", "pytest", "-q", "-n", "auto", *QUALITY_TESTS], cwd=REPO, check=False
    )
    print(f"\n{len(changes)} packages changed:")
    for change in changes:
        print(f"  {change['package']}: {change['before'] or '—'} -> {change['after'] or '—'}")
    print("\nFigures (before -> after):")
    for name in SETS:
        for key in FIGURES:
            print(f"  {name} {key}: {before[name][key]} -> {after[name][key]}")
    verdict = "pass" if tests.returncode == 0 else "FAIL"
    print(f"\nQuality tests: {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"packages": changes, "before": before, "after": after, "quality_tests": verdict},
            indent=2,
        )
        + "\n"
    )
    print(f"Wrote {args.out}. Commit the lock with a CHANGELOG.md line, or git checkout it back.")


if __name__ == "__main__":
    main()
