"""The layers hold (README "Architecture", docs/adr/0006): `make lint` runs import-linter and mypy, and
import-linter does fail on a forbidden import. Each probe writes a module into the tree, runs
`lint-imports` and removes the module again."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONTRACTS = {c["id"]: c for c in CONFIG["tool"]["importlinter"]["contracts"]}


def lint_imports() -> subprocess.CompletedProcess[str]:
    # --no-cache: the probes change the tree between runs.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contract_line(output: str, contract_id: str) -> str:
    """The summary line of a contract (import-linter wraps long names: compare without whitespace)."""
    name = "".join(CONTRACTS[contract_id]["name"].split())
    flat = "".join(output.split())
    start = flat.index(name) + len(name)
    return flat[start : start + 6]


def test_the_tree_keeps_every_contract():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("package", "source", "contract_id", "chain"),
    [
        ("pricing/engine", "import django.db\n", "pure", "django"),
        ("bundles", "from contracts import models\n", "bundles-not-contracts", "contracts.models"),
        ("core", "from accounts import tenancy\n", "layers", "accounts.tenancy"),
        ("payments", "from performance import selectors\n", "payments-not-performance", "performance"),
        ("enrollment", "from payments import models\n", "enrollment-not-payments", "payments.models"),
    ],
)
def test_a_forbidden_import_fails_lint_naming_the_contract(package, source, contract_id, chain):
    name = f"_layers_probe_{uuid.uuid4().hex[:8]}"
    probe = ROOT / package / f"{name}.py"
    probe.write_text(
        f'"""A forbidden import written by tests/core/test_layers.py; removed at once."""\n\n{source}'
    )
    try:
        result = lint_imports()
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert contract_line(result.stdout, contract_id) == "BROKEN", result.stdout
    module = f"{package.replace('/', '.')}.{name}"
    assert f"{module} -> {chain}" in result.stdout, result.stdout
    assert not probe.exists()


def test_the_pure_modules_are_the_ones_mypy_checks():
    """One list in two places (the import contract and mypy's files): they must not drift apart."""
    pure = {m for m in CONTRACTS["pure"]["source_modules"] if not m.endswith(".**")}
    checked = {f.removesuffix(".py").replace("/", ".") for f in CONFIG["tool"]["mypy"]["files"]}
    assert pure == checked
    # The kernel (core/domain) as a whole package once it exists, its __init__ included.
    assert (ROOT / "core" / "domain").exists() == ("core.domain" in pure)


def test_make_lint_runs_the_import_contracts_and_mypy():
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/lint-imports" in lint and "$(BIN)/mypy" in lint


def test_lower_apps_get_what_higher_ones_know_by_registration(monkeypatch):
    """Tenancy grants (contracts) and the settlement's performance source (performance) are registered
    at start-up by the higher app; registering twice changes nothing."""
    from django.core.exceptions import ImproperlyConfigured

    from accounts import visibility
    from accounts.models import Organization
    from bundles.models import Bundle, BundleVersion, Market
    from contracts import visibility as contract_grants
    from payments import settlement_source
    from performance import selectors

    expected = {
        Organization: [contract_grants.counterparties],
        Market: [contract_grants.markets_of_contracted_plans],
        Bundle: [contract_grants.bundles_held],
        BundleVersion: [contract_grants.bundle_versions_held],
    }
    contract_grants.register()
    for model, grants in expected.items():
        assert visibility._grants[model._meta.label_lower] == grants
    assert settlement_source.performance() is selectors

    monkeypatch.setattr(settlement_source, "_source", None)
    with pytest.raises(ImproperlyConfigured):
        settlement_source.performance()
