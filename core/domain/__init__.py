"""The domain kernel: the platform's basic ideas, written once, free of Django.

- :mod:`core.domain.months`: calendar months and performance periods;
- :mod:`core.domain.money`: the Decimal policy and the one rounding helper;
- :mod:`core.domain.canonical`: canonical JSON and content hashes;
- :mod:`core.domain.problems`: the one type for "a validation problem";
- :mod:`core.domain.codes`: codes shared across apps (lines of business, proration and tier
  rules, membership roles).

Only the standard library is imported here, so the pricing engine, the ``calc`` modules and any
notebook can use the kernel, and an app never writes its own month arithmetic, rounding,
canonical JSON or problem type.
"""
