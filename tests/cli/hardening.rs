//! Bad inputs and faults from an adversarial pass: no silent zero, no hang, and
//! every error names its place. Each test is named after the case it reproduces.

use super::*;

const HEADER: &str = "timestamp,region,model_id,request_id,input_tokens,output_tokens";

fn row(id: &str) -> String {
    format!("2025-11-02T00:38:02Z,us-east-1,amazon.nova-lite-v1:0,{id},4,38")
}

fn rows_of(dir: &Path) -> serde_json::Value {
    manifest(dir)["rows"].clone()
}

fn priced(dir: &Path) -> u64 {
    rows_of(dir)["priced"].as_u64().unwrap()
}

/// A log record the embedded catalog prices (Nova Lite, 10 in, 5 out).
fn log_record(id: &str) -> String {
    format!(
        r#"{{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"2025-11-01T08:00:00Z","accountId":"111122223333","region":"us-east-1","requestId":"{id}","operation":"Converse","modelId":"amazon.nova-lite-v1:0","input":{{"inputTokenCount":10}},"output":{{"outputTokenCount":5}}}}"#
    )
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

#[test]
fn logs_under_a_folder_named_data_are_read_and_only_bedrock_large_bodies_skipped() {
    // Before: any folder named `data` at any depth was skipped: a $0 bill, exit 0.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root/data/bedrock");
    std::fs::create_dir_all(&root).unwrap();
    let copied = Command::new("cp")
        .args(["-r", fixture("logs/s3/AWSLogs").to_str().unwrap()])
        .arg(&root)
        .status()
        .unwrap();
    assert!(copied.success());
    let (o, dir) = run_csv(&[&tmp.path().join("root")], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(priced(dir.path()), 12);
    let skipped = manifest(dir.path())["skipped_files"].to_string();
    assert!(skipped.contains("large-body"), "{skipped}");
}

#[test]
fn csv_with_lone_carriage_returns_reads_every_row() {
    // Before: CR-only line ends read 0 rows, exit 0.
    let tmp = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}\r{}\r{}\r", row("a"), row("b"));
    let input = write(&tmp.path().join("mac.csv"), text);
    let (o, dir) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(priced(dir.path()), 2);
}

#[test]
fn blank_and_whitespace_lines_are_skipped_and_not_numbered() {
    // Before: "parsed 2 rows where 1 records were cut", fatal.
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "\n{HEADER}\n\n{}\n   \n{}\nragged,row\n\n\n",
        row("a"),
        row("b")
    );
    let input = write(&tmp.path().join("blank.csv"), text);
    let (o, dir) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(rows_of(dir.path())["read"], 3);
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    assert_eq!(
        (rejects[0]["row"].as_str(), rejects[0]["reason"].as_str()),
        ("3", "bad_row")
    );
    let trailing = write(
        &tmp.path().join("t.csv"),
        format!("{HEADER}\n{}\n\n", row("c")),
    );
    assert_eq!(run_csv(&[&trailing], &[]).0.status.code(), Some(0));
}

#[test]
fn the_same_file_named_twice_or_reached_through_a_link_is_billed_once() {
    // Before: `$PWD/b.csv b.csv` billed rows without a request id twice.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let no_id = "2025-11-02T00:38:02Z,us-east-1,amazon.nova-lite-v1:0,,4,38";
    usage_file(&d, "b.csv", HEADER, &[no_id]);
    std::os::unix::fs::symlink(&d, tmp.path().join("link")).unwrap();
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_billrun"))
        .current_dir(&d)
        .args([
            "run",
            "b.csv",
            d.join("b.csv").to_str().unwrap(),
            "../link",
            "../d",
        ])
        .args(["--out", out.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["rows"]["priced"], 1);
    assert_eq!(m["inputs"].as_array().unwrap().len(), 1);
    assert!(m["skipped_files"].to_string().contains("same file as"));
}

#[test]
fn a_tree_with_no_usage_file_is_an_error_not_a_zero_bill() {
    // Before: a tree of .ndjson logs priced as $0 with exit 0.
    let tmp = tempfile::tempdir().unwrap();
    let ndjson = tmp.path().join("nd/2025/11/01/a.ndjson");
    write(&ndjson, format!("{}\n", log_record("n-1")));
    let (o, dir) = run_csv(&[&tmp.path().join("nd")], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(priced(dir.path()), 1, ".ndjson is a log kind");
    write(&tmp.path().join("other/a.txt"), log_record("t-1"));
    write(&tmp.path().join("other/b.log"), log_record("t-2"));
    let (o, dir) = run_csv(&[&tmp.path().join("other")], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("no usage file found (2 files skipped"), "{e}");
    assert!(!dir.path().join("out").exists());
    // Skipped files are counted on stderr even when the run prices something.
    write(&tmp.path().join("nd/readme.txt"), "notes");
    let (o, _) = run_csv(&[&tmp.path().join("nd")], &[]);
    assert!(stderr(&o).contains("1 file(s) skipped"), "{}", stderr(&o));
}

#[test]
fn catalog_check_refuses_misspelled_columns_and_lower_case_currency() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |text: &str| {
        let path = write(&tmp.path().join("c.csv"), text);
        billrun(&["prices", "--check", path.to_str().unwrap()])
    };
    let o = check(
        "model_id,region,mode,usage_type,price,per,efective_to\nm,*,on_demand,input_tokens,1,1,2025-01-01\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("did you mean \"effective_to\"?"),
        "{}",
        stderr(&o)
    );
    let o = check(
        "model_id,region,mode,usage_type,price,per,currency\nm,*,on_demand,input_tokens,1,1,usd\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("c.csv:2: currency \"usd\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fifos_never_block_a_run() {
    // Before: a FIFO in an input directory blocked forever.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    usage_file(&d, "u.csv", HEADER, &[&row("a")]);
    let fifo = d.join("pipe.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (o, dir) = run_csv(&[&d], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        manifest(dir.path())["skipped_files"]
            .to_string()
            .contains("not a regular file")
    );
    // Named explicitly, with no writer: an error after the wait, not a hang.
    let o = Command::new(env!("CARGO_BIN_EXE_billrun"))
        .env("BILLRUN_FIFO_WAIT_SECS", "1")
        .args(["run", fifo.to_str().unwrap(), "--quiet", "--out"])
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("a FIFO with no writer after 1 s"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn threads_are_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let input = usage_file(tmp.path(), "u.csv", HEADER, &[&row("a")]);
    let (o, _) = run_csv(&[&input], &["--threads", "5000"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--threads 5000 is more than"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_all_time_capacity_record_by_hour_is_rejected_not_grown() {
    // Before: one record over all time with --group-by hour grew to 7 GB.
    let tmp = tempfile::tempdir().unwrap();
    let pt = usage_file(
        tmp.path(),
        "pt.csv",
        "provisioned_model_id,model_id,base_model_id,region,account_id,model_units,commitment,start,end",
        &[
            "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/old,amazon.titan-text-express-v1,,us-east-1,111122223333,1,none,1970-01-01T00:00:00Z,2026-01-01T00:00:00Z",
        ],
    );
    let (o, dir) = run_csv(
        &[],
        &[
            "--provisioned",
            pt.to_str().unwrap(),
            "--group-by",
            "model_id,hour",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    assert_eq!(rejects[0]["reason"], "bad_interval");
    assert!(rejects[0]["message"].contains("more than 100000 report pieces"));
}

#[test]
fn a_huge_header_is_quoted_short() {
    let tmp = tempfile::tempdir().unwrap();
    let header = "x".repeat(1 << 20);
    let input = write(&tmp.path().join("wide.csv"), format!("{header}\n1\n"));
    let (o, _) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).len() < 1000,
        "{} bytes of stderr",
        stderr(&o).len()
    );
    assert!(stderr(&o).contains("missing required column \"timestamp\""));
}

#[test]
fn a_non_utf8_byte_rejects_its_row_naming_the_column() {
    // Before: one bad byte aborted the whole run, naming a chunk.
    let tmp = tempfile::tempdir().unwrap();
    let mut text = format!("{HEADER}\n{}\n", row("a")).into_bytes();
    text.extend_from_slice(b"2025-11-02T00:38:02Z,us-east-1,amazon.nova-lite-v1:0,b\xff,4,38\n");
    text.extend_from_slice(format!("{}\n", row("c")).as_bytes());
    let input = write(&tmp.path().join("latin1.csv"), text);
    let (o, dir) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(priced(dir.path()), 2);
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    assert_eq!(
        (rejects[0]["row"].as_str(), rejects[0]["reason"].as_str()),
        ("2", "bad_value")
    );
    assert!(
        rejects[0]["message"].contains("column \"request_id\""),
        "{:?}",
        rejects[0]
    );
}

fn parquet_with(tmp: &Path, name: &str, extra: polars::prelude::Column) -> PathBuf {
    use polars::prelude::*;
    let n = extra.len();
    let text = |name: &str, v: &str| Column::new(name.into(), vec![v; n]);
    let mut columns = vec![
        text("timestamp", "2025-11-02T00:38:02Z"),
        text("region", "us-east-1"),
        text("model_id", "amazon.nova-lite-v1:0"),
    ];
    columns.retain(|c| c.name() != extra.name());
    columns.push(extra);
    let mut df = DataFrame::new(n, columns).unwrap();
    let path = tmp.join(name);
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    path
}

/// A run that reports no account does not decode Parquet's account column, except
/// a binary one: a value that is not UTF-8 still rejects its row, as in a run that
/// groups by account.
#[test]
fn a_binary_label_column_is_checked_whether_or_not_the_run_reads_it() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let accounts = Column::new(
        "account_id".into(),
        [b"111122223333".as_slice(), b"b\xff", b"444455556666"],
    );
    let tokens = [5i64, 7, 9];
    let with_tokens = |name: &str| {
        let path = parquet_with(tmp.path(), name, accounts.clone());
        let mut df = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        df.with_column(Column::new("input_tokens".into(), tokens))
            .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        path
    };
    let input = with_tokens("binary-accounts.parquet");
    for extra in [&[][..], &["--group-by", "model_id,account_id"]] {
        let (o, dir) = run_csv(&[&input], extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stderr(&o));
        assert_eq!(priced(dir.path()), 2, "{extra:?}");
        let rejects = read_csv(&dir.path().join("out/rejects.csv"));
        assert_eq!(
            (rejects[0]["row"].as_str(), rejects[0]["reason"].as_str()),
            ("2", "bad_value"),
            "{extra:?}"
        );
        assert!(rejects[0]["message"].contains("column \"account_id\""));
    }
}

#[test]
fn unsupported_parquet_types_name_the_column_and_the_fix() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let list = Series::new("input_tokens".into(), [Series::new("".into(), [1i64, 2])]);
    let input = parquet_with(tmp.path(), "list.parquet", list.into());
    let (o, _) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("column \"input_tokens\" has type list[i64]"),
        "{e}"
    );
    assert!(
        e.contains("write it as an integer (int64) or a string"),
        "{e}"
    );
    let millis = DataType::Duration(TimeUnit::Milliseconds);
    let duration = Series::new("output_tokens".into(), [5i64])
        .cast(&millis)
        .unwrap();
    let input = parquet_with(tmp.path(), "duration.parquet", duration.into());
    let (o, _) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("column \"output_tokens\" has type duration[ms]"),
        "{}",
        stderr(&o)
    );
    // Before: one undecodable cell aborted the run naming a chunk. Now it rejects
    // its row, naming the column; the other rows are read.
    let (good, bad): (&[u8], &[u8]) = (b"amazon.nova-lite-v1:0", b"amazon.nova-lite\xff");
    let binary = Series::new("model_id".into(), [good, bad, good]);
    let input = parquet_with(tmp.path(), "binary.parquet", binary.into());
    for dedup in ["memory", "disk"] {
        let (o, dir) = run_csv(&[&input], &["--dedup", dedup]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(rows_of(dir.path())["read"], 3);
        let rejects = read_csv(&dir.path().join("out/rejects.csv"));
        assert_eq!((rejects.len(), rejects[0]["row"].as_str()), (1, "2"));
        assert_eq!(rejects[0]["reason"], "bad_value");
        assert!(rejects[0]["message"].contains("column \"model_id\": byte 0xff"));
    }
}

#[test]
fn an_unsigned_count_past_int64_names_its_column_and_type() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let huge = Series::new("input_tokens".into(), [1u64, u64::MAX]);
    let input = parquet_with(tmp.path(), "huge.parquet", huge.into());
    let (o, _) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("column \"input_tokens\" (u64)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_json_array_with_a_broken_element_keeps_the_valid_ones() {
    // Before: one broken element dropped the valid records before it.
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "[\n{},\n{{\"broken\": }},\n{}\n]\n",
        log_record("j-1"),
        log_record("j-2")
    );
    let input = write(&tmp.path().join("array.json"), text);
    let (o, dir) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(rows_of(dir.path())["read"], 3);
    assert_eq!(priced(dir.path()), 2);
    let bom = write(
        &tmp.path().join("bom.jsonl"),
        format!("\u{feff}{}\n", log_record("b-1")),
    );
    let (o, dir) = run_csv(&[&bom], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(priced(dir.path()), 1, "a BOM loses no record");
}

#[test]
fn a_symlink_loop_ends_with_a_short_note() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    usage_file(&d, "u.csv", HEADER, &[&row("a")]);
    std::os::unix::fs::symlink(&d, d.join("loop")).unwrap();
    let (o, dir) = run_csv(&[&d], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let skipped = manifest(dir.path())["skipped_files"].to_string();
    assert!(
        skipped.contains("d/loop") && skipped.contains("same file as"),
        "{skipped}"
    );
    assert!(!skipped.contains("loop/loop"), "{skipped}");
}

#[test]
fn an_empty_or_inverted_window_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let input = usage_file(tmp.path(), "u.csv", HEADER, &[&row("a")]);
    for (from, to) in [("2025-11-02", "2025-11-02"), ("2025-11-03", "2025-11-02")] {
        let (o, _) = run_csv(&[&input], &["--from", from, "--to", to]);
        assert_eq!(o.status.code(), Some(2), "{from} {to}");
        assert!(stderr(&o).contains("is not after --from"), "{}", stderr(&o));
    }
}

#[test]
fn a_repeated_request_id_with_other_usage_is_reported_and_the_first_copy_wins() {
    // Before: the same id with different usage in two files silently kept the first.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    usage_file(&d, "a.csv", HEADER, &[&row("same"), &row("again")]);
    let other = "2025-11-02T00:38:02Z,us-east-1,amazon.nova-lite-v1:0,same,400,38";
    usage_file(&d, "b.csv", HEADER, &[other, &row("again")]);
    // The log of request "log-1" and a CSV export of it agree (counts as text, mode
    // and tier left to their defaults): a plain duplicate.
    write(&d.join("c.jsonl"), format!("{}\n", log_record("log-1")));
    let export = "2025-11-01T08:00:00Z,us-east-1,amazon.nova-lite-v1:0,log-1,10,5";
    usage_file(&d, "d.csv", HEADER, &[export]);
    for dedup in ["memory", "disk"] {
        let (o, dir) = run_csv(&[&d], &["--dedup", dedup]);
        assert_eq!(o.status.code(), Some(1), "{dedup}: {}", stderr(&o));
        let m = manifest(dir.path());
        assert_eq!(m["rows"]["duplicate"], 3, "{dedup}");
        assert_eq!(m["rows"]["rejected"], 0, "{dedup}");
        assert_eq!(m["duplicate_conflicts"], 1, "{dedup}");
        assert_eq!(m["rejects_by_reason"]["duplicate_conflict"], 1, "{dedup}");
        let rejects = read_csv(&dir.path().join("out/rejects.csv"));
        assert_eq!(rejects.len(), 1);
        let r = &rejects[0];
        assert!(r["source"].ends_with("b.csv") && r["row"] == "1" && r["request_id"] == "same");
        // The first copy is billed, 4 input tokens, not 400: Nova Lite at $0.06 and
        // $0.24 per 1M, 2 × (4 × 0.00000006 + 38 × 0.00000024) + (10 × 0.00000006 +
        // 5 × 0.00000024) = 2 × 0.00000936 + 0.0000018.
        assert_eq!(m["totals"]["USD"], "0.000020520000", "{dedup}");
    }
}

#[test]
fn a_run_that_reads_no_row_while_skipping_files_fails() {
    // A usage file exists (so the directory is not empty of usage) but holds no row,
    // and the real usage sits beside it under an extension billrun does not read.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    write(&d.join("empty.csv"), format!("{HEADER}\n"));
    write(&d.join("usage.txt"), format!("{HEADER}\n{}\n", row("a")));
    let (o, dir) = run_csv(&[&d], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no usage row was read, and 1 file(s) were skipped"));
    assert!(!dir.path().join("out").exists());
    // With nothing skipped, an empty file is an empty (and honest) report.
    std::fs::remove_file(d.join("usage.txt")).unwrap();
    assert_eq!(run_csv(&[&d], &[]).0.status.code(), Some(0));
}

#[test]
fn an_unbalanced_quote_is_an_error_naming_its_row_not_a_swallowed_file() {
    // Before: every line after the quote became one field; polars' error quoted
    // all of them (megabytes of stderr) and named the chunk's first row.
    let tmp = tempfile::tempdir().unwrap();
    let mut text = format!("{HEADER}\n{}\n", row("a"));
    text.push_str(&row("b").replacen(",us-east-1", ",\"us-east-1", 1));
    text.push('\n');
    for i in 0..2000 {
        text.push_str(&row(&format!("c{i}")));
        text.push('\n');
    }
    let input = write(&tmp.path().join("quote.csv"), text);
    let (o, _) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.len() < 1000, "{} bytes of stderr", err.len());
    assert!(
        err.contains("row 2:") && err.contains("unbalanced"),
        "{err}"
    );
}

#[test]
fn rejects_are_in_row_order_whatever_the_batch_size() {
    // Before: a batch wrote the rows rating refused, then those its reader refused,
    // then conflicting duplicates, so the order of rejects.csv depended on
    // --batch-rows.
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = vec![HEADER.to_string()];
    for i in 0..12 {
        lines.push(match i % 4 {
            0 => row(&format!("ok{i}")),
            1 => row(&format!("bad{i}")).replace("amazon.nova-lite-v1:0", "no.such-model"),
            2 => format!("{},extra", row(&format!("ragged{i}"))),
            _ => row("ok0").replace(",4,38", ",5,38"), // a conflicting duplicate
        });
    }
    let input = write(&tmp.path().join("mixed.csv"), lines.join("\n") + "\n");
    let rejects = |batch: &str| {
        let (o, dir) = run_csv(&[&input], &["--batch-rows", batch]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let rows = read_csv(&dir.path().join("out/rejects.csv"));
        rows.iter()
            .map(|r| format!("{} {}", r["row"], r["reason"]))
            .collect::<Vec<_>>()
    };
    let whole = rejects("1000");
    assert_eq!(whole.len(), 9, "{whole:?}");
    let numbers: Vec<i64> = whole
        .iter()
        .map(|r| r.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{whole:?}");
    assert_eq!(rejects("2"), whole);
}

#[test]
fn an_empty_csv_is_an_error_that_says_it_is_empty() {
    // Before: "missing required column \"timestamp\" (found: )".
    let tmp = tempfile::tempdir().unwrap();
    let input = write(&tmp.path().join("empty.csv"), " \n\n");
    let (o, _) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("empty.csv: cannot read input: the file is empty: no header row"),
        "{}",
        stderr(&o)
    );
}
