"""Exact cost reports from Amazon Bedrock usage, from Python.

    import billrun
    result = billrun.run("logs/", out="reports", prices="catalog.csv", line_items=True)
    result.exit_code      # 0: every row priced; 1: some rows rejected (see rejects.*)
    result.manifest       # the run's manifest.json, as a dict (flat runs; with
                          # partition_by it is under out/_runs/<first>..<last>/)
    result.totals         # exact totals by currency, as decimal.Decimal

Each keyword is the `billrun run` flag of the same name (`group_by="model_id,day"`
is `--group-by model_id,day`; `from_`/`to` are `--from`/`--to`; `True` a bare
flag; a list repeats the flag). The
work runs in Rust with the GIL released. A fatal error (exit 2 of the command) raises
`BillrunError` with billrun's message; an argument `billrun run` refuses raises
`ValueError`.
"""

import decimal
import json
import os
from dataclasses import dataclass

from ._billrun import BillrunError, __version__, run_args

__all__ = ["run", "price", "RunResult", "Priced", "BillrunError", "__version__"]


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    out: str
    manifest: dict

    @property
    def totals(self):
        return {c: decimal.Decimal(v) for c, v in self.manifest["totals"].items()}


def _flags(options):
    args = []
    for name, value in options.items():
        # `from_` for `--from` (a Python keyword): a trailing underscore is dropped.
        flag = "--" + name.removesuffix("_").replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            args += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
    return args


def _manifest(out):
    """`out`'s manifest.json as a dict ({} when there is none)."""
    path = os.path.join(os.fspath(out), "manifest.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def run(*inputs, out, **options):
    """Prices `inputs` (files, directories, s3:// prefixes) into `out`, as `billrun run`."""
    args = [os.fspath(i) for i in inputs] + ["--out", os.fspath(out)] + _flags(options)
    code = run_args(args)
    return RunResult(exit_code=code, out=os.fspath(out), manifest=_manifest(out))


@dataclass(frozen=True)
class Priced:
    exit_code: int
    manifest: dict
    summary: object  # pyarrow.Table
    rejects: object  # pyarrow.Table
    line_items: object  # pyarrow.Table, or None without line_items=True

    @property
    def totals(self):
        return {c: decimal.Decimal(v) for c, v in self.manifest["totals"].items()}


def price(data, **flags):
    """Prices in-memory usage rows in the canonical columns (docs/input.md): a
    `pyarrow.Table`, a `RecordBatchReader`, or anything with `__arrow_c_stream__`
    (polars and pandas-via-pyarrow frames, DuckDB results). Returns the summary,
    rejects and (with `line_items=True`) line items as pyarrow Tables, money
    DECIMAL(38, 12). Needs pyarrow. The rows are streamed to a temporary Parquet file
    and priced by `run` (one batch at a time: memory stays bounded); `flags` are
    `run`'s, except `out` and `format`."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    if "out" in flags or "format" in flags:
        raise ValueError("price() returns tables: no out or format")
    if isinstance(data, pa.Table):
        batches = data.to_reader()
    elif isinstance(data, pa.RecordBatchReader):
        batches = data
    elif hasattr(data, "__arrow_c_stream__"):
        batches = pa.RecordBatchReader.from_stream(data)
    else:
        raise TypeError(f"price() takes Arrow data, not {type(data).__name__}")
    with tempfile.TemporaryDirectory(prefix="billrun-") as tmp:
        usage = os.path.join(tmp, "usage.parquet")
        with pq.ParquetWriter(usage, batches.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        out = os.path.join(tmp, "out")
        result = run(usage, out=out, **flags)
        read = lambda name: pq.read_table(os.path.join(out, f"{name}.parquet"))  # noqa: E731
        line_items = read("line_items") if flags.get("line_items") else None
        return Priced(result.exit_code, result.manifest, read("summary"), read("rejects"), line_items)
