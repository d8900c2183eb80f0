"""`make bench`: run every bench/bench_*.py module's run(), print the figures, write BENCHMARKS.md.

Each module's run() returns figures as dicts: name, value, unit, target (an upper bound: a number,
or a string such as "< 50" or "<= 3x") and optionally floor (what the raw tool takes alone:
COPY, WeasyPrint, one SQL aggregate, drawing random numbers).
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _bound(target) -> float | None:
    if target is None or target == "":
        return None
    if isinstance(target, int | float):
        return float(target)
    match = re.search(r"[-+]?\d*\.?\d+", str(target))
    return float(match.group()) if match else None


def _verdict(figure: dict) -> str:
    bound = _bound(figure.get("target"))
    if bound is None:
        return ""
    return "ok" if float(figure["value"]) <= bound else "MISSED"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def main() -> int:
    only = set(sys.argv[1:])
    modules = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    figures: list[dict] = []
    failures: list[str] = []
    for name in modules:
        if only and name not in only and name.removeprefix("bench_") not in only:
            continue
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            for figure in module.run():
                figure["module"] = name
                figures.append(figure)
                floor = f"  floor {figure['floor']}" if figure.get("floor") not in (None, "") else ""
                print(f"  {figure['name']:<48} {figure['value']:>10} {figure.get('unit', '')}"
                      f"  target {figure.get('target')}{floor}  {_verdict(figure)}", flush=True)
        except Exception:  # one broken benchmark must not hide the others' figures
            failures.append(name)
            traceback.print_exc()
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {_machine()}.",
        "",
        "| figure | value | unit | target | floor | |",
        "|---|---:|---|---|---:|---|",
    ]
    for f in figures:
        floor = f.get("floor")
        lines.append(f"| `{f['name']}` | {f['value']} | {f.get('unit', '')} | {f.get('target', '')} | "
                     f"{'' if floor is None else floor} | {_verdict(f)} |")
    if failures:
        lines += ["", "Benchmarks that failed to run: " + ", ".join(failures)]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote BENCHMARKS.md ({len(figures)} figures)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
