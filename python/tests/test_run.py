"""billrun.run from Python: the same reports as the CLI, errors as exceptions."""

import decimal
import filecmp
import os
import pathlib
import subprocess
import threading

import pytest

import billrun

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/billrun/target")),
                   "release", "billrun")


def test_run_writes_what_the_cli_writes(tmp_path):
    usage = FIXTURES / "bills" / "usage.csv"
    result = billrun.run(usage, out=tmp_path / "py", format="csv", line_items=True, quiet=True)
    assert result.exit_code == 0
    subprocess.run([BIN, "run", str(usage), "--out", str(tmp_path / "cli"), "--format", "csv",
                    "--line-items", "--quiet"], check=True)
    for name in ["summary.csv", "line_items.csv", "rejects.csv"]:
        assert filecmp.cmp(tmp_path / "py" / name, tmp_path / "cli" / name, shallow=False), name
    assert result.totals == {"USD": decimal.Decimal("1.341550060000")}
    assert result.manifest["rows"]["priced"] == 10


def test_rejected_rows_give_exit_code_1_and_options_pass_through(tmp_path):
    usage = tmp_path / "u.csv"
    usage.write_text("timestamp,region,model_id,input_tokens\n"
                     "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,1000\n"
                     "2025-11-01T00:00:00Z,us-east-1,no.such-model,1000\n")
    result = billrun.run(usage, out=tmp_path / "o", group_by="model_id,day", quiet=True)
    assert result.exit_code == 1
    assert (result.manifest["rows"]["priced"], result.manifest["rows"]["rejected"]) == (1, 1)
    assert "day" in (tmp_path / "o" / "summary.parquet").read_bytes().decode("latin-1")
    # Bad options are billrun's own usage errors.
    with pytest.raises(billrun.BillrunError, match="--threads must be at least 1"):
        billrun.run(usage, out=tmp_path / "p", threads=0)


def test_a_window_is_given_as_from_and_to(tmp_path):
    usage = tmp_path / "u.csv"
    usage.write_text("timestamp,region,model_id,input_tokens\n"
                     "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,1000\n"
                     "2025-11-02T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,1000\n")
    result = billrun.run(usage, out=tmp_path / "o", from_="2025-11-02", to="2025-11-03",
                         quiet=True)
    assert (result.manifest["rows"]["priced"], result.manifest["rows"]["out_of_range"]) == (1, 1)
    assert result.manifest["options"]["from"].startswith("2025-11-02")


def test_one_process_runs_billrun_again_on_the_same_pools(tmp_path):
    usage = FIXTURES / "bills" / "usage.csv"
    first = billrun.run(usage, out=tmp_path / "a", quiet=True)
    second = billrun.run(usage, out=tmp_path / "b", quiet=True)
    assert first.totals == second.totals
    # The pools are sized once per process: another size is refused, not ignored.
    with pytest.raises(billrun.BillrunError, match="threads"):
        billrun.run(usage, out=tmp_path / "c", threads=7, quiet=True)


def test_fatal_errors_raise_with_billruns_message(tmp_path):
    with pytest.raises(billrun.BillrunError, match="no-such-file"):
        billrun.run(tmp_path / "no-such-file.csv", out=tmp_path / "o", quiet=True)
    with pytest.raises(ValueError, match="--no-such-flag"):
        billrun.run(FIXTURES / "usage", out=tmp_path / "o", no_such_flag=True)


def test_the_gil_is_released_while_billrun_works(tmp_path):
    # Another Python thread keeps running during a run.
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    t = threading.Thread(target=tick)
    t.start()
    billrun.run(FIXTURES / "logs" / "s3", FIXTURES / "usage", out=tmp_path / "o", quiet=True,
                profiles=FIXTURES / "logs" / "profiles.csv")
    stop.set()
    t.join()
    assert len(ticks) > 1


def test_price_takes_arrow_data_and_returns_arrow_tables(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    usage = FIXTURES / "bills" / "usage.csv"
    # Every column as text, as the CSV reader sees it; counts as int64 work too.
    table = pacsv.read_csv(usage, convert_options=pacsv.ConvertOptions(
        column_types={"input_tokens": pa.int64(), "output_tokens": pa.int64()}, strings_can_be_null=True))
    priced = billrun.price(table, line_items=True, quiet=True)
    assert priced.exit_code == 0
    cli = billrun.run(usage, out=tmp_path / "cli", line_items=True, quiet=True)
    assert priced.totals == cli.totals
    assert priced.summary.equals(pq.read_table(tmp_path / "cli" / "summary.parquet"))
    assert priced.line_items.num_rows == pq.read_table(tmp_path / "cli" / "line_items.parquet").num_rows
    assert priced.summary.schema.field("cost").type == pa.decimal128(38, 12)
    # The Arrow C stream interface: a RecordBatchReader, and any object exporting one.
    class Exporter:
        def __arrow_c_stream__(self, requested_schema=None):
            return table.__arrow_c_stream__(requested_schema)

    assert billrun.price(Exporter(), quiet=True).totals == cli.totals
    with pytest.raises(TypeError):
        billrun.price([1, 2, 3])


def test_stages_from_python_write_what_run_writes(tmp_path):
    from billrun import stages

    inputs = [FIXTURES / "usage", FIXTURES / "logs" / "real"]
    single = billrun.run(*inputs, out=tmp_path / "single", format="csv", quiet=True)
    for k in range(2):
        assert stages.map(*inputs, out=tmp_path / f"m{k}", buckets=3, shard=(k, 2), quiet=True) == 0
    maps = [tmp_path / "m0", tmp_path / "m1"]
    for b in range(3):
        assert stages.reduce(*maps, bucket=b, out=tmp_path / f"p{b}", quiet=True) == 0
    parts = [tmp_path / f"p{b}" for b in range(3)]
    merged = stages.merge(*parts, out=tmp_path / "merged", format="csv", quiet=True)
    assert merged.exit_code == single.exit_code
    assert merged.totals == single.totals
    for name in ["summary.csv", "rejects.csv"]:
        assert filecmp.cmp(tmp_path / "single" / name, tmp_path / "merged" / name, shallow=False), name
    with pytest.raises(billrun.BillrunError, match="bucket 2 of 3 is missing"):
        stages.merge(*parts[:2], out=tmp_path / "short", quiet=True)
