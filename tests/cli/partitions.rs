//! `--partition-by`: Hive-style partitions, replaced per covered partition.

use super::*;

fn partition_run(inputs: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let o = run_into(
        inputs,
        out,
        &[&["--partition-by", "day", "--line-items"][..], extra].concat(),
    );
    assert!(o.status.code().unwrap() < 2, "{}", stderr(&o));
    o
}

fn part(out: &Path, table: &str, day: &str) -> PathBuf {
    out.join(table)
        .join(format!("date={day}"))
        .join("part-0.parquet")
}

/// Sum of `cost` in one partition file, unscaled (10^-12).
fn cost_of(file: &Path) -> i128 {
    let df = ParquetReader::new(std::fs::File::open(file).unwrap())
        .finish()
        .unwrap();
    assert!(
        df.column("date").is_err(),
        "the partition value is in the path only"
    );
    let cost = df.column("cost").unwrap().as_materialized_series().clone();
    cost.decimal()
        .unwrap()
        .physical()
        .iter()
        .flatten()
        .sum::<i128>()
}

/// Sum of `cost` over every partition file of `table`.
fn partitioned_cost(out: &Path, table: &str) -> i128 {
    std::fs::read_dir(out.join(table))
        .unwrap()
        .map(|e| cost_of(&e.unwrap().path().join("part-0.parquet")))
        .sum()
}

fn run_manifest(out: &Path, run: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("_runs").join(run).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn partitions_hold_every_cost_and_a_rerun_replaces_only_the_days_it_covers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (day1, day2) = (
        fixture("usage/2025-11-01.csv"),
        fixture("usage/2025-11-02.csv"),
    );
    partition_run(&[&day1, &day2], &out, &[]);
    let m = run_manifest(&out, "2025-11-01..2025-11-02");
    assert_eq!(m["totals"]["USD"], "6.745134360000");
    for table in ["summary", "line_items"] {
        assert_eq!(partitioned_cost(&out, table), 6_745_134_360_000, "{table}");
    }
    let day2_before = std::fs::read(part(&out, "summary", "2025-11-02")).unwrap();

    // Day 1 again, from its first three rows only: day 1 replaced, day 2 untouched.
    let text = std::fs::read_to_string(&day1).unwrap();
    let fewer: Vec<&str> = text.lines().take(4).collect();
    let short = usage_file(tmp.path(), "short.csv", fewer[0], &fewer[1..]);
    let window = ["--from", "2025-11-01", "--to", "2025-11-02"];
    partition_run(&[&short], &out, &window);
    let (replaced, kept) = (
        run_manifest(&out, "2025-11-01..2025-11-01"),
        std::fs::read(part(&out, "summary", "2025-11-02")).unwrap(),
    );
    assert_eq!(kept, day2_before);
    let day1_total: rust_decimal::Decimal =
        replaced["totals"]["USD"].as_str().unwrap().parse().unwrap();
    let day2_cost = cost_of(&part(&out, "summary", "2025-11-02"));
    let got = partitioned_cost(&out, "summary");
    assert_eq!(
        got,
        day1_total.mantissa() + day2_cost,
        "new day 1 + old day 2"
    );
    assert!(day1_total < "6.745134360000".parse().unwrap());

    // Day 2 covered by a run with no day-2 rows: its partitions are removed.
    let window2 = ["--from", "2025-11-02", "--to", "2025-11-03"];
    partition_run(&[&short], &out, &window2);
    assert!(!out.join("summary/date=2025-11-02").exists());
    assert!(!out.join("line_items/date=2025-11-02").exists());
    let removed = &run_manifest(&out, "2025-11-02..2025-11-02")["partitions_removed"];
    assert_eq!(
        removed,
        &serde_json::json!(["summary/date=2025-11-02", "line_items/date=2025-11-02"])
    );
    assert!(part(&out, "summary", "2025-11-01").exists());
}

#[test]
fn partitioned_reruns_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let usage = fixture("usage");
    partition_run(&[&usage], &a, &[]);
    partition_run(&[&usage], &b, &["--threads", "1", "--batch-rows", "3"]);
    for table in ["summary", "line_items"] {
        for day in ["2025-11-01", "2025-11-02"] {
            assert_eq!(
                std::fs::read(part(&a, table, day)).unwrap(),
                std::fs::read(part(&b, table, day)).unwrap(),
                "{table} {day}"
            );
        }
    }
}

#[test]
fn a_window_that_cuts_a_partition_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run_into(
        &[&fixture("usage")],
        &tmp.path().join("out"),
        &[
            "--partition-by",
            "month",
            "--from",
            "2025-11-05",
            "--to",
            "2025-12-01",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("must fall on month boundaries"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_killed_while_writing_leaves_the_previous_partitions_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    partition_run(&[&fixture("usage")], &out, &[]);
    let before: Vec<Vec<u8>> = ["2025-11-01", "2025-11-02"]
        .iter()
        .map(|d| std::fs::read(part(&out, "summary", d)).unwrap())
        .collect();
    // A log "file" that is a pipe we keep open: billrun prices the CSV (sorted first),
    // then blocks reading the pipe, mid-run, until it is killed.
    let fifo = tmp.path().join("z-pipe.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_billrun"))
        .args([
            "run",
            fixture("usage").to_str().unwrap(),
            fifo.to_str().unwrap(),
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--partition-by",
            "day",
            "--quiet",
        ])
        .spawn()
        .unwrap();
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    drop(writer);
    for (d, bytes) in ["2025-11-01", "2025-11-02"].iter().zip(before) {
        assert_eq!(
            std::fs::read(part(&out, "summary", d)).unwrap(),
            bytes,
            "{d}"
        );
    }
    let runs: Vec<_> = std::fs::read_dir(out.join("_runs")).unwrap().collect();
    assert_eq!(runs.len(), 1, "no second run committed");
}
