//! Capacity and customization: Provisioned Throughput, Custom Model Import, training.

use super::*;

const DECEMBER: [&str; 4] = ["--from", "2025-12-01", "--to", "2026-01-01"];

fn cap(name: &str) -> String {
    fixture(&format!("capacity/{name}")).display().to_string()
}

/// All the capacity fixtures with the invocations, December 2025, CSV reports.
fn run_all(extra: &[&str]) -> (Output, tempfile::TempDir) {
    let flags = capacity_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    run_csv(
        &[&fixture("capacity/invocations.csv")],
        &[&flags[..], &DECEMBER, extra].concat(),
    )
}

/// `file row reason` of every reject.
fn reject_lines(dir: &Path) -> Vec<String> {
    read_csv(&dir.join("out/rejects.csv"))
        .iter()
        .map(|r| {
            let file = r["source"].rsplit('/').next().unwrap().to_string();
            format!("{file} {} {}", r["row"], r["reason"])
        })
        .collect()
}

/// `model usage_type quantity cost records` of every summary row.
fn summary_lines(dir: &Path) -> Vec<String> {
    read_csv(&dir.join("out/summary.csv"))
        .iter()
        .map(|r| {
            let model = r["model_id"].rsplit('/').next().unwrap().to_string();
            format!(
                "{model} {} {} {} {}",
                r["usage_type"], r["quantity"], r["cost"], r["records"]
            )
        })
        .collect()
}

#[test]
fn capacity_fixtures_bill_the_hand_computed_amounts() {
    let (o, dir) = run_all(&["--group-by", "model_id"]);
    assert_eq!(o.status.code(), Some(1), "rejects expected: {}", stderr(&o));
    assert_eq!(
        summary_lines(dir.path()),
        [
            "amazon.nova-micro-v1:0 input_tokens 1000 0.000035000000 1",
            "amazon.nova-micro-v1:0 output_tokens 1000 0.000140000000 1",
            // 500 steps × batch 8 = 4,000 images seen × $0.005.
            "amazon.titan-image-generator-v1 training_images 4000 20.000000000000 1",
            // 2 MU × 744 h (31 days) × $18.40 (1-month commitment).
            "amazon.titan-text-express-v1 mu_hours 1488 27379.200000000000 1",
            // 10:20–12:40 starts 3 hours × $44.00 (no commitment).
            "anthropic.claude-instant-v1 mu_hours 3 132.000000000000 1",
            // Windows from invocations: 08:03 (1); 09:00, 09:04, 09:07 (2, then an
            // empty window: scale to zero); 09:16, 09:21:30 (2) = 5 × 5 min × 2 CMU.
            // Invocations of an imported model: counted, no token cost.
            "llama31-8b input_tokens 620 0.000000000000 6",
            "llama31-8b output_tokens 80 0.000000000000 6",
            "llama31-8b cmu_minutes 50 3.925000000000 3",
            // 2 CMU × all of December × $1.95.
            "llama31-8b cmu_storage_months 2 3.900000000000 1",
            // c1: 10:00–10:12, 10:12–10:20 (touching) and 10:15–10:18 (inside) merge
            // to 20 min = 4 windows; c2: 1 minute = 1 window; 5 × 5 × 1 CMU × $0.0785.
            "mistral-7b cmu_minutes 25 1.962500000000 2",
            // 1 CMU for 15 of December's 31 days × $1.95, rounded once at 12 places.
            "mistral-7b cmu_storage_months 0.483870967742 0.943548387097 1",
            // Custom model on PT, priced as its base: 48 h to --to × $23.77 (6-month).
            "cohere.command-text-v14 mu_hours 48 1140.960000000000 1",
            // 1,000,000 tokens × 3 epochs × $0.004 / 1,000.
            "cohere.command-text-v14 training_tokens 3000000 12.000000000000 1",
            // The custom model from 12-05 to the end of the run: 27 / 31 months × $1.95.
            "cohere.command-text-v14 model_storage_months 0.870967741935 1.698387096774 1",
        ]
    );
    let rejects = reject_lines(dir.path());
    assert_eq!(
        rejects,
        [
            "provisioned.csv 4 bad_quantity",
            "provisioned.csv 5 bad_interval",
            "provisioned.csv 6 bad_commitment",
            "provisioned.csv 7 overlap",
            "provisioned.csv 9 no_price",
            "imported_models.csv 3 bad_quantity",
            "copies.csv 5 unknown_model",
            "customization.csv 3 bad_record",
        ]
    );
    let m = manifest(dir.path());
    let rows = &m["rows"];
    assert_eq!(rows["read"], 27);
    assert_eq!(rows["priced"], 18);
    assert_eq!(rows["rejected"], 8);
    assert_eq!(rows["out_of_range"], 1, "the October record");
    assert_eq!(m["totals"]["USD"], "28696.589610483871");
}

#[test]
fn line_items_of_capacity_add_up_to_the_summary() {
    let (_, dir) = run_all(&["--line-items", "--group-by", "account_id,day"]);
    let summary = sum_money(
        read_csv(&dir.path().join("out/summary.csv"))
            .into_iter()
            .map(|r| r["cost"].clone()),
    );
    let items = read_csv(&dir.path().join("out/line_items.csv"));
    assert_eq!(summary, sum_money(items.iter().map(|r| r["cost"].clone())));
    // Daily pieces of a prorated month are rounded as one: the same total as by month.
    assert_eq!(summary.to_string(), "28696.589610483871");
    // Grouping by day cuts the month-long PT record into 31 daily pieces of 48 MU-hours.
    let titan: Vec<_> = items
        .iter()
        .filter(|r| r["request_id"].ends_with("provisioned-model/titan"))
        .collect();
    assert_eq!(titan.len(), 31);
    assert!(titan.iter().all(|r| r["quantity"] == "48"));
}

#[test]
fn exact_hours_bill_fractions_rounded_once_per_piece() {
    let p = cap("provisioned.csv");
    let (_, dir) = run_csv(
        &[],
        &[
            &[
                "--provisioned",
                &p,
                "--pt-hours",
                "exact",
                "--group-by",
                "model_id",
            ][..],
            &DECEMBER,
        ]
        .concat(),
    );
    let lines = summary_lines(dir.path());
    // 2 h 20 min = 7/3 h × $44.00 = 102.666…7.
    assert!(
        lines.contains(
            &"anthropic.claude-instant-v1 mu_hours 2.333333333333 102.666666666667 1".to_string()
        ),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"amazon.titan-text-express-v1 mu_hours 1488 27379.200000000000 1".to_string()
        )
    );
}

#[test]
fn a_month_split_in_two_runs_bills_what_one_run_bills() {
    let p = cap("provisioned.csv");
    let total = |from: &str, to: &str, hours: &str| {
        let (_, dir) = run_csv(
            &[],
            &[
                "--provisioned",
                &p,
                "--pt-hours",
                hours,
                "--from",
                from,
                "--to",
                to,
            ],
        );
        manifest(dir.path())["totals"]["USD"]
            .as_str()
            .unwrap_or("0")
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    for hours in ["started", "exact"] {
        let whole = total("2025-12-01", "2026-01-01", hours);
        // The claude-instant record runs 10:20–12:40 on 12-03: split mid-hour, at
        // 11:00 (started hours belong to the run their start falls in).
        let split = total("2025-12-01", "2025-12-03T11:00:00Z", hours)
            + total("2025-12-03T11:00:00Z", "2026-01-01", hours);
        let diff = (whole - split).abs();
        match hours {
            "started" => assert_eq!(whole, split),
            // Fractions are rounded once per piece: at most 10^-12 per extra piece.
            _ => assert!(
                diff <= "0.000000000002".parse().unwrap(),
                "{whole} vs {split}"
            ),
        }
    }
}

#[test]
fn a_record_still_running_needs_to_and_stops_there() {
    let p = cap("provisioned.csv");
    let (o, _) = run_csv(&[], &["--provisioned", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("row 3, column \"end\": cannot read input: empty (still active); pass --to"),
        "{}",
        stderr(&o)
    );
    // Up to --to only: the custom model's record started 12-30 and is billed 24 h.
    let (_, dir) = run_csv(
        &[],
        &[
            "--provisioned",
            &p,
            "--to",
            "2025-12-31",
            "--group-by",
            "model_id",
        ],
    );
    let lines = summary_lines(dir.path());
    assert!(
        lines.contains(&"cohere.command-text-v14 mu_hours 24 570.480000000000 1".to_string()),
        "{lines:?}"
    );
}

#[test]
fn one_imported_model_invocation_bills_one_window_and_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let arn = "arn:aws:bedrock:us-east-1:111122223333:imported-model/llama31-8b";
    let usage = usage_file(
        tmp.path(),
        "u.csv",
        "timestamp,region,model_id,request_id,input_tokens,output_tokens",
        &[&format!("2025-12-02T08:03:00Z,us-east-1,{arn},r1,10,5")],
    );
    let registry = usage_file(
        tmp.path(),
        "models.csv",
        "model_arn,cmu_per_copy,cmu_version,architecture,created,deleted",
        &[&format!("{arn},2,1.0,llama,2025-11-15T00:00:00Z,")],
    );
    let (o, dir) = run_csv(
        &[&usage],
        &[
            &[
                "--imported-models",
                registry.to_str().unwrap(),
                "--group-by",
                "model_id",
            ][..],
            &DECEMBER,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        summary_lines(dir.path()),
        [
            "llama31-8b input_tokens 10 0.000000000000 1",
            "llama31-8b output_tokens 5 0.000000000000 1",
            // One 5-minute window × 2 CMU × $0.0785.
            "llama31-8b cmu_minutes 10 0.785000000000 1",
            "llama31-8b cmu_storage_months 2 3.900000000000 1",
        ]
    );
}

#[test]
fn nothing_to_price_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = billrun(&["run", "--out", dir.path().join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nothing to price"), "{}", stderr(&o));
}

#[test]
fn a_capacity_table_without_a_required_column_is_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = usage_file(
        tmp.path(),
        "p.csv",
        "provisioned_model_id,model_id",
        &["a,b"],
    );
    let (o, dir) = run_csv(
        &[],
        &["--provisioned", bad.to_str().unwrap(), "--to", "2026-01-01"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing required column \"region\""),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn capacity_from_parquet_prices_like_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let csv_path = fixture("capacity/provisioned.csv");
    let pq = tmp.path().join("provisioned.parquet");
    let mut df = polars::prelude::CsvReadOptions::default()
        .with_infer_schema_length(Some(100))
        .try_into_reader_with_file_path(Some(csv_path.clone()))
        .unwrap()
        .finish()
        .unwrap();
    polars::prelude::ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    let summary = |path: &Path| {
        let (_, dir) = run_csv(
            &[],
            &[&["--provisioned", path.to_str().unwrap()][..], &DECEMBER].concat(),
        );
        std::fs::read(dir.path().join("out/summary.csv")).unwrap()
    };
    assert_eq!(summary(&csv_path), summary(&pq));
}

/// An invocation-log record of the imported model at `time`.
fn imported_log_line(id: &str, time: &str, error: Option<&str>) -> String {
    let arn = "arn:aws:bedrock:us-east-1:111122223333:imported-model/llama31-8b";
    let error = error.map_or(String::new(), |e| format!(r#","errorCode":"{e}""#));
    format!(
        r#"{{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"{time}","accountId":"111122223333","region":"us-east-1","requestId":"{id}","operation":"InvokeModel","modelId":"{arn}","input":{{"inputTokenCount":7}},"output":{{"outputTokenCount":3}}{error}}}"#
    )
}

#[test]
fn imported_model_invocations_in_logs_derive_windows_from_successes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("invocations.jsonl");
    let lines = [
        imported_log_line("a", "2025-12-02T08:03:00Z", None),
        // Throttled with usage logged: a row, but it does not keep the copy awake.
        imported_log_line("b", "2025-12-02T08:09:00Z", Some("ThrottlingException")),
        imported_log_line("c", "2025-12-02T08:20:00Z", None),
    ];
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let registry = cap("imported_models.csv");
    let (o, dir) = run_csv(
        &[&log],
        &[
            &["--imported-models", &registry, "--group-by", "model_id"][..],
            &DECEMBER,
        ]
        .concat(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the broken registry row: {}",
        stderr(&o)
    );
    let lines = summary_lines(dir.path());
    // 08:03 and 08:20 are separate runs: 2 windows × 5 × 2 CMU × $0.0785 = 1.57.
    assert!(
        lines.contains(&"llama31-8b cmu_minutes 20 1.570000000000 2".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"llama31-8b input_tokens 21 0.000000000000 3".to_string()));
}

#[test]
fn every_bad_capacity_record_is_rejected_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let pt = usage_file(
        tmp.path(),
        "pt.csv",
        "provisioned_model_id,model_id,region,account_id,model_units,commitment,start,end",
        &[
            // A custom model without base_model_id cannot be priced.
            "pm-1,arn:aws:bedrock:us-east-1:1:custom-model/x/y,us-east-1,1,1,none,2025-12-01,2025-12-02",
            "pm-2,amazon.titan-text-express-v1,us-east-1,1,1,1-month,yesterday,2025-12-02",
            ",amazon.titan-text-express-v1,us-east-1,1,1,1-month,2025-12-01,2025-12-02",
        ],
    );
    let models = usage_file(
        tmp.path(),
        "models.csv",
        "model_arn,cmu_per_copy,cmu_version,architecture,created,deleted",
        &[
            "arn:aws:bedrock:us-east-1:1:imported-model/a,1,1.0,llama,2025-11-01,2025-12-15",
            "arn:aws:bedrock:us-east-1:1:imported-model/a,1,1.0,llama,2025-11-01,2025-12-15",
            "arn:aws:bedrock:us-east-1:1:custom-model/b,1,1.0,llama,2025-11-01,2025-12-15",
        ],
    );
    let jobs = usage_file(
        tmp.path(),
        "jobs.csv",
        "job_id,base_model_id,region,account_id,kind,training_tokens,epochs,completed_at",
        &[
            ",cohere.command-text-v14,us-east-1,1,text,10,1,2025-12-05",
            "j-2,cohere.command-text-v14,us-east-1,1,text,-5,1,2025-12-05",
            "j-3,cohere.command-text-v14,us-east-1,1,text,10,0,2025-12-05",
        ],
    );
    let flags = [
        "--provisioned",
        pt.to_str().unwrap(),
        "--imported-models",
        models.to_str().unwrap(),
        "--customization",
        jobs.to_str().unwrap(),
    ];
    let (o, dir) = run_csv(&[], &[&flags[..], &DECEMBER].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rejects = reject_lines(dir.path());
    assert_eq!(
        rejects,
        [
            "pt.csv 1 unknown_model",
            "pt.csv 2 bad_timestamp",
            "pt.csv 3 missing_value",
            "models.csv 2 overlap",
            "models.csv 3 unknown_model",
            "jobs.csv 1 missing_value",
            "jobs.csv 2 bad_quantity",
            "jobs.csv 3 bad_quantity",
        ]
    );
    // The one valid model's storage: 14 of December's 31 days.
    assert_eq!(manifest(dir.path())["rows"]["priced"], 1);
}

#[test]
fn a_cmu_version_written_v1_0_is_the_catalog_s_1_0() {
    // Before: a registry saying `v1.0` found no price (the catalog says `1.0`).
    let tmp = tempfile::tempdir().unwrap();
    let registry = std::fs::read_to_string(fixture("capacity/imported_models.csv")).unwrap();
    let written_v = tmp.path().join("imported_models.csv");
    std::fs::write(&written_v, registry.replace(",1.0,", ",v1.0,")).unwrap();
    assert!(
        std::fs::read_to_string(&written_v)
            .unwrap()
            .contains(",v1.0,")
    );
    let summary = |registry: &str| {
        let (o, dir) = run_csv(
            &[],
            &[
                "--imported-models",
                registry,
                "--copies",
                &cap("copies.csv"),
                "--to",
                "2026-01-01",
            ],
        );
        assert!(o.status.code().unwrap() < 2, "{}", stderr(&o));
        std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap()
    };
    let expected = summary(&cap("imported_models.csv"));
    assert!(expected.contains("cmu_minutes"), "{expected}");
    assert_eq!(summary(written_v.to_str().unwrap()), expected);
}
