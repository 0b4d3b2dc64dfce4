//! Canonical usage tables: pricing rules, rejects, reports and their invariants.

use super::*;

#[test]
fn sample_prices_every_row_and_reconciles() {
    let (o, dir) = run_csv(&[&fixture("usage")], &["--line-items"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(dir.path());
    assert_eq!(
        m["rows"],
        serde_json::json!({"read": 16, "priced": 15, "rejected": 0, "duplicate": 1, "not_billable": 0, "out_of_range": 0})
    );
    assert_eq!(m["totals"]["USD"], "6.745134360000");
    let summary = read_csv(&dir.path().join("out/summary.csv"));
    let items = read_csv(&dir.path().join("out/line_items.csv"));
    let total = sum_money(summary.iter().map(|r| r["cost"].clone()));
    assert_eq!(total, sum_money(items.iter().map(|r| r["cost"].clone())));
    assert_eq!(total.to_string(), "6.745134360000");
    assert_eq!(
        summary
            .iter()
            .map(|r| r["records"].parse::<usize>().unwrap())
            .sum::<usize>(),
        items.len()
    );
    assert!(read_csv(&dir.path().join("out/rejects.csv")).is_empty());
}

#[test]
fn hand_computed_costs_per_rule() {
    let (o, dir) = run_csv(&[&fixture("usage")], &["--line-items"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let items = read_csv(&dir.path().join("out/line_items.csv"));
    let cost = |request: &str, usage: &str| -> String {
        items
            .iter()
            .find(|r| r["request_id"] == request && r["usage_type"] == usage)
            .unwrap_or_else(|| panic!("no line item {request} {usage}"))["cost"]
            .clone()
    };
    // us. profile, cache meters each at their own price.
    assert_eq!(cost("req-0001", "cache_read_tokens"), "0.000600000000");
    assert_eq!(cost("req-0001", "cache_write_tokens"), "0.001500000000");
    // Sonnet 4.5: global is cheaper than the geo profile.
    assert_eq!(cost("req-0002", "input_tokens"), "3.000000000000");
    assert_eq!(cost("req-0003", "input_tokens"), "3.300000000000");
    // Nova Pro service tiers.
    assert_eq!(cost("req-0004", "output_tokens"), "0.005600000000");
    assert_eq!(cost("req-0005", "output_tokens"), "0.001600000000");
    // Batch price, half of on-demand.
    assert_eq!(cost("req-0006", "input_tokens"), "0.001100000000");
    // Image buckets and qualities.
    assert_eq!(cost("req-0007", "images"), "0.016000000000");
    assert_eq!(cost("req-0008", "images"), "0.012000000000");
    assert_eq!(cost("req-0102", "images"), "0.080000000000");
    // A foundation-model ARN resolves like its id.
    assert_eq!(cost("req-0103", "cache_read_tokens"), "0.000700000000");
    let geo = items
        .iter()
        .find(|r| r["request_id"] == "req-0104")
        .unwrap();
    assert_eq!(
        (geo["scope"].as_str(), geo["mode"].as_str()),
        ("geo", "batch")
    );
}

#[test]
fn effective_dates_and_wildcard_regions() {
    let (o, dir) = run_with_test_catalog(
        "timestamp,region,model_id,input_tokens,output_tokens",
        &[
            "2025-11-14T23:59:59Z,us-east-1,acme.model-v1,1000,1000",
            "2025-11-15T00:00:00Z,eu-west-1,acme.model-v1,1000,1000",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        line_item_fields(dir.path(), &["row", "usage_type", "cost"]),
        [
            "1 input_tokens 0.002000000000",
            "1 output_tokens 0.010000000000",
            "2 input_tokens 0.001000000000",
            "2 output_tokens 0.012000000000",
        ]
    );
}

#[test]
fn sql_engine_timestamps_are_read_and_zoneless_ones_rejected() {
    let (o, dir) = run_with_test_catalog(
        "timestamp,region,model_id,input_tokens",
        &[
            "2025-11-14 23:59:59+00,us-east-1,acme.model-v1,1000",
            "2025-11-15 01:00:00+0100,us-east-1,acme.model-v1,1000",
            "2025-11-15 00:00:00,us-east-1,acme.model-v1,1000",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        line_item_fields(dir.path(), &["row", "timestamp", "cost"]),
        [
            "1 2025-11-14T23:59:59Z 0.002000000000",
            "2 2025-11-15T00:00:00Z 0.001000000000"
        ]
    );
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    assert_eq!(
        (rejects[0]["row"].as_str(), rejects[0]["reason"].as_str()),
        ("3", "bad_timestamp")
    );
}

#[test]
fn bad_rows_are_rejected_with_reasons_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let input = usage_file(
        tmp.path(),
        "bad.csv",
        "timestamp,region,model_id,mode,request_id,input_tokens",
        &[
            "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,,r1,10",
            "not-a-time,us-east-1,amazon.nova-lite-v1:0,,r2,10",
            "2025-11-01T00:00:00Z,us-east-1,acme.unknown,,r3,10",
            "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,batch,r4,10",
            "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,,r5,-1",
            "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,,r1,10",
        ],
    );
    let (o, dir) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rejects: Vec<String> = read_csv(&dir.path().join("out/rejects.csv"))
        .iter()
        .map(|r| format!("{} {} {}", r["row"], r["request_id"], r["reason"]))
        .collect();
    assert_eq!(
        rejects,
        [
            "2 r2 bad_timestamp",
            "3 r3 unknown_model",
            "4 r4 no_price",
            "5 r5 bad_quantity"
        ]
    );
    let m = manifest(dir.path());
    assert_eq!(
        m["rows"],
        serde_json::json!({"read": 6, "priced": 1, "rejected": 4, "duplicate": 1, "not_billable": 0, "out_of_range": 0})
    );
    assert_eq!(m["rejects_by_reason"]["no_price"], 1);
}

#[test]
fn ragged_csv_rows_are_rejected_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let input = usage_file(
        tmp.path(),
        "ragged.csv",
        "timestamp,region,model_id,input_tokens",
        &[
            "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,5,extra",
            "2025-11-01T00:00:00Z,us-east-1",
            "2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,1000",
        ],
    );
    let (o, dir) = run_csv(&[&input], &["--line-items"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        line_item_fields(dir.path(), &["row", "cost"]),
        ["3 0.000060000000"]
    );
    let rejects: Vec<String> = read_csv(&dir.path().join("out/rejects.csv"))
        .iter()
        .map(|r| format!("{} {} {}", r["row"], r["reason"], r["message"]))
        .collect();
    assert_eq!(
        rejects,
        [
            "1 bad_row 5 fields where the header has 4",
            "2 bad_row 2 fields where the header has 4",
        ]
    );
    assert_eq!(
        manifest(dir.path())["rows"],
        serde_json::json!({"read": 3, "priced": 1, "rejected": 2, "duplicate": 0, "not_billable": 0, "out_of_range": 0})
    );
}

#[test]
fn missing_required_column_is_fatal_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let input = usage_file(
        tmp.path(),
        "u.csv",
        "timestamp,model_id,input_tokens",
        &["2025-11-01T00:00:00Z,m,1"],
    );
    let (o, dir) = run_csv(&[&input], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("u.csv") && err.contains("missing required column \"region\""),
        "{err}"
    );
    assert!(!dir.path().join("out").exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no staging directory is left behind"
    );
}

#[test]
fn a_failed_run_leaves_the_previous_reports_intact() {
    let (o, dir) = run_csv(&[&fixture("usage")], &[]);
    assert_eq!(o.status.code(), Some(0));
    let before = std::fs::read(dir.path().join("out/summary.csv")).unwrap();
    let out = dir.path().join("out");
    let o = billrun(&[
        "run",
        "/nonexistent/usage.csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(out.join("summary.csv")).unwrap(), before);
}

#[test]
fn ambiguous_catalog_is_reported_with_both_lines() {
    let path = fixture("catalogs/ambiguous.csv");
    let o = billrun(&["prices", "--check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("ambiguous.csv:3: ambiguous: lines 2 and 3"),
        "{err}"
    );
    assert!(err.contains("ambiguous.csv:4: price \"0,010\""), "{err}");
    let (o, _dir) = run_csv(&[&fixture("usage")], &["--prices", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn printed_catalog_checks_clean_and_round_trips() {
    let o = billrun(&["prices"]);
    assert_eq!(o.status.code(), Some(0));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("catalog.csv");
    std::fs::write(&path, &o.stdout).unwrap();
    let check = billrun(&["prices", "--check", path.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let again = billrun(&["prices", "--prices", path.to_str().unwrap()]);
    assert_eq!(again.stdout, o.stdout);
}

#[test]
fn group_by_tags_days_and_accounts() {
    let (o, dir) = run_csv(&[&fixture("usage")], &["--group-by", "tag:team,day"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = read_csv(&dir.path().join("out/summary.csv"));
    let ads: rust_decimal::Decimal = sum_money(
        summary
            .iter()
            .filter(|r| r["tag:team"] == "ads")
            .map(|r| r["cost"].clone()),
    );
    // req-0003 (3.3) + req-0004 (0.007) + req-0005 (0.002) on day 1, req-0103 (0.0105) on day 2.
    assert_eq!(ads.to_string(), "3.319500000000");
    let untagged: Vec<_> = summary
        .iter()
        .filter(|r| r["tag:team"].is_empty())
        .collect();
    assert_eq!(
        untagged
            .iter()
            .map(|r| r["day"].as_str())
            .collect::<Vec<_>>(),
        ["2025-11-02", "2025-11-02"]
    );
    let keys: Vec<_> = summary
        .iter()
        .map(|r| (r["tag:team"].clone(), r["day"].clone()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "summary sorted by its keys: {keys:?}"
    );
    let o = billrun(&[
        "run",
        fixture("usage").to_str().unwrap(),
        "--out",
        "x",
        "--group-by",
        "colour",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown key \"colour\""));
}

#[test]
fn reports_are_byte_identical_across_reruns_threads_and_batch_sizes() {
    let input = fixture("usage");
    let base = parquet_reports(&[&input], &["--threads", "1"]);
    assert_eq!(base.len(), 3);
    assert_eq!(
        parquet_reports(&[&input], &["--threads", "1"]),
        base,
        "rerun"
    );
    assert_eq!(
        parquet_reports(&[&input], &["--threads", "2"]),
        base,
        "two threads"
    );
    assert_eq!(
        parquet_reports(&[&input], &["--threads", "2", "--batch-rows", "3"]),
        base,
        "small batches"
    );
}

#[test]
fn split_input_equals_whole_input() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole.csv");
    let a = std::fs::read_to_string(fixture("usage/2025-11-01.csv")).unwrap();
    let b = std::fs::read_to_string(fixture("usage/2025-11-02.csv")).unwrap();
    std::fs::write(&whole, format!("{a}{}", b.split_once('\n').unwrap().1)).unwrap();
    let (o1, d1) = run_csv(&[&whole], &[]);
    let (o2, d2) = run_csv(&[&fixture("usage")], &[]);
    assert_eq!((o1.status.code(), o2.status.code()), (Some(0), Some(0)));
    assert_eq!(
        std::fs::read(d1.path().join("out/summary.csv")).unwrap(),
        std::fs::read(d2.path().join("out/summary.csv")).unwrap()
    );
}

#[test]
fn parquet_money_is_decimal_38_12_and_matches_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = billrun(&[
        "run",
        fixture("usage").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--line-items",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for name in ["summary.parquet", "line_items.parquet"] {
        let df = ParquetReader::new(std::fs::File::open(out.join(name)).unwrap())
            .finish()
            .unwrap();
        for column in ["cost", "quantity"] {
            assert_eq!(
                df.column(column).unwrap().dtype(),
                &DataType::Decimal(38, 12),
                "{name} {column}"
            );
        }
        let total = df
            .column("cost")
            .unwrap()
            .as_materialized_series()
            .decimal()
            .unwrap()
            .physical()
            .iter()
            .flatten()
            .sum::<i128>();
        assert_eq!(total, 6_745_134_360_000, "{name}");
    }
}

#[test]
fn gzip_input_prices_like_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let csv_path = fixture("usage/2025-11-01.csv");
    // A multi-member gzip: each half of the file compressed on its own, concatenated.
    let text = std::fs::read(&csv_path).unwrap();
    let (head, tail) = text.split_at(text.len() / 2);
    let mut gz = Vec::new();
    for part in [head, tail] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, part).unwrap();
        gz.extend(e.finish().unwrap());
    }
    let gz_path = tmp.path().join("day1.csv.gz");
    std::fs::write(&gz_path, gz).unwrap();
    let (o1, d1) = run_csv(&[&csv_path], &[]);
    let (o2, d2) = run_csv(&[&gz_path], &[]);
    assert_eq!(
        (o1.status.code(), o2.status.code()),
        (Some(0), Some(0)),
        "{}",
        stderr(&o2)
    );
    let summary =
        |d: &tempfile::TempDir| std::fs::read_to_string(d.path().join("out/summary.csv")).unwrap();
    assert_eq!(summary(&d1), summary(&d2));
}

#[test]
fn typed_parquet_input_prices_like_text_csv() {
    // The generator writes the same rows as Parquet (Datetime, Int64) and as CSV (text).
    let tmp = tempfile::tempdir().unwrap();
    for format in ["parquet", "csv"] {
        let dir = tmp.path().join(format);
        let generated = Command::new(env!("CARGO_BIN_EXE_gen-usage"))
            .args(["5000", dir.to_str().unwrap(), format])
            .output()
            .unwrap();
        assert!(generated.status.success(), "{}", stderr(&generated));
    }
    // With the generator's catalog: a third region and a mid-month price change.
    let catalog = tmp.path().join("csv/catalog.csv");
    let keys = [
        "--group-by",
        "model_id,mode,region,service_tier,day",
        "--prices",
        catalog.to_str().unwrap(),
    ];
    let (o1, d1) = run_csv(&[&tmp.path().join("parquet/usage.parquet")], &keys);
    let (o2, d2) = run_csv(&[&tmp.path().join("csv/usage.csv")], &keys);
    assert_eq!(
        (o1.status.code(), o2.status.code()),
        (Some(0), Some(0)),
        "{}{}",
        stderr(&o1),
        stderr(&o2)
    );
    let summary =
        |d: &tempfile::TempDir| std::fs::read_to_string(d.path().join("out/summary.csv")).unwrap();
    assert_eq!(summary(&d1), summary(&d2));
    assert_eq!(manifest(d1.path())["rows"]["priced"], 5000);
}

#[test]
fn duplicates_found_on_disk_are_the_ones_found_in_memory() {
    // Usage tables (a repeated request id) and logs (a record repeated across files).
    let profiles = fixture("logs/profiles.csv");
    for input in [fixture("usage"), fixture("logs/s3")] {
        let extra = ["--profiles", profiles.to_str().unwrap()];
        let memory = parquet_reports(&[&input], &[&extra[..], &["--dedup", "memory"]].concat());
        let disk = parquet_reports(&[&input], &[&extra[..], &["--dedup", "disk"]].concat());
        assert_eq!(memory, disk, "{}", input.display());
    }
    // Parquet, whose first pass decodes only the id column: the usage fixtures (with
    // their repeated id) as one Parquet file.
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("usage.parquet");
    polars::prelude::ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut usage_fixtures())
        .unwrap();
    assert_eq!(
        parquet_reports(&[&pq], &["--dedup", "memory"]),
        parquet_reports(&[&pq], &["--dedup", "disk"])
    );
    let (o, dir) = run_csv(&[&pq], &["--dedup", "disk"]);
    assert!(o.status.code().unwrap() < 2);
    let m = manifest(dir.path());
    assert_eq!(
        (
            m["rows"]["duplicate"].as_u64(),
            m["options"]["dedup"].as_str()
        ),
        (Some(1), Some("disk"))
    );
}

#[test]
fn a_huge_row_group_reads_as_the_same_rows_in_small_ones() {
    // The usage fixtures (a duplicate, rejects) repeated 50 times under fresh ids,
    // written as one row group and as row groups of 7 rows, read in batches of 5 rows
    // and of the default: every report byte-identical, rejects' row numbers included.
    let mut frame = usage_fixtures();
    let base = frame.clone();
    for copy in 1..50 {
        let mut next = base.clone();
        let ids = next.column("request_id").unwrap().str().unwrap().clone();
        let ids: Vec<Option<String>> = ids
            .iter()
            .map(|v| v.map(|v| format!("{v}-{copy}")))
            .collect();
        next.with_column(polars::prelude::Column::new("request_id".into(), ids))
            .unwrap();
        frame.vstack_mut(&next).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("usage.parquet");
    let mut reports = Vec::new();
    for group in [frame.height(), 7] {
        polars::prelude::ParquetWriter::new(std::fs::File::create(&pq).unwrap())
            .with_row_group_size(Some(group))
            .finish(&mut frame.clone())
            .unwrap();
        for extra in [&["--batch-rows", "5"][..], &[], &["--dedup", "memory"]] {
            reports.push(((group, extra), parquet_reports(&[&pq], extra)));
        }
    }
    let (first, rest) = reports.split_first().unwrap();
    assert!(
        first.1.contains_key("rejects.parquet"),
        "{:?}",
        first.1.keys()
    );
    for (how, r) in rest {
        assert_eq!(&first.1, r, "{how:?} differs from {:?}", first.0);
    }
}

/// The two usage fixture files as one frame, every column as text.
fn usage_fixtures() -> polars::prelude::DataFrame {
    let mut frames = ["usage/2025-11-01.csv", "usage/2025-11-02.csv"].map(|f| {
        polars::prelude::CsvReadOptions::default()
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(fixture(f)))
            .unwrap()
            .finish()
            .unwrap()
    });
    let [first, second] = &mut frames;
    first.vstack_mut(second).unwrap();
    frames.into_iter().next().unwrap()
}

#[test]
fn gzip_is_told_by_content_not_by_the_name() {
    // Before: gzip named .csv failed on "invalid utf-8", plain text named .csv.gz on
    // "invalid gzip header".
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let plain = std::fs::read("fixtures/usage/2025-11-01.csv").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let summary = |name: &str, bytes: &[u8]| {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (o, dir) = run_csv(&[&path], &[]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap()
    };
    let expected = summary("plain.csv", &plain);
    assert_eq!(summary("zipped.csv", &gz), expected);
    assert_eq!(summary("plain.csv.gz", &plain), expected);
    assert_eq!(summary("zipped.csv.gz", &gz), expected);
}

#[test]
fn blank_lines_read_alike_at_any_batch_size() {
    // Before: a batch holding only blank lines (here at --batch-rows 1 or 2) was
    // handed to the CSV parser empty, which failed the run ("no data: empty CSV").
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("u.csv");
    std::fs::write(
        &input,
        "timestamp,region,model_id,input_tokens\n\n\n\n2025-11-01T00:00:00Z,us-east-1,amazon.nova-lite-v1:0,5\nx,y\n\n",
    )
    .unwrap();
    let mut seen = Vec::new();
    for batch in ["1", "2", "65536"] {
        let (o, out) = run_csv(&[&input], &["--batch-rows", batch]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "--batch-rows {batch}: {}",
            stderr(&o)
        );
        let m = manifest(out.path());
        seen.push((
            m["rows"].clone(),
            std::fs::read(out.path().join("out/rejects.csv")).unwrap(),
        ));
    }
    assert_eq!(seen[0].0["priced"], 1);
    assert_eq!(seen[0].0["rejected"], 1);
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
}
