"""999 acknowledgements: pyx12 accepts every one we write, and each says what the reader found."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from enrollment.ingest.ack_999 import AcknowledgementNotPossible, readable_acknowledgement, write_999
from enrollment.ingest.x12_834 import parse_834
from tests.fixtures.x12 import pyx12_check

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "x12"
CREATED = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


ALL_834 = sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*") if p.suffix in (".834", ".txt"))


@pytest.mark.parametrize("name", ALL_834)
def test_every_sample_gets_a_999_that_pyx12_validates(name, tmp_path):
    result = parse_834((SAMPLES / name).read_bytes())
    ack = write_999(result, control_number=17, created=CREATED)
    ok, messages = pyx12_check(ack, tmp_path)
    assert ok, messages
    ak9 = next(s for s in segments(ack) if s.startswith("AK9*"))
    assert ak9.split("*")[1] == ("R" if not result.accepted else ("E" if "managed-care" in name else "A"))


def test_rejected_file_lists_each_error_position(tmp_path):
    result = parse_834((SAMPLES / "synthetic/roster_INVALID_ins03.834").read_bytes())
    ack = write_999(result, control_number=42, created=CREATED)
    assert segments(ack) == [
        "ISA*00*          *00*          *ZZ*PALLCAREORG    *ZZ*MCOPLAN        *260102*0304*^*00501*000000042*0*T*:",
        "GS*FA*PALLCAREORG*MCOPLAN*20260102*0304*42*X*005010X231A1",
        "ST*999*0001*005010X231A1",
        "AK1*BE*1*005010X220A1",
        "AK2*834*0001*005010X220A1",
        "IK3*INS*7*2000*8",
        "IK4*3*875*7*099",
        "IK3*INS*17*2000*8",
        "IK4*3*875*7*099",
        "IK3*INS*27*2000*8",
        "IK4*3*875*7*099",
        "IK5*R*5",
        "AK9*R*1*1*0",
        "SE*12*0001",
        "GE*1*42",
        "IEA*1*000000042",
    ]
    assert pyx12_check(ack, tmp_path)[0]


def test_accepted_file(tmp_path):
    result = parse_834((SAMPLES / "synthetic/roster_add_3members.834").read_bytes())
    seg = segments(write_999(result, control_number=1, created=CREATED))
    assert seg[3:-3] == ["AK1*BE*1*005010X220A1", "AK2*834*0001*005010X220A1", "IK5*A", "AK9*A*1*1*1"]
    assert seg[-3] == f"SE*{len(seg) - 4}*0001"


def test_warnings_make_an_accepted_with_errors_noted_999():
    result = parse_834((SAMPLES / "linuxforhealth-x12/enroll-employee-managed-care.834").read_bytes())
    seg = segments(write_999(result, control_number=1, created=CREATED))
    assert seg[5:9] == ["IK3*DTP*8*2000*8", "IK4*1*374*7*358", "IK5*E*5", "AK9*E*1*1*1"]


BASE = (SAMPLES / "synthetic/roster_add_3members.834").read_text()


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (BASE.replace("SE*37*0001", "SE*30*0001"), ["IK5*R*4", "AK9*R*1*1*0"]),
        (BASE.replace("SE*37*0001", "SE*37*0009"), ["IK5*R*3", "AK9*R*1*1*0"]),
        (BASE.replace("GE*1*1~", "GE*3*1~"), ["IK5*A", "AK9*R*3*1*0*5"]),
        (BASE.replace("GE*1*1~", "GE*1*8~"), ["IK5*A", "AK9*R*1*1*0*4"]),
        (BASE[: BASE.index("IEA*")], ["IK5*A", "AK9*R*1*1*0"]),
        (BASE[: BASE.index("SE*")], ["IK5*R*2", "AK9*R*1*1*0*3"]),
    ],
)
def test_envelope_errors_reach_the_999(broken, expected, tmp_path):
    result = parse_834(broken)
    assert not result.accepted
    ack = write_999(result, control_number=5, created=CREATED)
    seg = segments(ack)
    assert seg[-5:-3] == expected
    ok, messages = pyx12_check(ack, tmp_path)
    assert ok, messages


def test_element_errors_carry_the_bad_value_and_data_element(tmp_path):
    result = parse_834(BASE.replace("DMG*D8*19780209*F", "DMG*D8*19781309*X"))
    ack = write_999(result, control_number=5, created=CREATED)
    assert "IK3*DMG*14*2100A*8" not in ack  # a 5-character loop id does not fit IK303
    assert segments(ack)[5:8] == ["IK3*DMG*14**8", "IK4*2*1251*8*19781309", "IK4*3*1068*7*X"]
    assert pyx12_check(ack, tmp_path)[0]


def test_pyx12_really_rejects_a_broken_999(tmp_path):
    result = parse_834((SAMPLES / "synthetic/roster_INVALID_ins03.834").read_bytes())
    ack = write_999(result, control_number=42, created=CREATED)
    ok, messages = pyx12_check(ack.replace("SE*12*0001", "SE*11*0001"), tmp_path)
    assert not ok and messages


def test_readable_acknowledgement_matches_the_999():
    rejected = readable_acknowledgement(
        parse_834((SAMPLES / "synthetic/roster_INVALID_ins03.834").read_bytes())
    )
    assert rejected[0] == "Rejected" and len(rejected) == 4
    assert "segment 9, INS, position 7 of transaction 0001, loop 2000, element 3" in rejected[1]
    warned = readable_acknowledgement(parse_834((SAMPLES / "pyx12/example834_5010.txt").read_bytes()))
    assert warned[0] == "Accepted with warnings"


def test_no_acknowledgement_without_an_envelope():
    with pytest.raises(AcknowledgementNotPossible):
        write_999(parse_834(b"not x12 at all"), control_number=1, created=CREATED)
    with pytest.raises(ValueError):
        write_999(parse_834(BASE), control_number=0, created=CREATED)
