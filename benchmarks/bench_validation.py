"""Benchmark: the full canonical suite in Great Expectations against the same checks in pandas.

Builds BENCH_VALIDATION_RECORDS (default 1,000,000) rows of canonical columns (about 2% of them
defective in some way), then validates them twice: through GX with the committed suite
(``expectations/canonical_child.json``, per-row results collected as the pipeline does), and
with the same checks written directly in pandas (the same vectorised predicates, failing rows
and values collected). Prints records per second, peak memory, both times and their ratio.
Targets: GX at most 10 s for 1,000,000 records and at most 3x plain pandas.
"""

from __future__ import annotations

import os
import resource
import time
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from gateway.validation import checks
from gateway.validation.runner import suite_meta, validate_frame


def canonical_frame(n: int, seed: int = 3) -> pd.DataFrame:
    """Columns as ``frame_row`` builds them, with a sprinkling of every kind of defect."""
    rng = np.random.default_rng(seed)
    today = date.today()
    born = pd.to_datetime(today) - pd.to_timedelta(rng.integers(200, 17 * 365, n), unit="D")
    first_nine = rng.integers(100_000_000, 999_999_999, n)
    digits = np.stack([(first_nine // 10**k) % 10 for k in range(8, -1, -1)], axis=1)
    check = 11 - (digits @ np.arange(10, 1, -1)) % 11
    check = np.where(check == 11, 0, check)
    nhs = pd.Series(first_nine.astype(str)) + pd.Series(check.astype(str))
    nhs[check == 10] = None
    entry = born + pd.to_timedelta(4 * 365, unit="D")
    left = entry + pd.to_timedelta(rng.integers(-30, 2000, n), unit="D")
    iso = "%Y-%m-%d"
    frame = pd.DataFrame(
        {
            "record_id": pd.Series(np.arange(n)).astype(str),
            "nhs_number": nhs,
            "upn": np.where(rng.random(n) < 0.5, "B801200005001", None),
            "postcode": rng.choice(
                ["YO22 4GW", "SW1A 1AA", "HG1 2AB", "NOT A CODE"], n, p=[0.4, 0.3, 0.29, 0.01]
            ),
            "birth_date": born.strftime(iso),
            "sex": rng.choice(["female", "male", "unknown", None], n, p=[0.49, 0.49, 0.01, 0.01]),
            "given_name": rng.choice(["Amy", "Ben", "Cara", "Dev", "Ela"], n),
            "family_name": pd.Series(rng.integers(0, n, n)).astype(str),
            "enrolment_entry_date": entry.strftime(iso),
            "enrolment_leaving_date": left.strftime(iso),
            "leaving_reason": rng.choice(
                ["EHE", "MOVED", "EXPELLED", None], n, p=[0.3, 0.3, 0.01, 0.39]
            ),
            "ehe_registered_on": left.strftime(iso),
            "ehe_deregistered_on": None,
            "plan_start": None,
            "plan_end": None,
            "referral_start": None,
            "referral_end": None,
            "referral_source": rng.choice(["1A", "2B", "ZZ", None], n, p=[0.1, 0.1, 0.001, 0.799]),
            "first_event_date": entry.strftime(iso),
            "received_on": today.isoformat(),
        }
    )
    frame.loc[rng.random(n) < 0.005, "birth_date"] = None
    frame.loc[rng.random(n) < 0.002, "birth_date"] = (today + timedelta(days=9)).isoformat()
    return frame


def plain_pandas(frame: pd.DataFrame) -> dict[str, dict[int, dict[str, Any]]]:
    """The canonical suite's checks in pandas: failing rows and their values, per rule."""
    results: dict[str, dict[int, dict[str, Any]]] = {}

    def record(rule: str, failed: pd.Series, columns: list[str]) -> None:
        rows = frame.loc[failed, columns]
        results[rule] = dict(zip(rows.index.tolist(), rows.to_dict("records"), strict=True))

    def present(column: str) -> pd.Series:
        return frame[column].notna()

    def column_map(rule: str, column: str, passes: Any) -> None:
        values = frame[column][present(column)]
        record(rule, (~passes(values)).reindex(frame.index, fill_value=False), [column])

    for rule, column in (
        ("birth_date_required", "birth_date"),
        ("record_id_required", "record_id"),
        ("sex_recorded", "sex"),
    ):
        record(rule, ~present(column), [column])
    column_map(
        "birth_date_plausible",
        "birth_date",
        lambda v: checks.child_birth_date(v, frame["received_on"], 25),
    )
    column_map("nhs_number_valid", "nhs_number", checks.nhs_number_valid)
    column_map("upn_valid", "upn", checks.upn_valid)
    column_map("postcode_valid", "postcode", checks.uk_postcode)
    column_map("sex_code", "sex", lambda v: v.isin(["female", "male", "unknown"]))
    column_map(
        "leaving_reason_code",
        "leaving_reason",
        lambda v: checks.codes_in_set(v, ["EHE", "MOVED", "UNKNOWN", "TRANSFER", "ILL"]),
    )
    column_map("referral_source_code", "referral_source", lambda v: checks.codes_in_set(v, SOURCES))
    for rule, first, then in DATE_PAIRS:
        both = present(first) & present(then)
        order = checks.dates_in_order(frame[first][both], frame[then][both])
        record(rule, (~order).reindex(frame.index, fill_value=False), [first, then])
    names = ["given_name", "family_name", "birth_date"]
    complete = frame[names].notna().all(axis=1)
    dupes = frame[complete].duplicated(names, keep=False)
    record("same_name_and_birth_date_in_batch", dupes.reindex(frame.index, fill_value=False), names)
    return results


SOURCES = [
    "1A",
    "1B",
    "1C",
    "1D",
    "2A",
    "2B",
    "3A",
    "3B",
    "3C",
    "3D",
    "3E",
    "3F",
    "4",
    "5A",
    "5B",
    "5C",
    "5D",
    "6",
    "7",
    "8",
    "9",
    "10",
]
DATE_PAIRS = [
    ("left_after_joined", "enrolment_entry_date", "enrolment_leaving_date"),
    ("plan_ended_after_it_began", "plan_start", "plan_end"),
    ("referral_closed_after_it_opened", "referral_start", "referral_end"),
    ("ehe_ended_after_it_began", "ehe_registered_on", "ehe_deregistered_on"),
    ("events_after_birth", "birth_date", "first_event_date"),
]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n = int(os.environ.get("BENCH_VALIDATION_RECORDS", "1000000"))
    suite_meta("canonical_child")
    validate_frame(canonical_frame(1000))  # GX start-up and registration, not measured
    frame = canonical_frame(n)
    print(f"validation benchmark: {n:,} canonical records, {frame.shape[1]} columns")
    base_mb = _peak_mb()
    started = time.perf_counter()
    outcome = validate_frame(frame.copy())
    gx_s = time.perf_counter() - started
    gx_mb = _peak_mb()
    started = time.perf_counter()
    plain = plain_pandas(frame.copy())
    pandas_s = time.perf_counter() - started
    gx_failed = {e["rule"]: e["failed"] for e in outcome.summary if not e.get("gate")}
    mismatch = {
        r: (gx_failed.get(r), len(rows))
        for r, rows in plain.items()
        if gx_failed.get(r) != len(rows)
    }
    print(
        f"  GX suite ({len(outcome.summary)} expectations): {gx_s:.2f} s, "
        f"{n / gx_s:,.0f} records/s, peak memory {gx_mb:,.0f} MB "
        f"(frame built at {base_mb:,.0f} MB)"
    )
    print(f"  plain pandas (same checks): {pandas_s:.2f} s, {n / pandas_s:,.0f} records/s")
    print(
        f"  ratio GX / pandas: {gx_s / pandas_s:.2f} (target <= 3); "
        f"targets at 1,000,000 records: GX <= 10 s"
        + (
            ""
            if n == 1_000_000
            else f" (this run: {n:,} records; run with BENCH_VALIDATION_RECORDS=1000000)"
        )
    )
    held = sum(1 for row in outcome.failures if outcome.quarantined(row))
    print(f"  records held by a critical check: {held:,}")
    print(f"  failing counts agree with pandas: {'yes' if not mismatch else mismatch}")


if __name__ == "__main__":
    main()
