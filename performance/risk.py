"""Risk scores that put the enrolled members and their comparison group on one scale.

No Django here (docs/domain.md "Comparison group"). Both use the CMS-HCC model, version 28, as the
maintained ``hccinfhir`` library implements it (condition categories, hierarchies, coefficients):

- **Medicare lines** (Medicare Advantage, D-SNP): the member's CMS-HCC risk score, demographic part
  included (age and sex on the index month; D-SNP members as full duals).
- **Medicaid and commercial lines**: a *diagnosis-group score*, ``1 +`` the sum of the CMS-HCC
  condition coefficients of the member's diagnoses, always those of one segment (community,
  non-dual, aged), so the same diagnoses weigh the same at any age and sex. Medicare's demographic
  factors are calibrated on Medicare beneficiaries, so they are left out; age enters the match
  through the age band.

Diagnoses are every ICD-10-CM code on the member's standing claim lines in the pre window.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from hccinfhir import calculate_raf

from core.domain.codes import DSNP, MEDICARE_ADVANTAGE

MODEL = "CMS-HCC Model V28"
MEDICARE_LINES = frozenset({MEDICARE_ADVANTAGE, DSNP})
FULL_DUAL = "02"  # CMS dual status code of a full-benefit dual (MMA) member


#: The segment a diagnosis-group score takes its condition weights from (community, non-dual, aged).
CONDITION_SEGMENT_AGE, CONDITION_SEGMENT_SEX = 70, "F"


@lru_cache(maxsize=65536)
def _score(lob: str, age: int, sex: str, diagnoses: frozenset[str]) -> float:
    if lob not in MEDICARE_LINES:
        age, sex = CONDITION_SEGMENT_AGE, CONDITION_SEGMENT_SEX
    result = calculate_raf(
        sorted(diagnoses),
        model_name=MODEL,
        age=age,
        sex=sex,
        dual_elgbl_cd=FULL_DUAL if lob == DSNP else "NA",
    )
    if lob in MEDICARE_LINES:
        return float(result.risk_score)
    return 1.0 + float(result.risk_score_hcc)


def risk_score(lob: str, age: int | None, sex: str, diagnoses: Iterable[str]) -> float:
    """The member's risk score on the index month (see the module docstring). An unknown age is
    scored at 65 and an unknown sex as F: only the Medicare demographic part depends on them."""
    codes = frozenset(code.replace(".", "").strip().upper() for code in diagnoses if code and code.strip())
    return _score(lob, 65 if age is None else max(age, 0), sex if sex in ("M", "F") else "F", codes)
