"""`make bench`: run every bench/bench_*.py module's run(), print the figures, write BENCHMARKS.md.

Each module's run() returns figures as dicts: name, value, unit, target (an upper bound: a number,
or a string such as "< 50" or "<= 3x") and optionally floor (what the raw tool takes alone:
COPY, WeasyPrint, one SQL aggregate, drawing random numbers).

`python -m bench load pricing` (`make bench BENCH="load pricing"`) runs only the named modules and
leaves BENCHMARKS.md alone; `--list` lists them.
"""

from __future__ import annotations

import argparse
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
# The development defaults (DEBUG, the fixed key) unless the caller says otherwise; bench_load's
# servers run production settings on their own.
os.environ.setdefault("CAREBUNDLE_ENV", "development")


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


def _num(value) -> str:
    """A figure as people read it: four significant digits for measurements, integers as they are."""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return "" if value is None else str(value)


def _target(target) -> str:
    """An upper bound given as a bare number reads as "< N", like the ones given as text; a count that
    must be zero (errors) reads as "0"."""
    if target is None or target == "":
        return ""
    if isinstance(target, int | float):
        return "0" if target == 0 else f"< {target:g}"
    return str(target)


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _parse(argv: list[str], available: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks (bench/bench_*.py), print each figure beside its target and floor. "
        "With no module names every benchmark runs and BENCHMARKS.md is written; with names only "
        "those run and BENCHMARKS.md is left alone (a partial table would replace the full one). "
        '`make bench BENCH="load pricing"` passes names through make.',
    )
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help="run only these, e.g. `load pricing` (or bench_load); one of: "
        + ", ".join(m.removeprefix("bench_") for m in available),
    )
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in available and f"bench_{m}" not in available]
    if unknown:
        parser.error(
            f"no benchmark module {', '.join(unknown)}; there are: "
            + ", ".join(m.removeprefix("bench_") for m in available)
        )
    return args


def main(argv: list[str] | None = None) -> int:
    modules = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    args = _parse(sys.argv[1:] if argv is None else argv, modules)
    if args.list:
        print("\n".join(modules))
        return 0
    only = {m if m.startswith("bench_") else f"bench_{m}" for m in args.modules}
    figures: list[dict] = []
    failures: list[str] = []
    loadavg_start = _loadavg()
    for name in modules:
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            for figure in module.run():
                figure["module"] = name
                figures.append(figure)
                floor = f"  floor {_num(figure['floor'])}" if figure.get("floor") not in (None, "") else ""
                target = (
                    f"  target {_target(figure['target'])}" if figure.get("target") not in (None, "") else ""
                )
                print(
                    f"  {figure['name']:<48} {_num(figure['value']):>10} {figure.get('unit', '')}"
                    f"{target}{floor}  {_verdict(figure)}",
                    flush=True,
                )
        except Exception:  # one broken benchmark must not hide the others' figures
            failures.append(name)
            traceback.print_exc()
    loadavg_end = _loadavg()
    missed = [f["name"] for f in figures if _verdict(f) == "MISSED"]
    if missed:
        print(f"{len(missed)} figures missed their target: {', '.join(missed)}")
    if failures:
        print("Benchmarks that failed to run: " + ", ".join(failures))
    if only:
        print(
            f"BENCHMARKS.md not written: only {', '.join(sorted(only))} ran (run with no names to write it); "
            f"load average {loadavg_start} at the start, {loadavg_end} at the end"
        )
        return 1 if failures else 0
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {_machine()}.",
        f"Load average (1, 5, 15 min) {loadavg_start} at the start, {loadavg_end} at the end: other work on the "
        "machine makes the timings noisier.",
        "",
        "| figure | value | unit | target | floor | |",
        "|---|---:|---|---|---:|---|",
    ]
    for f in figures:
        lines.append(
            f"| `{f['name']}` | {_num(f['value'])} | {f.get('unit', '')} | {_target(f.get('target'))} | "
            f"{_num(f.get('floor'))} | {_verdict(f)} |"
        )
    if failures:
        lines += ["", "Benchmarks that failed to run: " + ", ".join(failures)]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote BENCHMARKS.md ({len(figures)} figures)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
