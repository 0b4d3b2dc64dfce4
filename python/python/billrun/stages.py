"""The staged commands, from Python: `map` → `reduce` → `merge` (docs/stages.md).

    from billrun import stages
    stages.map("logs/", out="m0", buckets=8, shard="0/2")
    stages.map("logs/", out="m1", buckets=8, shard="1/2")
    for b in range(8):
        stages.reduce("m0", "m1", bucket=b, out=f"p{b}")
    result = stages.merge(*[f"p{b}" for b in range(8)], out="reports")

The reports equal one `billrun.run("logs/", out="reports")`, byte for byte (timing
fields of the manifest aside). Keywords are the commands' flags, as for `run`.
"""

import os

from . import RunResult, _flags, _manifest
from ._billrun import main_args

__all__ = ["map", "reduce", "merge"]


def _paths(paths):
    return [os.fspath(p) for p in paths]


def map(*inputs, out, buckets, shard="0/1", **options):  # noqa: A001 (the command's name)
    """`billrun map`: shard `shard` ("K/M") of the input files, bucketed by request id."""
    if isinstance(shard, tuple):
        shard = f"{shard[0]}/{shard[1]}"
    args = ["map", *_paths(inputs), "--out", os.fspath(out), "--buckets", str(buckets)]
    return main_args(args + ["--shard", shard] + _flags(options))


def reduce(*shards, bucket, out, **options):
    """`billrun reduce`: bucket `bucket` of every map shard, rated into a partial."""
    args = ["reduce", *_paths(shards), "--bucket", str(bucket), "--out", os.fspath(out)]
    return main_args(args + _flags(options))


def merge(*partials, out, **options):
    """`billrun merge`: the partials of every bucket into reports; a `RunResult`."""
    code = main_args(["merge", *_paths(partials), "--out", os.fspath(out)] + _flags(options))
    return RunResult(exit_code=code, out=os.fspath(out), manifest=_manifest(out))
