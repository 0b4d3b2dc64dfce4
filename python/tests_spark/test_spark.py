"""billrun.spark on a local Spark 3.5 cluster (separate executor JVMs): the reports
equal a single-machine run byte for byte, for several (map, reduce) shard counts,
and when an executor is killed mid-job. Run by tools/spark-check.sh."""

import gzip
import json
import os
import random
import sys
import threading
import time

import pytest
from pyspark.sql import SparkSession

import billrun
import billrun.spark

RECORDS = int(os.environ.get("BILLRUN_SPARK_RECORDS", "300000"))
FILES = 8
# Seconds into the job an executor is killed (the map stage runs for several).
KILL_AFTER = float(os.environ.get("BILLRUN_SPARK_KILL_AFTER", "2.0"))
MODELS = ["amazon.nova-lite-v1:0", "anthropic.claude-3-haiku-20240307-v1:0", "acme.unknown-v1"]


def record(i, rid, tokens, model):
    return json.dumps({
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0",
        "timestamp": f"2025-11-01T{(i // 20000) % 24:02d}:{(i // 400) % 60:02d}:{i % 60:02d}Z",
        "accountId": f"1111222233{i % 7}", "region": "us-east-1",
        "requestId": rid, "operation": "InvokeModel", "modelId": model,
        "identity": {"arn": f"arn:aws:sts::111122223333:assumed-role/App/u{i % 13}"},
        "input": {"inputTokenCount": tokens}, "output": {"outputTokenCount": tokens // 3},
    })


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """RECORDS log records in FILES gzip files under the Bedrock layout: ~10% copies
    of records of any file (some with other usage: conflicts), some lines not JSON,
    some of a model not in the catalog."""
    rng = random.Random(7)
    root = tmp_path_factory.mktemp("logs")
    made = []
    lines = [[] for _ in range(FILES)]
    for i in range(RECORDS):
        f = rng.randrange(FILES)
        roll = rng.random()
        if made and roll < 0.10:
            j, rid, tokens, model = made[rng.randrange(len(made))]
            if roll < 0.01:
                tokens += 1
            lines[f].append(record(j, rid, tokens, model))
        elif roll < 0.105:
            lines[f].append("{not json")
        else:
            model = MODELS[2] if roll > 0.995 else MODELS[i % 2]
            rid = f"{rng.getrandbits(128):032x}"
            rid = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:]}"
            tokens = rng.randrange(1, 5000)
            made.append((i, rid, tokens, model))
            lines[f].append(record(i, rid, tokens, model))
    for f, part in enumerate(lines):
        d = root / "AWSLogs" / "111122223333" / "BedrockModelInvocationLogs" / "us-east-1" / "2025" / "11" / "01" / f"{f:02d}"
        d.mkdir(parents=True)
        with gzip.open(d / f"part-{f}.json.gz", "wt", compresslevel=1) as out:
            out.write("\n".join(part) + "\n")
    return str(root)


@pytest.fixture(scope="module")
def spark():
    # The executors' Python workers: this interpreter (its venv holds billrun).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local-cluster[2,1,1024]")
        .appName("billrun-test")
        .config("spark.executor.memory", "768m")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.task.maxFailures", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def report_files(out):
    found = {}
    for base, _, names in os.walk(out):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                data = f.read()
            if name == "manifest.json":
                kept = [l for l in data.decode().splitlines() if '_at": ' not in l]
                data = "\n".join(kept).encode()
            found[os.path.relpath(path, out)] = data
    return found


OPTIONS = dict(format="csv", group_by="model_id,account_id,hour", quiet=True)


@pytest.fixture(scope="module")
def single(logs, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "out"
    started = time.monotonic()
    result = billrun.run(logs, out=out, dedup="memory", **OPTIONS)
    print(f"\nsingle run: {time.monotonic() - started:.2f} s, rows {result.manifest['rows']}")
    assert result.exit_code == 1  # unknown model, bad lines, conflicts
    assert result.manifest["rows"]["duplicate"] > RECORDS // 20
    assert result.manifest["duplicate_conflicts"] > 0
    return report_files(out)


@pytest.mark.parametrize("map_tasks,buckets", [(2, 3), (3, 8), (1, 1)])
def test_spark_reports_equal_a_single_run(spark, logs, single, tmp_path, map_tasks, buckets):
    out = tmp_path / "out"
    started = time.monotonic()
    result = billrun.spark.run(spark, logs, out=out, map_tasks=map_tasks, buckets=buckets, **OPTIONS)
    print(f"\nspark ({map_tasks} map, {buckets} reduce): {time.monotonic() - started:.2f} s")
    assert_same_reports(result, out, single)


def assert_same_reports(result, out, single):
    assert result.exit_code == 1
    got = report_files(out)
    assert sorted(got) == sorted(single)
    for name in single:
        assert got[name] == single[name], name


def executors():
    """The executor JVMs' process ids (from /proc: a command line is long)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"CoarseGrainedExecutorBackend" in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_an_executor_killed_mid_job_changes_nothing(spark, logs, single, tmp_path):
    killed = []
    running = threading.Event()

    def kill_one():
        running.wait()
        time.sleep(KILL_AFTER)  # into the map stage: tasks on both executors
        pids = executors()
        if pids:
            os.kill(pids[0], 9)
            killed.append((pids[0], time.monotonic()))

    killer = threading.Thread(target=kill_one)
    killer.start()
    out = tmp_path / "out"
    running.set()
    result = billrun.spark.run(spark, logs, out=out, map_tasks=4, buckets=6, **OPTIONS)
    finished = time.monotonic()
    killer.join()
    assert killed, "no executor was running to kill"
    pid, at = killed[0]
    assert at < finished, "the job ended before the executor was killed"
    assert pid not in executors(), "the killed executor is gone (another took its place)"
    print(f"\nexecutor {pid} killed {finished - at:.2f} s before the job ended")
    assert_same_reports(result, out, single)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_fixtures_with_capacity_focus_and_line_items(spark, tmp_path):
    """The repository's fixtures (tables, logs, imported-model invocations) with the
    capacity tables, FOCUS and line items: the same reports as one run."""
    fixture = lambda rel: os.path.join(ROOT, "fixtures", rel)  # noqa: E731
    inputs = [fixture(p) for p in ["usage", "logs/real", "logs/other", "capacity/invocations.csv"]]
    capacity = {
        "provisioned": fixture("capacity/provisioned.csv"),
        "imported_models": fixture("capacity/imported_models.csv"),
        "copies": fixture("capacity/copies.csv"),
        "customization": fixture("capacity/customization.csv"),
    }
    options = dict(capacity, to="2026-01-01", format="focus", line_items=True, quiet=True)
    single = billrun.run(*inputs, out=tmp_path / "single", dedup="memory", **options)
    staged = billrun.spark.run(spark, *inputs, out=tmp_path / "spark", map_tasks=2, buckets=3, **options)
    assert staged.exit_code == single.exit_code == 1
    got, want = report_files(tmp_path / "spark"), report_files(tmp_path / "single")
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name
