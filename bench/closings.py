"""Closings benchmark: month_close against one UPDATE of the same rows, and the month's spreadsheet.

    .venv/bin/python bench/closings.py [--quick] [--doctors N] [--records N] [--months N]
                                       [--close-months N] [--export-closings N]
                                       [--export-each N,N] [--runs N] [--profile]
                                       [--postgres URL] [--keep DIR]
                                       [--json out.json]

A scratch database gets bench/reports.py's data (its build(): an admin, 100
doctors with 20 patients each, 100,000 billing records over the last 24 local
months, 1 % voided, a third of the doctors with a fee or share of their own),
then --export-closings more doctors (1,000; one in four without a PIX key),
each with --export-each consultations (4 and 40) in an older month of its
own, all with bulk_create, then ANALYZE. On it:

- close: `closings.services.month_close(month=...)` of each export month (a
  month of 1,000 closings) and of the last --close-months full months (100
  closings, ~1/24 of the records each), every one timed against, just before
  it in the same run, one bulk UPDATE of the same rows on the same
  connection: the month's counted records in no closing
  (`unclosed_records(month)`, the queryset month_close links) set to one
  existing closing, in a transaction rolled back (median of --runs). Target:
  month_close within 10x its UPDATE; PASS or MISS.
- export: `closings.exports.month_workbook(month=...)`, the whole .xlsx, of
  each export month (half its closings marked paid) and of the last full
  month; median of --runs (at least 3), wall and this process's CPU time
  (the CPU time says more on a busy machine). Target: under 5 s.

SQLite by default (DATA_DIR in a temporary folder, never a configured
DATABASE_URL). With `--postgres postgres://user@host:port/db`, a database of
its own is created on that server (`medconnect_bench_closings_<pid>`),
migrated, and dropped at the end; the database named in the URL is only
connected to, to create and drop it. On PostgreSQL the UPDATE is rolled back,
so the deferred totals trigger never runs for it, while month_close commits
and pays for it: that is in the ratio.

--profile builds one more month like the largest export month and prints
where month_close spends its time on it (cProfile). The figures are printed,
never asserted: the exit code is 0 unless the bench itself fails.
"""

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reports  # noqa: E402  (the data and helpers of bench/reports.py)

ROOT = reports.ROOT
CLOSE_TARGET = 10.0
EXPORT_TARGET_S = 5.0
perf = time.perf_counter


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: small sizes, 3 runs")
    parser.add_argument("--doctors", type=int, default=None)
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--close-months", type=int, default=3, help="full months closed and timed")
    parser.add_argument("--export-closings", type=int, default=None)
    parser.add_argument(
        "--export-each", default=None, help="consultations per closing, one month each (4,40)"
    )
    parser.add_argument("--runs", type=int, default=None, help="UPDATE and export rounds (5)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more month_close")
    parser.add_argument("--postgres", metavar="URL", help="a server to make a scratch database on")
    parser.add_argument("--keep", type=Path, help="build the SQLite database in DIR (new), keep it")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    quick = args.quick
    args.runs = args.runs or (3 if quick else 5)
    args.doctors = args.doctors or (10 if quick else 100)
    args.records = args.records or (5_000 if quick else 100_000)
    args.export_closings = args.export_closings or (50 if quick else 1_000)
    args.export_each = [
        int(n) for n in (args.export_each or ("2,5" if quick else "4,40")).split(",")
    ]
    return args


# --- The database ----------------------------------------------------------------------


def scratch_postgres(url: str) -> tuple[str, str]:
    """Create an empty database on the server of `url`; its URL and name."""
    import psycopg

    parts = urlsplit(url)
    name = f"medconnect_bench_closings_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_postgres(url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def prepare(data_dir: Path, database_url: str) -> None:
    env = {**reports.environment(data_dir), "DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env={**os.environ, **env}, check=True, timeout=600,
    )  # fmt: skip
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- The export's month --------------------------------------------------------------


def build_export_doctors(count: int) -> tuple[list, list]:
    """`count` more doctors (three in four with a PIX key), two patients each, in bulk."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from accounts.models import DoctorProfile, PatientProfile, Role, User

    password = make_password(None)
    with transaction.atomic():
        doctors = User.objects.bulk_create(
            User(email=f"bench-export{i}@example.com", first_name="Médico",
                 last_name=f"Exportação {i:04d}", role=Role.DOCTOR, password=password)
            for i in range(count)
        )  # fmt: skip
        DoctorProfile.objects.bulk_create(
            DoctorProfile(
                user=d, crm=str(800000 + i), crm_state="RJ",
                pix_key="" if i % 4 == 3 else f"bench-export{i}@example.com",
                pix_key_type="" if i % 4 == 3 else "email",
            )
            for i, d in enumerate(doctors)
        )  # fmt: skip
        patients = User.objects.bulk_create(
            User(email=f"bench-export-patient{i}@example.com", first_name="Paciente",
                 last_name=f"Exportação {i}", role=Role.PATIENT, password=password)
            for i in range(count * 2)
        )  # fmt: skip
        PatientProfile.objects.bulk_create(
            PatientProfile(user=p, doctor=doctors[i // 2]) for i, p in enumerate(patients)
        )
    return doctors, patients


def build_month(*, month: dt.date, doctors: list, patients: list, each: int) -> None:
    """`each` counted consultations ended in `month` for every one of `doctors`, in bulk."""
    from django.db import transaction

    from billing.models import BillingRecord
    from billing.money import split
    from billing.selectors import month_bounds
    from rooms.models import Room, RoomStatus

    rng = random.Random(month.toordinal())
    start, end = month_bounds(month)
    span = (end - start).total_seconds() - 1
    fees = [(Decimal("150.00"), Decimal("30.00")), (Decimal("180.00"), Decimal("25.00"))]
    rooms = []
    for d_index, doctor in enumerate(doctors):
        for k in range(each):
            ended = start + dt.timedelta(seconds=rng.uniform(0, span))
            seconds = rng.randint(300, 3600)
            rooms.append(
                Room(
                    code=f"b{month:%y%m}{d_index:05d}{k:04d}", doctor=doctor,
                    patient=patients[d_index * 2 + k % 2], status=RoomStatus.ENDED,
                    call_started_at=ended - dt.timedelta(seconds=seconds + 60),
                    both_present_seconds=seconds, ended_at=ended,
                )
            )  # fmt: skip
    with transaction.atomic():
        Room.objects.bulk_create(rooms, batch_size=5000)
        records = []
        for room in rooms:
            fee, share = fees[room.doctor_id % 2]
            platform, doctor_part = split(fee, share)
            records.append(
                BillingRecord(
                    room=room, doctor_id=room.doctor_id, patient_id=room.patient_id,
                    consultation_fee=fee, platform_percentage=share, gross=fee,
                    platform_amount=platform, doctor_amount=doctor_part,
                    seconds_together=room.both_present_seconds, ended_at=room.ended_at,
                )
            )  # fmt: skip
        BillingRecord.objects.bulk_create(records, batch_size=5000)


def mark_half_paid(month: dt.date, admin) -> None:
    """Every other closing of `month` paid (dates in the sheet), in one UPDATE."""
    from django.utils import timezone

    from closings.models import ClosingStatus, MonthlyClosing

    ids = list(
        MonthlyClosing.objects.filter(month=month).order_by("pk").values_list("pk", flat=True)
    )
    MonthlyClosing.objects.filter(pk__in=ids[::2]).update(
        status=ClosingStatus.PAID,
        paid_on=month + dt.timedelta(days=40),
        paid_at=timezone.now(),
        paid_by=admin,
    )


# --- Timing ---------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def update_baseline(month: dt.date, anchor_id: int, runs: int) -> tuple[float, int]:
    """Median seconds of one UPDATE of the rows month_close links (closing_id set to
    one existing closing), rolled back; and how many rows it wrote."""
    from django.db import transaction

    from closings.services import unclosed_records

    samples, rows = [], 0
    for _ in range(runs):
        try:
            with transaction.atomic():
                started = perf()
                rows = unclosed_records(month).update(closing_id=anchor_id)
                samples.append(perf() - started)
                raise _Rollback
        except _Rollback:
            pass
    return statistics.median(samples), rows


def make_anchor(month: dt.date, doctor) -> int:
    """A cancelled closing of an empty month, for the baseline UPDATE to point at:
    cancelled, so no export shows it and PostgreSQL's totals trigger skips it."""
    from django.utils import timezone

    from closings.models import ClosingStatus, MonthlyClosing

    return MonthlyClosing.objects.create(
        doctor=doctor, month=month, status=ClosingStatus.CANCELLED,
        cancelled_at=timezone.now(), cancel_reason="bench: the baseline UPDATE's target",
    ).pk  # fmt: skip


def time_close(month: dt.date, anchor_id: int, runs: int) -> dict:
    from closings.services import month_close

    update_s, rows = update_baseline(month, anchor_id, runs)
    started = perf()
    result = month_close(month=month)
    close_s = perf() - started
    print(f"  closed {month:%Y-%m}: {len(result.created):,} closings, {rows:,} records", flush=True)
    return {
        "month": f"{month:%Y-%m}",
        "records": rows,
        "closings": len(result.created),
        "close_ms": round(close_s * 1000, 2),
        "update_ms": round(update_s * 1000, 3),
        "ratio": round(close_s / update_s, 2),
        "verdict": "PASS" if close_s / update_s <= CLOSE_TARGET else "MISS",
    }


def time_export(month: dt.date, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from openpyxl import load_workbook

    from closings.exports import month_workbook

    with CaptureQueriesContext(connection) as captured:
        content = month_workbook(month=month)
    book = load_workbook(io.BytesIO(content), read_only=True)
    payments, consultations = (book[name].max_row for name in book.sheetnames)
    samples, cpu = [], []
    for _ in range(max(runs, 3)):
        started, started_cpu = perf(), time.process_time()
        month_workbook(month=month)
        samples.append(perf() - started)
        cpu.append(time.process_time() - started_cpu)
    seconds = statistics.median(samples)
    return {
        "month": f"{month:%Y-%m}",
        "payment_rows": payments - 4 - 1,  # the title, the header and the totals row out
        "consultation_rows": consultations - 4 - 1,
        "queries": len(captured),
        "bytes": len(content),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(statistics.median(cpu), 3),
        "verdict": "PASS" if seconds < EXPORT_TARGET_S else "MISS",
    }


def profile_close(month: dt.date) -> str:
    from closings.services import month_close

    profiler = cProfile.Profile()
    profiler.enable()
    month_close(month=month)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
    stats.print_stats(30)
    return out.getvalue()


# --- Running --------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="medconnect-bench-closings-"))
    if args.keep and (args.keep / "medconnect.sqlite3").exists():
        print(f"ERROR: {args.keep} already holds a database: --keep needs a new folder")
        return 2
    scratch.mkdir(parents=True, exist_ok=True)
    postgres = None
    try:
        started = time.monotonic()
        database_url = ""
        if args.postgres:
            database_url, name = scratch_postgres(args.postgres)
            postgres = (args.postgres, name)
        engine = f"PostgreSQL ({postgres[1]})" if postgres else f"SQLite in {scratch}"
        print(f"preparing a scratch database: {engine} ...", flush=True)
        prepare(scratch, database_url)
        from django.utils import timezone

        people = reports.build(doctors=args.doctors, records=args.records, months=args.months)
        today = timezone.localdate()
        # Months older than bench/reports.py's: one per --export-each, one to profile.
        export_months = {
            each: reports.month_start(today, args.months + 2 + i)
            for i, each in enumerate(args.export_each)
        }
        profile_month = reports.month_start(today, args.months + 2 + len(export_months))
        doctors, patients = build_export_doctors(args.export_closings)
        for each, month in export_months.items():
            build_month(month=month, doctors=doctors, patients=patients, each=each)
        if args.profile:
            each = max(args.export_each)
            build_month(month=profile_month, doctors=doctors, patients=patients, each=each)
        analyze()
        print(
            f"  {args.doctors} doctors, {args.records:,} records over {args.months} months;"
            f" {args.export_closings:,} more doctors with "
            + ", ".join(
                f"{each} consultations each in {m:%Y-%m}" for each, m in export_months.items()
            )
            + f"; in {time.monotonic() - started:.1f} s",
            flush=True,
        )

        anchor = make_anchor(profile_month.replace(year=profile_month.year - 1), doctors[0])
        months = [reports.month_start(today, back) for back in range(1, args.close_months + 1)]
        closes = [
            time_close(month, anchor, args.runs) for month in [*export_months.values(), *months]
        ]
        exports = []
        for month in export_months.values():
            mark_half_paid(month, people["admin"])
            exports.append(time_export(month, args.runs))
        exports.append(time_export(months[0], args.runs))  # a month of bench/reports.py's
        profile = profile_close(profile_month) if args.profile else None
        return report(args, engine, closes, exports, profile)
    finally:
        if postgres:
            drop_postgres(*postgres)
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


def report(args, engine, closes, exports, profile) -> int:
    print(f"\n{engine}; UPDATE medians of {args.runs} rounds, each just before its month_close\n")
    header = f"{'month':<8} {'records':>8} {'closings':>8} {'close ms':>9} {'UPDATE ms':>10}"
    print(f"{header} {'ratio':>8}  target")
    for row in closes:
        print(
            f"{row['month']:<8} {row['records']:>8,} {row['closings']:>8,} {row['close_ms']:>9.1f}"
            f" {row['update_ms']:>10.2f} {row['ratio']:>7.1f}x  <= {CLOSE_TARGET:g}x"
            f" {row['verdict']}"
        )
    runs = max(args.runs, 3)
    print(f"\nmonth_workbook, the whole .xlsx, medians of {runs} (wall and this process's CPU)\n")
    header = f"{'month':<8} {'closings':>8} {'records':>8} {'queries':>7} {'MB':>5}"
    print(f"{header} {'s':>7} {'CPU s':>7}  target")
    for row in exports:
        print(
            f"{row['month']:<8} {row['payment_rows']:>8,} {row['consultation_rows']:>8,}"
            f" {row['queries']:>7} {row['bytes'] / 1e6:>5.1f} {row['seconds']:>7.2f}"
            f" {row['cpu_seconds']:>7.2f}  < {EXPORT_TARGET_S:g} s {row['verdict']}"
        )
    if profile:
        print(f"\nmonth_close of {args.export_closings:,} closings under cProfile (cumulative):\n")
        print(profile)
    if args.json:
        args.json.write_text(json.dumps({"engine": engine, "close": closes, "export": exports}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
