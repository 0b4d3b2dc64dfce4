"""Exact cost reports from Amazon Bedrock usage, from Python.

    import billrun
    result = billrun.run("logs/", out="reports", prices="catalog.csv", line_items=True)
    result.exit_code      # 0: every row priced; 1: some rows rejected (see rejects.*)
    result.manifest       # the run's manifest.json, as a dict (flat runs; with
                          # partition_by it is under out/_runs/<first>..<last>/)
    result.totals         # exact totals by currency, as decimal.Decimal

Each keyword is the `billrun run` flag of the same name (`group_by="model_id,day"`
is `--group-by model_id,day`; `True` a bare flag; a list repeats the flag). The
work runs in Rust with the GIL released. A fatal error (exit 2 of the command) raises
`BillrunError` with billrun's message; an argument `billrun run` refuses raises
`ValueError`.
"""

import decimal
import json
import os
from dataclasses import dataclass

from ._billrun import BillrunError, __version__, run_args

__all__ = ["run", "RunResult", "BillrunError", "__version__"]


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
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
        else:
            args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


def run(*inputs, out, **options):
    """Prices `inputs` (files, directories, s3:// prefixes) into `out`, as `billrun run`."""
    args = [os.fspath(i) for i in inputs] + ["--out", os.fspath(out)] + _flags(options)
    code = run_args(args)
    path = os.path.join(os.fspath(out), "manifest.json")
    manifest = {}
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f)
    return RunResult(exit_code=code, out=os.fspath(out), manifest=manifest)
