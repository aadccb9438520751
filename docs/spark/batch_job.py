"""lambdaflow's batch layer as a PySpark 3.x job: the same master dataset, the same row rules, the same view.

When one machine no longer recomputes the history fast enough, this job takes over `lambdaflow batch` on a Spark
cluster, and the serving layer (`merge`, `serve`, `all`) keeps reading its output unchanged (README: "Scaling out" and
"Spark-compatible batch views").

    spark-submit --deploy-mode client docs/spark/batch_job.py /mnt/lambdaflow/data \
        --lambdaflow "node /opt/lambdaflow/dist/main.js" [--watermark S] [--partitions 8] [--bucket-seconds 3600]

What it does, in order:
  0. takes the data folder's event-time bucket size B from `<data>/event-time.json`, as every lambdaflow layer does
     (docs/event-time.md): `--bucket-seconds` must agree with it, and a folder without one gets it recorded (B =
     `--bucket-seconds` or one hour);
  1. runs `lambdaflow master-files --data DATA [--watermark S]` on the driver: the master dataset's files and the byte
     length to read of each (batch input whole, compacted master files and logged stream files up to what the
     ingest log covers), and the watermark S. That is the list `lambdaflow batch` reads, from the same code, so the
     two can never disagree about what "the master dataset through seq S" is;
  2. reads the first `bytes` bytes of each file, one Spark task per file, and parses the rows by the README's
     "Input format" rules (the pure functions below; test/docs/spark-job.test.ts checks their verdicts against
     lambdaflow's own on the hostile-input corpus);
  3. adds up purchases per (user, bucket) — count, and amount in integer cents, as `batch` does; a purchase's bucket
     is floor(ts / B) * B, ts its unix_timestamp with the fraction dropped, from the same parse that judges the row —
     and each user's buckets into its all-time total; writes the all-time view as CSV parts
     `user_id,purchase_count,purchase_amount_total` into a hidden folder under serving/batch/, and the bucket totals
     as CSV parts `user_id,bucket_start,purchase_count,purchase_amount_total` into its `buckets/` (each with a
     header, in no particular order: the serving layer sorts them, and checks they sum to the all-time totals);
  4. adds `_MANIFEST.json` (streamWatermark S, the inputs, the counts, bucketSeconds B, userBuckets and the event
     seconds the good rows spanned, firstEventSecond and lastEventSecond) and renames the folder to `batch-<ms>`.

The serving layer answers range questions (`/users/:id?from&to`, `/series`, `/top?from&to`) from `buckets/` only
when the manifest's bucketSeconds is the data folder's; a view without them still serves all-time answers.

Bad rows are counted by reason in the manifest and skipped. Unlike `lambdaflow batch`, this job does not write
quarantine files: per-row line numbers and text would have to be gathered from every task to the driver, and the
quarantine (with its replay ledger) belongs to the machine that runs lambdaflow. Run `lambdaflow batch --mode
permissive` there when you need them.

The data folder must be a shared POSIX file system mounted at the same path on the driver and on every executor
(NFS, a ReadWriteMany volume, HDFS through its NFS gateway): `master-files` and the serving layer read it with plain
file calls, stream file names may hold characters that Hadoop paths treat as globs, and the view is published with a
directory rename, which object stores such as S3 do not have.

Only the standard library is imported at module level (pyspark inside `main`), so the row rules can be imported and
tested without Spark.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

# ---------------------------------------------------------------------------------------------------------------------
# Row rules: README "Input format", the same as src/core/event-parser.ts and src/core/money.ts.

HEADER_LINE = b"user_id,event_type,amount,unix_timestamp"
BOM = b"\xef\xbb\xbf"
# A longer line is a bad row, whatever it holds.
MAX_LINE_BYTES = 64 * 1024
# 999,999,999.99 per row keeps every per-user sum exact in a double for the serving layer, which reads views with
# JavaScript numbers; so does the 2**53 cap on a user's total.
MAX_ROW_CENTS = 99_999_999_999
MAX_TOTAL_CENTS = 2**53 - 1
# 9999-12-31T23:59:59Z.
MAX_TIMESTAMP_SECONDS = 253_402_300_799

BAD_REASONS = (
    "field_count",
    "empty_user_id",
    "bad_user_id",
    "unknown_event_type",
    "bad_amount",
    "bad_timestamp",
    "bad_quoting",
    "line_too_long",
)

QUOTE = ord('"')
COMMA = ord(",")

# Alternation order matters: CR LF is one line ending, not a CR ending followed by a blank LF line.
LINE_ENDING = re.compile(rb"\r\n|\r|\n")
# Bytes patterns: [0-9] never matches non-ASCII digits, which must stay bad amounts and timestamps.
AMOUNT = re.compile(rb"([-+]?)([0-9]+)(?:\.([0-9]{1,2}))?")
TIMESTAMP = re.compile(rb"([0-9]+)(?:\.([0-9]+))?")
CONTROL_BYTE = re.compile(rb"[\x00-\x1f\x7f]")
C1_CONTROL = re.compile("[\x80-\x9f]")

# A verdict on a row: ("purchase", user_id, cents, event second), ("view", event second) or ("bad", reason).
Verdict = Tuple[Any, ...]
Bytes = Union[bytes, mmap.mmap]


def split_fields(line: bytes) -> Optional[List[bytes]]:
    """The fields of one line, RFC 4180 quoting on one line; None when the quoting is broken.

    As strict as csv-parse, lambdaflow's reference for quoted lines: a quote may only open a field, a quoted field
    must close right before a comma or the end of the line, and a quote inside one is written twice. Fields are bytes,
    so a user id's invalid UTF-8 is judged after the split, the same way with or without quotes.
    """
    if b'"' not in line:
        return line.split(b",")
    fields: List[bytes] = []
    i, end = 0, len(line)
    while True:
        if i < end and line[i] == QUOTE:
            value = bytearray()
            i += 1
            while True:
                close = line.find(b'"', i)
                if close == -1:
                    return None
                value += line[i:close]
                if close + 1 < end and line[close + 1] == QUOTE:
                    value += b'"'
                    i = close + 2
                    continue
                i = close + 1
                break
            if i < end and line[i] != COMMA:
                return None
            fields.append(bytes(value))
        else:
            comma = line.find(b",", i)
            field_end = end if comma == -1 else comma
            if b'"' in line[i:field_end]:
                return None
            fields.append(line[i:field_end])
            i = field_end
        if i == end:
            return fields
        i += 1


def parse_cents(amount: bytes) -> Optional[int]:
    """`[-+]digits[.d[d]]` as integer cents, or None: no exponent, no separators, never rounded."""
    match = AMOUNT.fullmatch(amount)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    # Leading zeros off and the length judged before int(), which refuses over 4,300 digits (a 64 KiB line has more).
    whole = whole.lstrip(b"0") or b"0"
    if len(whole) > len(str(MAX_ROW_CENTS // 100)):
        return None
    cents = int(whole) * 100 + (int(fraction.ljust(2, b"0")) if fraction else 0)
    if cents > MAX_ROW_CENTS:
        return None
    return -cents if sign == b"-" else cents


def event_second(timestamp: bytes) -> Optional[int]:
    """The event second (the fraction dropped) of Unix seconds with an optional fraction, from 0 through
    9999-12-31T23:59:59 (a fraction past it is too late), or None."""
    match = TIMESTAMP.fullmatch(timestamp)
    if match is None:
        return None
    whole, fraction = match.groups()
    whole = whole.lstrip(b"0") or b"0"  # as for amounts: int() refuses over 4,300 digits
    if len(whole) > len(str(MAX_TIMESTAMP_SECONDS)):
        return None
    seconds = int(whole)
    if seconds < MAX_TIMESTAMP_SECONDS or (seconds == MAX_TIMESTAMP_SECONDS and not (fraction or b"").strip(b"0")):
        return seconds
    return None


def judge_user_id(user: bytes) -> Union[str, Tuple[str, str]]:
    """The user id as text, or ("bad", reason): non-empty UTF-8 without control characters (C0, DEL or C1)."""
    if not user:
        return ("bad", "empty_user_id")
    if CONTROL_BYTE.search(user):
        return ("bad", "bad_user_id")
    try:
        text = user.decode("utf-8")  # strict: overlong forms and surrogates are invalid, as for TextDecoder(fatal)
    except UnicodeDecodeError:
        return ("bad", "bad_user_id")
    if C1_CONTROL.search(text):
        return ("bad", "bad_user_id")
    return text


def judge_row(line: bytes) -> Verdict:
    """The verdict on one row: a line that is neither blank nor its file's header. Checks run in lambdaflow's order,
    so a row with several faults gets the same reason."""
    if len(line) > MAX_LINE_BYTES:
        return ("bad", "line_too_long")
    fields = split_fields(line)
    if fields is None:
        return ("bad", "bad_quoting")
    if len(fields) != 4:
        return ("bad", "field_count")
    user, event_type, amount, timestamp = fields
    user_id = judge_user_id(user)
    if isinstance(user_id, tuple):
        return user_id
    if event_type != b"purchase" and event_type != b"view":
        return ("bad", "unknown_event_type")
    cents = parse_cents(amount)
    if cents is None:
        return ("bad", "bad_amount")
    second = event_second(timestamp)
    if second is None:
        return ("bad", "bad_timestamp")
    return ("purchase", user_id, cents, second) if event_type == b"purchase" else ("view", second)


def judge_file(data: Bytes) -> Iterator[Tuple[int, Verdict]]:
    """(line number, verdict) for each row of a file's bytes. Lines end at LF, CRLF or a lone CR; a UTF-8 BOM and a
    header are skipped only at the very start; blank lines are not rows but are numbered, as in quarantine files."""
    start = len(BOM) if data[: len(BOM)] == BOM else 0
    number = 0
    for match in LINE_ENDING.finditer(data, start):
        number += 1
        verdict = _judge_line(data, start, match.start(), number)
        if verdict is not None:
            yield number, verdict
        start = match.end()
    if start < len(data):
        verdict = _judge_line(data, start, len(data), number + 1)
        if verdict is not None:
            yield number + 1, verdict


def _judge_line(data: Bytes, start: int, end: int, number: int) -> Optional[Verdict]:
    if end == start:
        return None
    # Judged by length before slicing: a 64 MB line of NUL bytes must not become a 64 MB bytes object.
    if end - start > MAX_LINE_BYTES:
        return ("bad", "line_too_long")
    line = data[start:end]
    if number == 1 and line == HEADER_LINE:
        return None
    return judge_row(line)


# The event seconds a file's good rows spanned, named as in _MANIFEST.json; None without a good row.
SPAN_FIELDS = ("firstEventSecond", "lastEventSecond")

Counts = Dict[str, Optional[int]]


def empty_counts() -> Counts:
    """Counts named as in lambdaflow's _MANIFEST.json (bad rows by reason, plus purchaseCents and the event span)."""
    counts: Counts = {"rowsRead": 0, "purchases": 0, "views": 0, "purchaseCents": 0}
    counts.update({reason: 0 for reason in BAD_REASONS})
    counts.update({name: None for name in SPAN_FIELDS})
    return counts


def _widest(x: Optional[int], y: Optional[int], pick: Any) -> Optional[int]:
    return y if x is None else x if y is None else pick(x, y)


def merge_counts(a: Counts, b: Counts) -> Counts:
    """Two files' counts as one: sums, and the event span covering both."""
    merged: Counts = {name: a[name] + b[name] for name in a if name not in SPAN_FIELDS}  # type: ignore[operator]
    merged["firstEventSecond"] = _widest(a["firstEventSecond"], b["firstEventSecond"], min)
    merged["lastEventSecond"] = _widest(a["lastEventSecond"], b["lastEventSecond"], max)
    return merged


def bucket_start(second: int, bucket_seconds: int) -> int:
    """The event-time bucket a second belongs to: floor(second / B) * B, epoch-aligned (seconds are never negative)."""
    return second - second % bucket_seconds


def summarize_file(data: Bytes, bucket_seconds: int) -> Tuple[Dict[Tuple[str, int], List[int]], Counts]:
    """[purchase count, cents] per (user, bucket start), and the row counts of one file's bytes."""
    buckets: Dict[Tuple[str, int], List[int]] = {}
    counts = empty_counts()
    for _, verdict in judge_file(data):
        counts["rowsRead"] += 1  # type: ignore[operator]
        kind = verdict[0]
        if kind == "bad":
            counts[verdict[1]] += 1  # type: ignore[operator]
            continue
        second = verdict[-1]
        counts["firstEventSecond"] = _widest(counts["firstEventSecond"], second, min)
        counts["lastEventSecond"] = _widest(counts["lastEventSecond"], second, max)
        if kind == "purchase":
            counts["purchases"] += 1  # type: ignore[operator]
            counts["purchaseCents"] += verdict[2]  # type: ignore[operator]
            total = buckets.setdefault((verdict[1], bucket_start(second, bucket_seconds)), [0, 0])
            total[0] += 1
            total[1] += verdict[2]
        else:
            counts["views"] += 1  # type: ignore[operator]
    return buckets, counts


@contextmanager
def open_prefix(path: str, length: int) -> Iterator[Bytes]:
    """The first `length` bytes of a file, mapped read-only, and not one byte more: a stream file may have grown since
    the ingest log recorded its size, and only that prefix is in the master dataset. Like lambdaflow, a link is never
    followed and only a regular file is read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RuntimeError(f"{path} is not a regular file")
        if info.st_size < length:
            raise RuntimeError(f"{path} has {info.st_size} bytes, fewer than the {length} of the master dataset: it shrank")
        if length == 0:
            yield b""  # mmap cannot map zero bytes
            return
        with mmap.mmap(fd, length, access=mmap.ACCESS_READ) as data:
            yield data
    finally:
        os.close(fd)


def file_records(entry: Dict[str, Any], bucket_seconds: int) -> Iterator[Tuple[Tuple[Any, ...], Any]]:
    """One master file as records for reduceByKey: ((user id, bucket start), (count, cents)) and (COUNTS_KEY, counts).
    Counts travel with the data rather than in accumulators, which count a retried task twice."""
    with open_prefix(entry["path"], entry["bytes"]) as data:
        buckets, counts = summarize_file(data, bucket_seconds)
    for key, (count, cents) in buckets.items():
        yield key, (count, cents)
    yield COUNTS_KEY, counts


# Never a (user, bucket) key, whose bucket start is an int.
COUNTS_KEY = ("counts", None)


def add_pairs(a: Tuple[int, int], b: Tuple[int, int]) -> Tuple[int, int]:
    return (a[0] + b[0], a[1] + b[1])


def combine(a: Any, b: Any) -> Any:
    """reduceByKey's one function for both kinds of record: (count, cents) pairs add up, counts merge."""
    return merge_counts(a, b) if isinstance(a, dict) else add_pairs(a, b)


def cents_to_decimal(cents: int) -> Decimal:
    """Exact cents as a decimal with two fraction digits (Spark writes decimal(38,2) as `12.50`, a double as `1.0E7`)."""
    if abs(cents) > MAX_TOTAL_CENTS:
        raise OverflowError(f"a per-user total of {cents} cents is beyond 2^53 cents, which lambdaflow cannot read exactly")
    return Decimal(cents).scaleb(-2)


def manifest_inputs(files: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """`master-files` entries as _MANIFEST.json's `inputs`, named as `lambdaflow batch` names them."""
    return [{"name": os.path.basename(f["path"]), "source": f["source"], "size": f["bytes"]} for f in files]


# ---------------------------------------------------------------------------------------------------------------------
# The job.


def master_files(lambdaflow: str, data_dir: str, watermark: Optional[int]) -> Dict[str, Any]:
    """`lambdaflow master-files`: {"watermark": S, "files": [{"path", "bytes", "source"}]} for the data folder."""
    command = shlex.split(lambdaflow) + ["master-files", "--data", data_dir, "--log-level", "warn"]
    if watermark is not None:
        command += ["--watermark", str(watermark)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"batch_job: `{shlex.join(command)}` exited {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout)


# The data folder's bucket size, as src/io/files/event-time-settings.ts keeps it: recorded once in event-time.json.
EVENT_TIME_SETTINGS = "event-time.json"
DEFAULT_BUCKET_SECONDS = 3600
SECONDS_PER_DAY = 86_400
MAX_SETTINGS_BYTES = 4096


def bucket_seconds_problem(seconds: Any) -> Optional[str]:
    """Why a bucket size is not one lambdaflow accepts (a whole divisor of one day, at least a minute), or None."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 60:
        return f"must be a whole number of seconds of at least 60, got {seconds!r}"
    if SECONDS_PER_DAY % seconds != 0:
        return f"must divide one day (60, 120, 300, …, 3600, …, 86400), got {seconds}"
    return None


def recorded_bucket_seconds(data_dir: str) -> Optional[int]:
    """The bucket size recorded in the data folder, or None when it has none yet; a damaged record stops the job."""
    path = os.path.join(data_dir, EVENT_TIME_SETTINGS)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as error:  # a link (never followed), a folder, no permission: not a record the job can trust
        raise SystemExit(f"batch_job: cannot read {path}: {error.strerror}")
    try:
        text = os.read(fd, MAX_SETTINGS_BYTES + 1)
    finally:
        os.close(fd)
    try:
        seconds = json.loads(text).get("bucketSeconds") if len(text) <= MAX_SETTINGS_BYTES else None
    except (ValueError, AttributeError):
        seconds = None
    if bucket_seconds_problem(seconds) is not None:
        raise SystemExit(f"batch_job: {path} does not hold a valid bucketSeconds")
    return seconds


def folder_bucket_seconds(data_dir: str, requested: Optional[int]) -> int:
    """The data folder's bucket size, as every lambdaflow layer resolves it: the recorded one (a `requested` size that
    differs stops the job), or in a folder without a record `requested` (or one hour), recorded now. The record is
    linked into place, so it appears whole and never replaces one a lambdaflow command wrote meanwhile."""
    if requested is not None and bucket_seconds_problem(requested) is not None:
        raise SystemExit(f"batch_job: --bucket-seconds {bucket_seconds_problem(requested)}")
    recorded = recorded_bucket_seconds(data_dir)
    if recorded is None:
        path = os.path.join(data_dir, EVENT_TIME_SETTINGS)
        temp = os.path.join(data_dir, f".{EVENT_TIME_SETTINGS}.spark-{uuid.uuid4().hex}")
        write_file_synced(temp, json.dumps({"bucketSeconds": requested or DEFAULT_BUCKET_SECONDS}, separators=(",", ":")) + "\n")
        try:
            os.link(temp, path)
            fsync_path(data_dir)
        except FileExistsError:
            pass
        finally:
            os.remove(temp)
        recorded = recorded_bucket_seconds(data_dir)
        assert recorded is not None
    if requested is not None and requested != recorded:
        raise SystemExit(
            f"batch_job: --bucket-seconds: the data folder {data_dir} keeps {recorded} s buckets, not {requested} s; "
            "changing the bucket size means a recompute in a new data folder (or leave --bucket-seconds out)"
        )
    return recorded


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_synced(path: str, text: str) -> None:
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def sync_tree(root: str) -> None:
    """Hadoop's local file system does not fsync what Spark wrote; a crash just after the rename must not publish a
    view whose parts are still empty."""
    for folder, _, names in os.walk(root):
        for name in names:
            fsync_path(os.path.join(folder, name))
        fsync_path(folder)


def publish(temp_dir: str, serving_batch: str, manifest: Dict[str, Any]) -> str:
    """Adds the manifest and renames the hidden folder to batch-<ms> (the next free ms): readers see the whole view
    or nothing, since they skip names starting with `.` and views without _SUCCESS and a manifest."""
    created_ms = int(time.time() * 1000)
    while True:
        target = os.path.join(serving_batch, f"batch-{created_ms}")
        if not os.path.exists(target):
            manifest_path = os.path.join(temp_dir, "_MANIFEST.json")
            if os.path.exists(manifest_path):
                os.remove(manifest_path)
            write_file_synced(manifest_path, json.dumps({"createdAtMs": created_ms, **manifest}, indent=2) + "\n")
            success = os.path.join(temp_dir, "_SUCCESS")
            if not os.path.exists(success):  # a cluster may turn Spark's own _SUCCESS marker off
                write_file_synced(success, "")
            sync_tree(temp_dir)
            try:
                os.rename(temp_dir, target)
                fsync_path(serving_batch)
                return target
            except OSError:
                if not os.path.exists(target):
                    raise
                # Another writer took the name since it was checked: try the next millisecond.
        created_ms += 1


# The per-(user, bucket) totals' subfolder of a view, as src/io/views/views.ts names it.
BUCKETS_FOLDER = "buckets"


def write_view_csv(frame: Any, folder: str) -> None:
    """Writes a DataFrame as lambdaflow reads view parts: CSV with a header, RFC 4180 quoting, ids kept as they are."""
    (
        frame.write.mode("errorifexists")
        .option("header", True)
        # Quotes written twice inside quoted ids (RFC 4180), as lambdaflow reads them; Spark's default escape is `\`.
        .option("quote", '"')
        .option("escape", '"')
        # Spark trims leading and trailing spaces when writing unless told not to: " alice" is another user.
        .option("ignoreLeadingWhiteSpace", False)
        .option("ignoreTrailingWhiteSpace", False)
        .option("lineSep", "\n")
        .option("encoding", "UTF-8")
        .option("compression", "none")
        .csv("file://" + folder)  # file://: the mounted folder, not fs.defaultFS (often HDFS on a cluster)
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="lambdaflow's batch layer on Spark: publishes <data>/serving/batch/batch-<ms>/")
    parser.add_argument("data", help="the data folder, at the same path on the driver and every executor")
    parser.add_argument("--lambdaflow", default="lambdaflow", help='how to run lambdaflow on the driver, e.g. "node /opt/lambdaflow/dist/main.js" (default: lambdaflow)')
    parser.add_argument("--watermark", type=int, help="the last ingest seq to include (default: the ingest log's last seq)")
    parser.add_argument("--partitions", type=int, default=8, help="part files to write, of each layout (default: 8)")
    parser.add_argument("--bucket-seconds", type=int, help="the event-time bucket size; must be the data folder's (default: the folder's, or 3600 in a new folder)")
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession
    from pyspark.sql.types import DecimalType, LongType, StringType, StructField, StructType

    data_dir = os.path.abspath(args.data)
    bucket_seconds = folder_bucket_seconds(data_dir, args.bucket_seconds)
    master = master_files(args.lambdaflow, data_dir, args.watermark)
    files = master["files"]
    serving_batch = os.path.join(data_dir, "serving", "batch")
    os.makedirs(serving_batch, exist_ok=True)
    # Hidden, so no reader looks inside before the rename; and not lambdaflow's `.<name>.tmp-<pid>-<ms>` pattern,
    # which `lambdaflow batch` removes as a dead process's leftover when that pid is not alive on its own machine.
    temp_dir = os.path.join(serving_batch, f".spark-batch-{int(time.time() * 1000)}-{uuid.uuid4().hex}")

    spark = SparkSession.builder.appName("lambdaflow-batch").getOrCreate()
    try:
        # One task per file: compacted master files are large and immutable, stream files small.
        records = spark.sparkContext.parallelize(files, max(1, len(files))).flatMap(lambda entry: file_records(entry, bucket_seconds))
        reduced = records.reduceByKey(combine).persist()
        counts = next(iter(reduced.filter(lambda kv: kv[0] == COUNTS_KEY).map(lambda kv: kv[1]).collect()), empty_counts())
        user_buckets = reduced.filter(lambda kv: kv[0] != COUNTS_KEY).persist()
        # A user's all-time total is the sum of its buckets, as the serving layer checks when it loads the view.
        user_totals = user_buckets.map(lambda kv: (kv[0][0], kv[1])).reduceByKey(add_pairs)
        users = user_totals.map(lambda kv: (kv[0], kv[1][0], cents_to_decimal(kv[1][1])))
        buckets = user_buckets.map(lambda kv: (kv[0][0], kv[0][1], kv[1][0], cents_to_decimal(kv[1][1])))
        # Exact decimals, never a double: lambdaflow reads `1.0E7` as damage.
        amount = StructField("purchase_amount_total", DecimalType(38, 2), False)
        user_id = StructField("user_id", StringType(), False)
        view_schema = StructType([user_id, StructField("purchase_count", LongType(), False), amount])
        buckets_schema = StructType([user_id, StructField("bucket_start", LongType(), False), StructField("purchase_count", LongType(), False), amount])
        # The all-time view first: it creates the hidden folder (errorifexists), and buckets/ goes inside it.
        write_view_csv(spark.createDataFrame(users, view_schema).repartition(args.partitions), temp_dir)
        write_view_csv(spark.createDataFrame(buckets, buckets_schema).repartition(args.partitions), os.path.join(temp_dir, BUCKETS_FOLDER))
        users_count = user_totals.count()
        bad_rows = {reason: counts[reason] for reason in BAD_REASONS}
        manifest = {
            "streamWatermark": master["watermark"],
            "inputs": manifest_inputs(files),
            "bucketSeconds": bucket_seconds,
            "userBuckets": user_buckets.count(),
            "firstEventSecond": counts["firstEventSecond"],
            "lastEventSecond": counts["lastEventSecond"],
            "rowsRead": counts["rowsRead"],
            "purchases": counts["purchases"],
            "views": counts["views"],
            "badRows": bad_rows,
            "badRowsTotal": sum(bad_rows.values()),
            "users": users_count,
            "purchaseCentsTotal": counts["purchaseCents"],
            "partitions": args.partitions,
            "engine": "spark",
            "quarantine": "not written by the Spark job",
        }
        target = publish(temp_dir, serving_batch, manifest)
    except BaseException:
        # Readers never look inside the hidden folder, but nothing else would ever remove it.
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    finally:
        spark.stop()
    print(
        f"batch_job: {manifest['rowsRead']} rows ({manifest['badRowsTotal']} bad), {users_count} users, "
        f"watermark {master['watermark']} → {target}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
