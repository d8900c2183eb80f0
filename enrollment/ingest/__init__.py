"""Readers for what providers and plans send: rosters and assessments (CSV, XLSX, JSON) and the
plan's X12 834 eligibility file, plus the X12 999 acknowledgement. Pure Python, no Django.

Entry points for the service layer:

- :func:`enrollment.ingest.tabular.read_roster` / :func:`read_assessments`: read and validate a
  file in one call, returning rows and every :class:`core.domain.problems.Problem`;
- :func:`enrollment.ingest.x12_834.parse_834`: members, envelope and positioned issues, from the
  file's bytes or from a stream read chunk by chunk (members handed on in batches);
- :mod:`enrollment.ingest.x12`: the X12 envelope machinery the 834 and 837 readers share;
- :func:`enrollment.ingest.ack_999.write_999` / :func:`readable_acknowledgement`.
"""
