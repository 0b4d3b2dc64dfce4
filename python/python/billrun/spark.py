"""billrun on Spark 3.5 (AWS Glue 5, EMR 7): the staged commands as Spark tasks.

    from pyspark.sql import SparkSession
    import billrun.spark
    spark = SparkSession.builder.getOrCreate()
    result = billrun.spark.run(spark, "s3://bucket/AWSLogs/", out="/tmp/reports",
                               map_tasks=64, buckets=256, from_="2026-11-30", to="2026-12-01")

Map tasks (`mapInArrow`) each read one shard of the input files with billrun's own
readers and emit every bucket's records; Spark's `repartition` by bucket is the
shuffle; reduce tasks (`mapInArrow`) deduplicate and rate their buckets into exact
partials; the driver collects one partial per bucket and merges them with billrun's
exact merge (not Spark's decimal sums). The reports equal one `billrun run` over the
same input, byte for byte (the manifest's timing fields aside).

A retried or speculative task cannot count twice: its output reaches the next step
only through Spark's shuffle or `collect`, which keep one attempt per partition, and
the merge refuses a bucket given twice. Inputs and capacity tables must be readable
from the executors (S3, or a shared file system); `out` is written on the driver.
Needs the billrun wheel on every executor (`--additional-python-modules` on Glue)
and pyarrow.
"""

import json
import os
import shutil
import tempfile

from . import stages

__all__ = ["run"]

MAP_SCHEMA = "bucket int, shard int, name string, data binary"
PARTIAL_SCHEMA = "bucket int, name string, data binary"
# `--from`, `--to` and `--batch-rows` apply to listing and reading (the map stage).
MAP_OPTIONS = ("from_", "to", "batch_rows")


def run(spark, *inputs, out, map_tasks=None, buckets=None, **options):
    """Prices `inputs` on the Spark cluster of `spark` into `out` (on the driver).

    `map_tasks`: shards of the input files (default: the cluster's parallelism);
    `buckets`: reduce tasks (default: 4 per map task). Other keywords are `billrun
    run`'s flags, as for `billrun.run`."""
    inputs = [os.fspath(i) for i in inputs]
    m = int(map_tasks or spark.sparkContext.defaultParallelism)
    n = int(buckets or 4 * m)
    if m < 1 or n < 1:
        raise ValueError("map_tasks and buckets must be at least 1")
    map_options = {k: v for k, v in options.items() if k in MAP_OPTIONS}
    rate_options = dict(options, quiet=True)

    def map_task(batches):
        import pyarrow as pa

        schema = _arrow_schema(pa, MAP_SCHEMA)
        for batch in batches:
            for k in batch.column("id").to_pylist():
                with tempfile.TemporaryDirectory(prefix="billrun-map-") as tmp:
                    shard = os.path.join(tmp, "shard")
                    stages.map(*inputs, out=shard, buckets=n, shard=f"{k}/{m}", quiet=True, **map_options)
                    stage = _read(shard, "stage.json")
                    names = json.loads(stage)["files"]
                    for b in range(n):
                        # Every bucket hears from every shard, if only its stage.json:
                        # a reduce refuses a map with a shard missing.
                        mine = [x for x in names if x.startswith(f"bucket-{b:05}.")]
                        for name in ["stage.json", *mine]:
                            row = {"bucket": b, "shard": k, "name": name, "data": _read(shard, name)}
                            yield pa.RecordBatch.from_pylist([row], schema=schema)

    def reduce_task(batches):
        import pyarrow as pa

        schema = _arrow_schema(pa, PARTIAL_SCHEMA)
        tmp = tempfile.mkdtemp(prefix="billrun-reduce-")
        try:
            seen = set()
            for batch in batches:
                cols = [batch.column(c).to_pylist() for c in ("bucket", "shard", "name", "data")]
                for b, k, name, data in zip(*cols):
                    _write(os.path.join(tmp, f"bucket-{b}", f"shard-{k}"), name, data)
                    seen.add(b)
            for b in sorted(seen):
                where = os.path.join(tmp, f"bucket-{b}")
                shards = [os.path.join(where, d) for d in sorted(os.listdir(where))]
                part = os.path.join(tmp, f"partial-{b}")
                stages.reduce(*shards, bucket=b, out=part, **rate_options)
                for name in sorted(os.listdir(part)):
                    row = {"bucket": b, "name": name, "data": _read(part, name)}
                    yield pa.RecordBatch.from_pylist([row], schema=schema)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    mapped = spark.range(m, numPartitions=m).mapInArrow(map_task, MAP_SCHEMA)
    partials = mapped.repartition(n, "bucket").mapInArrow(reduce_task, PARTIAL_SCHEMA)
    rows = partials.collect()
    with tempfile.TemporaryDirectory(prefix="billrun-merge-") as tmp:
        dirs = set()
        for r in rows:
            d = os.path.join(tmp, f"partial-{r['bucket']}")
            _write(d, r["name"], r["data"])
            dirs.add(d)
        return stages.merge(*sorted(dirs), out=out, **options)


def _arrow_schema(pa, ddl):
    types = {"int": pa.int32(), "string": pa.string(), "binary": pa.binary()}
    fields = [f.strip().split() for f in ddl.split(",")]
    return pa.schema([(name, types[kind]) for name, kind in fields])


def _read(directory, name):
    with open(os.path.join(directory, name), "rb") as f:
        return f.read()


def _write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
