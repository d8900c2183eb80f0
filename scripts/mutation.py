"""Mutation testing of the pure money modules (issue 21): ``make mutate`` and ``make mutate-check``.

Each module in :data:`MODULES` is mutated by mutmut on its own, against its own fast pure tests
only (no database, no Django: pytest runs with ``-p no:django``), in a scratch directory
``var/mutation/<module>/`` that holds a generated ``pyproject.toml``, the packages the module
imports and a copy of exactly those test files. Nothing in the repository is mutated in place.

Commands::

    python scripts/mutation.py run [MODULE ...]     # every module (or those named); writes MUTATION.md
    python scripts/mutation.py check [--changed]    # fails when a module scores under its floor
    python scripts/mutation.py show MODULE          # the surviving mutants of the last run, as diffs

A module joins with one line in :data:`MODULES`: its path, its pure test files and, when it needs
more than its own package and ``core``, the other packages its tests import.

What counts (the rules MUTATION.md restates):

- killed: a test failed (or the mutant ran out of time: a loop that never ends is caught);
- survived: every test passed, or no test reached the mutated function;
- message: the mutant changes only the *wording* of a message or a label, never a code, a key or a
  number. Precisely: each change it makes is either to a string literal that contains whitespace
  (prose: messages, labels, sentences; codes, keys and formats are single words), or lies inside
  the message argument of an exception, of ``Problem(code, message)``,
  ``Problem.at_path(path, code, message)``, ``Problem.at_cell(row, column, code, message)``, or of
  a ``message=``/``label=`` keyword (dropping that keyword included);
- equivalent: no test can tell the mutant from the original (a dropped numpy dtype, a cache
  bypassed, a solver's cap never reached); each is named in :data:`EQUIVALENT` by its function and
  mutated line, with the reason;
- ``# pragma: no mutate`` on a line stops mutmut generating mutants there; none is used today, and
  MUTATION.md would list every such line with the reason its comment gives.

Message and equivalent mutants are counted and listed in MUTATION.md, not dropped, and left out
of the score: score = killed / (mutants - message - equivalent). ``check`` fails when a module
scores under its floor (95%).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutation"
REPORT = ROOT / "MUTATION.md"
FLOOR = 95.0


@dataclass(frozen=True)
class Target:
    """A pure money module and the fast tests that must pin it."""

    path: str
    tests: tuple[str, ...]
    #: Top-level packages the module and its tests import besides its own and ``core``.
    packages: tuple[str, ...] = ()
    floor: float = FLOOR

    @property
    def slug(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    @property
    def source_paths(self) -> list[str]:
        return sorted({"core", self.path.split("/")[0], *self.packages})


# One line per module. Tests are pure (no database, no Django); a conftest.py or helper module a test
# needs is listed with the tests.
MODULES: list[Target] = [
    Target(
        "core/domain/money.py",
        ("tests/core/domain/test_money.py",),
    ),
    Target(
        "core/domain/months.py",
        ("tests/core/domain/test_months.py", "tests/core/domain/test_months_edges.py"),
    ),
    Target(
        "enrollment/calc.py",
        ("tests/enrollment/test_member_months.py", "tests/enrollment/test_member_months_calc_edges.py"),
    ),
    Target(
        "payments/calc.py",
        ("tests/payments/test_payment_calc.py", "tests/payments/test_payment_calc_edges.py"),
        packages=("enrollment",),
    ),
    Target("payments/recovery.py", ("tests/payments/test_recovery_calc.py",)),
    Target("payments/episodes.py", ("tests/payments/test_episodes_calc.py",), packages=("enrollment",)),
    Target("enrollment/episodes.py", ("tests/payments/test_episodes_calc.py",), packages=("payments",)),
    Target(
        "pricing/engine/buildup.py",
        (
            "tests/pricing/engine/conftest.py",
            "tests/pricing/engine/test_engine_buildup.py",
            "tests/pricing/engine/test_engine_properties.py",
            "tests/pricing/engine/test_engine_buildup_edges.py",
        ),
        packages=("bundles",),  # the pricing file's phases (pricing.engine.schema)
    ),
    Target(
        "performance/measures.py",
        ("tests/performance/test_performance_measures.py", "tests/performance/test_measures_calc_edges.py"),
        packages=("contracts", "bundles"),  # contracts.rules reads a version's phases (bundles.phases)
    ),
    Target(
        "contracts/rules.py",
        ("tests/contracts/test_contract_rules_calc.py",),
        packages=("bundles",),
    ),
    Target("claims/versions.py", ("tests/claims/lines.py", "tests/claims/test_versions.py")),
    Target("claims/completion.py", ("tests/claims/test_completion.py",)),
    Target("performance/matching.py", ("tests/performance/test_matching.py",), packages=("bundles",)),
    Target("bundles/phases.py", ("tests/bundles/test_phases.py",)),
    Target("pricing/engine/breakeven.py", ("tests/pricing/engine/test_breakeven.py",), packages=("bundles",)),
]


@dataclass(frozen=True)
class Equivalent:
    """A mutant no test can tell from the original: its function, its mutated line, and why.

    ``line`` is the line as the mutant writes it, stripped; a mutant that only drops a line is
    named ``"- <the dropped line>"``. With ``pattern=True`` it is a regular expression that one
    such line must match (for a family of mutants, such as every dropped numpy dtype).
    """

    function: str
    line: str
    reason: str
    pattern: bool = False
    #: The line the mutant replaces, when the mutated line alone does not say which mutant it is.
    original: str = ""

    def matches(
        self, function: str, lines: set[str], removed: frozenset[str] | set[str] = frozenset()
    ) -> bool:
        if function != self.function or (self.original and self.original not in removed):
            return False
        if self.pattern:
            return any(re.search(self.line, line) for line in lines)
        return self.line in lines


# Equivalent mutants, matched by the function and the mutated line (stable when lines move). Each one
# is reported in MUTATION.md with its reason and left out of the score, like a message mutant.
EQUIVALENT: dict[str, list[Equivalent]] = {
    "claims/completion.py": [
        Equivalent(
            "_mack",
            r"columns=\"paid\", (cumulative=None|\)\.incr_to_cum\(\))",
            "incr_to_cum cumulates the cells whether the triangle was told they are incremental or was "
            "told nothing; the flag documents what the cells are",
            pattern=True,
        ),
        Equivalent(
            "_fit",
            "if not paid >= 0 or not math.isfinite(ultimate):  # nothing paid, or factors from nothing paid",
            "chainladder projects no finite ultimate for a month with nothing paid, so the second test "
            "sends it to _complete either way",
        ),
    ],
    "claims/versions.py": [
        Equivalent(
            "version_content",
            r"return tuple\(sorted\(lines, (key=None)?\)\)",
            "a version's lines share member, claim and type (the reader refuses a claim split between "
            "members or types), so sorting them whole orders them by line number first",
            pattern=True,
        ),
    ],
    "payments/episodes.py": [
        Equivalent(
            "episode_amount",
            "if early_exit == PRORATED and days_enrolled <= days:",
            "with every day enrolled, rate x days / days rounded to the cent is the rate rounded to the cent",
        ),
        Equivalent(
            "schedule",
            "due[exit_month] = total - sum(due.values(), )",
            "an empty sum is 0 and a Decimal minus 0 is the same Decimal: the start value changes nothing",
        ),
    ],
    "core/domain/money.py": [
        Equivalent(
            "quantum",
            "return _QUANTA.get(None) or Decimal(1).scaleb(-places)",
            "_QUANTA is a cache of the same values the fallback computes",
        ),
        Equivalent(
            "cents_str",
            "return format(to_cents(amount), )",
            "str() of an amount quantized to the cent never uses an exponent, so it equals format 'f'",
        ),
        Equivalent(
            "cents_str",
            'return format(to_cents(amount), "F")',
            "'F' differs from 'f' only for NaN and infinity, which to_cents never returns",
        ),
    ],
    "payments/calc.py": [
        Equivalent(
            "assessment_line",
            "- rate_cell=None,",
            "dropping rate_cell=None leaves the field at its default, None",
        ),
    ],
    "enrollment/calc.py": [
        Equivalent(
            "member_months_bulk",
            r"dtype=np\.int64, \)$|np\.arange\(len\(members\), (dtype=None)?\)"
            r"|code_rank = np\.array\(\[ranks\[t\] for t in tier_codes\], (dtype=None)?\)",
            "without the count numpy only does not presize the array, and it infers int64 for these "
            "integers by itself",
            pattern=True,
        ),
        Equivalent(
            "member_months_bulk",
            r"sp\.(start|end)\.toordinal\(\) for sp in flat\), dtype=None|\.astype\(None\)",
            "day ordinals and day counts held as floats compare, subtract and convert back the same",
            pattern=True,
        ),
        Equivalent(
            "member_months_bulk",
            r"np\.bincount\(owner, (weights=\(ce - cs\), )?\)",
            "without minlength the counts stop at the last present member; only present members are read",
            pattern=True,
        ),
        Equivalent(
            "member_months_bulk",
            r"chosen = np\.full\(n, (-1, (dtype=None)?\)|[+-][12], dtype=np\.int64\))"
            r"|best = np\.full\(n, (-1, (dtype=None)?\)|-2, dtype=np\.int64\))",
            "the fill is overwritten for every present member (a tier index, or np.maximum.at of a rank "
            "of 0 or more), and only present members are read",
            pattern=True,
        ),
        Equivalent(
            "member_months",
            "s = sp.start if sp.start >= m0 else m0",
            "when the span starts on the 1st both branches give the 1st",
        ),
        Equivalent(
            "member_months",
            "e = m1 if sp.end is None or sp.end >= m1 else sp.end",
            "when the span ends on the next month's 1st both branches give it",
        ),
        Equivalent(
            "member_months",
            r"clipped\.sort\(key=(None|lambda t: t\[1\])\)",
            "spans that do not overlap sort the same by start, by end or as tuples; overlapping ones "
            "raise either way",
            pattern=True,
        ),
        Equivalent(
            "assessment_payable",
            "if lookback_months >= 0:",
            "with a zero window neither half-open window [p, p) nor (d, d) holds any date",
        ),
        Equivalent(
            "assessment_payable",
            "if (p <= d < add_months(p, lookback_months)) or (d <= p < add_months(d, lookback_months)):",
            "d == p already satisfies the first window whenever the window is positive",
        ),
    ],
    "pricing/engine/buildup.py": [
        Equivalent(
            "_shown",
            r'text = text\.rstrip\("(XX0XX|0)"\)\.rstrip\("(XX\.XX|\.)"\)',
            "rstrip takes a set of characters, and a formatted number holds no X",
            pattern=True,
        ),
        Equivalent(
            "_staffing",
            "with localcontext(None):",
            "minutes are products and sums of a few short decimals: exact at 28 digits as at 40",
        ),
        Equivalent(
            "enrolled_months",
            "with localcontext(None):",
            "expected_months_enrolled computes in the engine's own context whatever the caller's",
        ),
        Equivalent(
            "_shown",
            'text = format(value, ".10F")',
            "'F' differs from 'f' only for NaN and infinity, which the engine's context traps",
        ),
        Equivalent(
            "quote",
            "with localcontext(None):",
            "quote only adds, multiplies by a factor and rounds figures computed inside the engine's own "
            "context; 28 digits carry them to the cent and to the 10 places shown",
        ),
        Equivalent(
            "quote",
            r"assessment_buildup\(pf, (market|m), (None)?\)",
            "no scenario means the point scenario, which is what quote passes",
            pattern=True,
        ),
        Equivalent(
            "_staffing",
            "salary_minutes = sum((minutes * salary for _, _, minutes, salary in roles), )",
            "sum starts from 0 then: the same Decimal total",
        ),
        Equivalent(
            "quote",
            "factor = a.lob_factors.get(lob, Decimal(1)) if (lob is not None) or True else Decimal(1)",
            "no LOB is None, which the factors never name, so the default 1 is taken either way",
        ),
        Equivalent(
            "quote",
            '"conversion_rate": format(a.conversion_rate, "F"),',
            "'F' differs from 'f' only for NaN and infinity, which the schema refuses",
        ),
        Equivalent(
            "_assessment_salary_minutes",
            "with localcontext(None):",
            "minutes x salaries are products and sums of a few short decimals: exact at 28 digits as at 40",
        ),
        Equivalent(
            "_assessment_salary_minutes",
            r"for r in assessment\.roles\), \)$",
            "sum starts from 0 then: the same Decimal total",
            pattern=True,
        ),
        Equivalent(
            "_shown_by_object",
            r"known = (None|texts\.get\((None|id\(None\))\))$|texts\[id\(None\)\] = ",
            "the memo only saves formatting a figure again: a miss formats it, and gives the same text",
            pattern=True,
        ),
        Equivalent(
            "quote",
            r"zip\((fee_markets, fee_ranges|cells, cell_ranges), (strict=(None|False))?\)",
            "the ranges are listed one per market (cell) by low_high_all, so the two always have the same length",
            pattern=True,
        ),
        Equivalent(
            "quote",
            'factor_text = format(factor, "F")',
            "'F' differs from 'f' only for NaN and infinity, which the schema refuses",
        ),
        Equivalent(
            "low_high_all",
            "high_end_raises = tuple(lows[i] < highs[i] for lows, highs in ends)",
            "when both ends give the same figure, either end gives it: the combined scenario is the same",
        ),
        Equivalent(
            "low_high_all",
            r"zip\(self\._ends, high_end_raises, (strict=(None|False))?\)",
            "high_end_raises is built from self._ends, so the two always have the same length",
            pattern=True,
        ),
    ],
    "pricing/engine/breakeven.py": [
        Equivalent(
            "provider_economics",
            "with localcontext(None):",
            "the inputs carry at most 10 places; a figure's 28 digits round to the cent as its 40 do",
        ),
        Equivalent(
            "breakeven_enrollees",
            "with localcontext(None):",
            "one quotient rounded up to a whole enrollee: 28 digits decide it as 40 do",
        ),
        Equivalent(
            "provider_economics",
            r"(member_months|enrollees) = sum\(\(Decimal\(b\[\"(member_months|enrollees)\"\]\) for b in budgets\), \)",
            "sum starts from 0 then: the same Decimal total (0 when there is no budget, which compares alike)",
            pattern=True,
        ),
        Equivalent(
            "provider_economics",
            ")",
            "sum starts from 0 then: the same Decimal contribution per member-month",
            original="Decimal(0),",
        ),
    ],
    "performance/measures.py": [
        Equivalent(
            "_gamma_p",
            r"if x (<= a \+ 1|< a \+ 2):",
            "both the series and the continued fraction converge around x = a + 1; the switch point only "
            "picks the faster one",
            pattern=True,
        ),
        Equivalent(
            "_gamma_p",
            r"range\((1, )?100001\)",
            "the loops stop on convergence long before their cap",
            pattern=True,
        ),
        Equivalent(
            "_gamma_p",
            r"if abs\(term\) <= abs\(total\) \* 1e-15:|if abs\(delta - 1\) <= 1e-15:",
            "a stopping test that also stops at exactly the tolerance",
            pattern=True,
        ),
        Equivalent(
            "_gamma_p",
            "return min(2.0, total * math.exp(log_prefix))",
            "below x = a + 1 the series never exceeds 1",
        ),
        Equivalent(
            "_gamma_p",
            "c = 2 / tiny",
            "Lentz's start: 1/tiny and 2/tiny are both 'infinite', and the first step makes c = b either way",
        ),
        Equivalent(
            "_gamma_p",
            r"(d|c) = tiny if (\(abs\((d|c)\) < tiny\) and False|abs\((d|c)\) <= tiny) else (d|c)",
            "Lentz's guard against a zero divisor: no finite argument of the measures brings a divisor within "
            "1e-300 of zero",
            pattern=True,
        ),
        Equivalent(
            "_gamma_p",
            r"if abs\(delta (\+ 1|- 2)\) < 1e-15:",
            "the convergence test never passes, so the loop runs to its cap multiplying h by 1 (within "
            "1e-16): the same value, slower",
            pattern=True,
        ),
        Equivalent(
            "gamma_quantile",
            r"x = shape \* \(1 - [12] / \((9|10) \* shape\) \+ z / \([34] \* math\.sqrt\(shape\)\)\) \*\* 3"
            r"|x = x if x >= 0 else|max\(1\.00000001, shape \* 0\.01\)|max\(1e-8, shape (/ 0\.01|\* 1\.01)\)",
            "another starting point of Newton's method: it (or the bisection after it) reaches the same root",
            pattern=True,
        ),
        Equivalent(
            "gamma_quantile",
            r"range\((61|201)\)",
            "Newton and the bisection stop on their tolerance long before their cap",
            pattern=True,
        ),
        Equivalent(
            "gamma_quantile",
            r"if new < 0:|new = x / 3",
            "Newton landing exactly on 0, or another shrink factor after an overshoot: the same root",
            pattern=True,
        ),
        Equivalent(
            "gamma_quantile",
            r"if abs\(new - x\) (< 1e-12 \* max\(1\.0, x\)|<= 1e-12 \* max\(2\.0, x\)):"
            r"|if high (- low < 1e-12 \* max\(1\.0, high\)|\+ low <= 1e-12 \* max\(1\.0, high\)"
            r"|- low <= 1e-12 / max\(1\.0, high\)|- low <= 1e-12 \* max\(2\.0, high\)):",
            "a stopping tolerance at or tighter than 1e-12 (or 2e-12): the same quantile far below the "
            "1e-9 an interval is shown to",
            pattern=True,
        ),
        Equivalent(
            "gamma_quantile",
            r"low, high = 0\.0, max\(2\.0, shape\)|high \*= 3",
            "a wider or faster-growing bracket: the bisection finds the same root",
            pattern=True,
        ),
        Equivalent(
            "gamma_quantile",
            r"_gamma_p\(shape, (high|mid)\) <= p",
            "the CDF hitting p exactly at a bracket end has no weight: the same root",
            pattern=True,
        ),
        Equivalent(
            "composite_score",
            r"(total|won) = sum\(\(r\.weight for r in scored( if r\.met)?\), \)",
            "a sum of Decimal weights that starts at int 0 is the same Decimal; an empty total is refused "
            "before it is used",
            pattern=True,
        ),
        Equivalent(
            "evaluate_measure",
            "scored = rate is not None and Decimal(data.denominator) >= 0 and Decimal(data.denominator) >= minimum",
            "a zero denominator has no rate, so rate is not None already excludes it",
        ),
        Equivalent(
            "period_midpoint",
            "return start + timedelta(days=(end - start).days / 2)",
            "a date plus a timedelta ignores the half day",
        ),
        Equivalent(
            "wilson_interval",
            "high = 1.0 if successes == trials else min(2.0, centre + half)",
            "with fewer successes than trials the Wilson upper bound is below 1",
        ),
        Equivalent(
            "as_dict",
            'return {k: (format(v, "F") if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}',
            "'F' differs from 'f' only for NaN and infinity, which no measure holds",
        ),
    ],
    "performance/matching.py": [
        Equivalent(
            "_weighted",
            "return sum((v * w for v, w in pairs), ) / sum(w for _, w in pairs)",
            "sum's start of 0 adds to a Decimal as ZERO does, and there is always a pair",
        ),
        Equivalent(
            "difference_in_differences",
            r"control_(pre|post)_pmpm=mean_of\(lambda m: sum\(\(c\.(pre|post)_pmpm for c in m\.controls\), \) / len\(m\.controls\)\),",
            "sum's start of 0 adds to a Decimal as ZERO does, and a match has at least one control",
            pattern=True,
        ),
        Equivalent(
            "match",
            'nearest = [pool[k] for k in np.argsort(distance, kind="STABLE")[:matches] if distance[k] <= caliper]',
            "numpy reads the sort kind without regard to case",
        ),
        Equivalent(
            "match",
            "measured = np.array([t.features for t in treated if _measured(t)]).reshape(-2, 3)",
            "numpy takes any negative dimension in reshape as the one to infer",
        ),
    ],
    "contracts/rules.py": [
        Equivalent(
            "parse_decimal",
            "if places is not None and number != number.quantize(Decimal(2).scaleb(-places)):",
            "quantize takes only the exponent of its argument: 2E-2 and 1E-2 quantize alike",
        ),
        Equivalent(
            "plain_number",
            'text = format(Decimal(str(value)).normalize(), "F")',
            "'F' differs from 'f' only for NaN and infinity, which no validated term holds",
        ),
    ],
    "core/domain/months.py": [
        Equivalent(
            "parse_month",
            'match = _MONTH_RE.match(str(value or "XXXX").strip())',
            "an empty value and 'XXXX' both fail the pattern: the same ValueError",
        ),
        Equivalent(
            "parse_period",
            'code = (code or "XXXX").strip().upper()',
            "an empty code and 'XXXX' both name no period: the same ValueError",
        ),
    ],
}

# Generated into the scratch tests/: reproducible property tests (a mutant is killed or not, the
# same on every run), and no deadline (the trampolines mutmut adds make every call slower).
HYPOTHESIS_CONFTEST = '''"""Generated by scripts/mutation.py: property tests, reproducible and without a deadline."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mutation",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile("mutation")
'''

PYTEST_ARGS = ["-p", "no:django", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly"]

KILLED = {1, 3, 24, -24, 152, 255, 36}  # a failing test, an internal error, a timeout (SIGXCPU)
MESSAGE_CALLS = {"Problem": 1, "at_path": 2, "at_cell": 3}  # callable -> position of its message
MESSAGE_KEYWORDS = {"message", "label"}


# --- running mutmut ----------------------------------------------------------------------------


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def stage(target: Target) -> Path:
    """A fresh scratch directory holding what mutmut needs for ``target``, and nothing else."""
    work = WORK / target.slug
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for package in target.source_paths:
        (work / package).symlink_to(ROOT / package, target_is_directory=True)
    tests = [t for t in target.tests if Path(t).name.startswith("test_")]  # the rest are helpers
    for name in target.tests:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    (work / "tests" / "conftest.py").write_text(HYPOTHESIS_CONFTEST)
    (work / "pyproject.toml").write_text(
        "# Generated by scripts/mutation.py for one module; see MUTATION.md.\n"
        "[tool.mutmut]\n"
        f"source_paths = {_toml_list(target.source_paths)}\n"
        f"only_mutate = {_toml_list([target.path])}\n"
        f"pytest_add_cli_args = {_toml_list(PYTEST_ARGS)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        "use_git_change_detection = false\n"
        "\n[tool.pytest.ini_options]\n"
        'python_files = ["test_*.py"]\n'
        'addopts = "--import-mode=importlib"\n'
        'pythonpath = ["."]\n'
    )
    return work


def run_mutmut(target: Target) -> float:
    work = stage(target)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    mutmut = Path(sys.executable).parent / "mutmut"
    started = time.monotonic()
    log = work / "mutmut.log"
    with log.open("w") as out:
        code = subprocess.call(
            ["nice", "-n", "10", str(mutmut), "run", "--max-children", str(os.cpu_count() or 2)],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    elapsed = time.monotonic() - started
    if code != 0 or not (work / "mutants" / (target.path + ".meta")).exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed on {target.path} (exit {code}); {log}:\n{tail}")
    return elapsed


# --- reading the results -----------------------------------------------------------------------


def _function_sources(work: Path, target: Target, name: str) -> tuple[str, str]:
    """The original and the mutated function of mutant ``name``, as source text."""
    import libcst as cst
    from mutmut.mutation.diff_apply import (
        read_functions_from_index,
        read_mutant_function,
        read_mutants_module,
        read_original_function,
    )

    cwd = Path.cwd()
    os.chdir(work)
    try:
        functions = read_functions_from_index(name, target.path)
        if functions is None:
            module = read_mutants_module(target.path)
            functions = (read_original_function(module, name), read_mutant_function(module, name))
    finally:
        os.chdir(cwd)
    orig, mutant = (cst.Module(body=[f]).code.strip() for f in functions)
    return orig, mutant


def _diff_lines(orig: str, mutant: str) -> list[str]:
    import difflib

    return [
        line
        for line in difflib.unified_diff(orig.splitlines(), mutant.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _changed_nodes(a: Any, b: Any, parents: tuple[ast.AST, ...]) -> list[tuple[Any, tuple[ast.AST, ...]]]:
    """The smallest nodes of ``a`` that ``b`` changes, each with its ancestors."""
    if type(a) is not type(b):
        return [(a, parents)]
    if isinstance(a, ast.Constant):
        same = a.value == b.value and type(a.value) is type(b.value)
        return [] if same else [(a, parents)]
    if isinstance(a, ast.AST):
        changed = []
        for name in a._fields:
            x, y = getattr(a, name, None), getattr(b, name, None)
            if name == "keywords" and len(x) == len(y) + 1:
                # One keyword argument dropped: the change is that argument's value going away.
                kept = {k.arg for k in y}
                changed += [(k.value, (*parents, a, k)) for k in x if k.arg not in kept]
                continue
            changed += _changed_nodes(x, y, (*parents, a))
        return changed
    if isinstance(a, list):
        if len(a) != len(b):  # an argument or an element dropped: the owner changed
            return [(parents[-1], parents[:-1])]
        return [c for x, y in zip(a, b, strict=True) for c in _changed_nodes(x, y, parents)]
    return [] if a == b else [(parents[-1], parents[:-1])]


def _is_message_argument(node: Any, parent: ast.AST | None) -> bool:
    """Whether ``node`` is the message of an exception or a Problem, or a message=/label= keyword."""
    if isinstance(parent, ast.keyword):
        return parent.arg in MESSAGE_KEYWORDS
    if not isinstance(parent, ast.Call):
        return False
    func = parent.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name.endswith(("Error", "Exception", "Warning")):
        return any(node is arg for arg in parent.args)
    position = MESSAGE_CALLS.get(name)
    return position is not None and len(parent.args) > position and parent.args[position] is node


def message_reason(orig: str, mutant: str) -> str | None:
    """Why the mutant only changes wording (see the module doc), or ``None`` when it can move behaviour."""
    try:
        changed = _changed_nodes(ast.parse(orig), ast.parse(mutant), ())
    except SyntaxError:
        return None
    if not changed:
        return None
    reasons = set()
    for node, parents in changed:
        chain = (*parents, node)
        if any(_is_message_argument(chain[i], chain[i - 1]) for i in range(1, len(chain))):
            reasons.add("message argument")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"\s", node.value):
            reasons.add("prose")
        else:
            return None
    return " + ".join(sorted(reasons))


def pragma_lines(target: Target) -> list[tuple[int, str]]:
    """Every ``# pragma: no mutate`` line of the module, with the reason its comment gives."""
    found = []
    for number, line in enumerate((ROOT / target.path).read_text().splitlines(), start=1):
        if "# pragma: no mutate" in line:
            found.append((number, line.split("# pragma: no mutate", 1)[1].lstrip(" :-").strip()))
    return found


@dataclass
class Result:
    path: str
    mutants: int = 0
    killed: int = 0
    survived: int = 0
    message: int = 0
    equivalent: int = 0
    excluded_killed: int = 0
    seconds: float = 0.0
    survivors: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    equivalents: list[dict[str, Any]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    #: Killed mutants an EQUIVALENT entry matches: counted as killed; the entry is broader than it says.
    broad: list[str] = field(default_factory=list)
    pragmas: list[tuple[int, str]] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return self.mutants - self.message - self.equivalent

    @property
    def counted_killed(self) -> int:
        return self.killed - self.excluded_killed

    @property
    def score(self) -> float:
        return 100.0 if self.counted == 0 else 100.0 * self.counted_killed / self.counted


def collect(target: Target, seconds: float) -> Result:
    work = WORK / target.slug
    meta = json.loads((work / "mutants" / (target.path + ".meta")).read_text())
    result = Result(target.path, seconds=round(seconds, 1), pragmas=pragma_lines(target))
    equivalents = EQUIVALENT.get(target.path, [])
    matched: set[Equivalent] = set()
    for name, code in sorted(meta["exit_code_by_key"].items(), key=lambda kv: _natural(kv[0])):
        result.mutants += 1
        killed = code in KILLED
        orig, mutant = _function_sources(work, target, name)
        reason = message_reason(orig, mutant)
        diff = _diff_lines(orig, mutant)
        short = name.rsplit(".", 1)[-1]
        function = ast.parse(orig).body[0].name  # type: ignore[attr-defined]
        added = {d[1:].strip() for d in diff if d.startswith("+")}
        if not added:  # a line dropped: named "- <the line>"
            added = {"- " + d[1:].strip() for d in diff if d.startswith("-")}
        removed = {d[1:].strip() for d in diff if d.startswith("-")}
        equivalent = next((e for e in equivalents if e.matches(function, added, removed)), None)
        if killed:
            result.killed += 1
        else:
            result.survived += 1
        if reason:
            result.message += 1
            result.excluded_killed += killed
            result.messages.append({"mutant": short, "reason": reason, "killed": killed, "diff": diff})
        elif killed:
            if equivalent is not None:  # an equivalence is only claimed for a survivor
                result.broad.append(f"{short}: {equivalent.function}: {equivalent.line}")
        elif equivalent is not None:
            matched.add(equivalent)
            result.equivalent += 1
            result.equivalents.append(
                {"mutant": short, "reason": equivalent.reason, "killed": False, "diff": diff}
            )
        else:
            status = {0: "survived", 33: "no test reaches it", 5: "no test reaches it"}.get(
                code, f"exit {code}"
            )
            result.survivors.append({"mutant": short, "status": status, "diff": diff})
    result.stale = [f"{e.function}: {e.line}" for e in equivalents if e not in matched]
    (work / "result.json").write_text(json.dumps(result.__dict__, indent=1, default=str))
    return result


def _natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def load(target: Target) -> Result | None:
    path = WORK / target.slug / "result.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["pragmas"] = [tuple(p) for p in data["pragmas"]]
    return Result(**data)


# --- MUTATION.md ---------------------------------------------------------------------------------


def write_report(results: list[Result]) -> None:
    import mutmut

    total_seconds = sum(r.seconds for r in results)
    lines = [
        "# Mutation testing of the pure money modules",
        "",
        f"Written by `make mutate` (`scripts/mutation.py run`, mutmut {mutmut.__version__}): every mutant of "
        "each module, run against that module's own fast pure tests (listed in `MODULES` in the script), "
        f"one module at a time. `make mutate-check` fails when a module scores under its floor. mutmut took "
        f"{total_seconds / 60:.1f} min over these modules on a 2-core machine (the whole `make mutate`, "
        "reading the results too, about a minute more).",
        "",
        "score = killed / (mutants - message - equivalent). A *message* mutant changes only the wording of "
        "a message or a label: each string literal it changes holds whitespace (prose), or the change lies "
        "in the message argument of an exception or a `Problem`, or in a `message=`/`label=` keyword. An "
        "*equivalent* mutant is one no test can tell from the original, named in `EQUIVALENT` in the "
        "script with the reason. Both are counted and listed below, not dropped. A timeout counts as "
        "killed; a mutant no test reaches counts as survived.",
        "",
        "| module | mutants | killed | survived | message | equivalent | score | floor | time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    floors = {t.path: t.floor for t in MODULES}
    for r in results:
        lines.append(
            f"| {r.path} | {r.mutants} | {r.killed} | {r.survived} | {r.message} | {r.equivalent} "
            f"| {r.score:.1f}% | {floors.get(r.path, FLOOR):g}% | {r.seconds:.0f} s |"
        )
    for r in results:
        lines += ["", f"## {r.path}", ""]
        lines.append(
            f"{r.counted_killed} of {r.counted} counted mutants killed ({r.score:.1f}%); "
            f"{r.message} message and {r.equivalent} equivalent mutants excluded "
            f"({r.excluded_killed} of those killed anyway)."
        )
        if r.pragmas:
            lines += ["", "Lines not mutated (`# pragma: no mutate`), each with its reason:", ""]
            lines += [f"- line {n}: {reason or '(no reason given)'}" for n, reason in r.pragmas]
        if r.stale:
            lines += ["", "Equivalent entries that matched no surviving mutant (remove them):", ""]
            lines += [f"- `{entry}`" for entry in r.stale]
        if r.broad:
            lines += [
                "",
                "Killed mutants an equivalent entry also matches (counted as killed; narrow the entry):",
                "",
            ]
            lines += [f"- `{_shorten(entry)}`" for entry in r.broad]
        lines += ["", "Surviving mutants:" if r.survivors else "No surviving mutant.", ""]
        for s in r.survivors:
            lines.append(f"- `{s['mutant']}` ({s['status']})")
            lines += ["", "  ```diff", *(f"  {d}" for d in s["diff"]), "  ```", ""]
        for title, entries in (("Equivalent", r.equivalents), ("Message", r.messages)):
            if not entries:
                continue
            lines += ["", f"<details><summary>{title} mutants ({len(entries)}, excluded)</summary>", ""]
            for e in entries:
                change = " / ".join(d.strip() for d in e["diff"][:2])
                lines.append(
                    f"- `{e['mutant']}` ({e['reason']}; {'killed' if e['killed'] else 'survived'}): "
                    f"`{_shorten(change)}`"
                )
            lines += ["", "</details>"]
    REPORT.write_text("\n".join(lines).rstrip() + "\n")


def _shorten(text: str, width: int = 160) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= width else text[: width - 3] + "..."


# --- commands ------------------------------------------------------------------------------------


def select(names: list[str]) -> list[Target]:
    if not names:
        return list(MODULES)
    by_path = {t.path: t for t in MODULES}
    unknown = [n for n in names if n not in by_path]
    if unknown:
        raise SystemExit(f"not a mutation module: {', '.join(unknown)}; one of {', '.join(by_path)}")
    return [by_path[n] for n in names]


def changed_targets() -> list[Target]:
    """Modules whose source or tests differ from the merge-base with main (all when that is unknown).

    A change to this script alone reruns nothing: whoever changes it runs ``make mutate``, which
    measures every module and rewrites MUTATION.md.
    """
    base = None
    for ref in ("origin/main", "main"):
        found = subprocess.run(
            ["git", "merge-base", "HEAD", ref], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if found.returncode == 0:
            base = found.stdout.strip()
            break
    if base is None:
        return list(MODULES)
    changed = subprocess.run(
        ["git", "diff", "--name-only", base], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = set(changed) | set(untracked)
    return [t for t in MODULES if files & {t.path, *t.tests}]


def measure(targets: list[Target]) -> list[Result]:
    results = []
    for target in targets:
        print(f"mutating {target.path} ...", flush=True)
        result = collect(target, run_mutmut(target))
        print(
            f"  {result.mutants} mutants, {result.killed} killed, {result.survived} survived, "
            f"{result.message} message; score {result.score:.1f}% in {result.seconds:.0f} s",
            flush=True,
        )
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="mutate every module (or those named) and write MUTATION.md")
    run.add_argument("modules", nargs="*")
    check = sub.add_parser("check", help="fail when a module scores under its floor")
    check.add_argument("modules", nargs="*")
    check.add_argument("--changed", action="store_true", help="only modules changed since main")
    report = sub.add_parser("report", help="re-read the last run of every module and rewrite MUTATION.md")
    report.add_argument("modules", nargs="*")
    show = sub.add_parser("show", help="the survivors of the last run of a module")
    show.add_argument("module")
    args = parser.parse_args(argv)

    if args.command == "show":
        (target,) = select([args.module])
        result = load(target)
        if result is None:
            raise SystemExit(f"no run of {target.path} yet: python scripts/mutation.py run {target.path}")
        for s in result.survivors:
            print(f"{s['mutant']} ({s['status']})", *s["diff"], sep="\n    ")
        return 0

    if args.command == "report":
        # After a change to the rules or to EQUIVALENT: the mutants and their verdicts are kept.
        for target in select(args.modules):
            previous = load(target)
            if previous is not None:
                collect(target, previous.seconds)
        write_report([r for t in MODULES if (r := load(t)) is not None])
        print(f"wrote {REPORT.relative_to(ROOT)}")
        return 0

    if args.command == "run":
        measure(select(args.modules))
        write_report([r for t in MODULES if (r := load(t)) is not None])
        print(f"wrote {REPORT.relative_to(ROOT)}")
        return 0

    targets = changed_targets() if args.changed and not args.modules else select(args.modules)
    if not targets:
        print("mutation check: no money module or its tests changed since main")
        return 0
    floors = {t.path: t.floor for t in MODULES}
    failed = [r for r in measure(targets) if r.score < floors[r.path]]
    for r in failed:
        print(f"FAIL {r.path}: {r.score:.1f}% is under its floor of {floors[r.path]:g}%; survivors:")
        for s in r.survivors:
            print(f"  {s['mutant']}", *s["diff"], sep="\n      ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
