//! `billrun reconcile`: the fixtures' bill in four export formats against a run of
//! fixtures/bills/usage.csv, with the differences make_bills.py injected.

use super::*;
use rust_decimal::Decimal;
use std::collections::BTreeSet;

const BILLS: [&str; 4] = ["cur2.parquet", "cur2.csv.gz", "legacy-cur.csv", "focus.csv"];

/// A run of the bills fixture with line items (Parquet unless `extra` says).
fn priced_run(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let usage = fixture("bills/usage.csv");
    let o = run_into(
        &[&usage],
        &dir.path().join("run"),
        &[&["--line-items"], extra].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    dir
}

fn reconcile(run: &Path, bills: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "reconcile".to_string(),
        run.display().to_string(),
        "--bill".into(),
    ];
    args.extend(bills.iter().map(|b| b.display().to_string()));
    args.extend([
        "--out".into(),
        out.display().to_string(),
        "--format".into(),
        "csv".into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(env!("CARGO_BIN_EXE_billrun"))
        .args(&args)
        .output()
        .unwrap()
}

fn read_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn decimal(s: &str) -> Decimal {
    s.parse().unwrap_or_else(|_| panic!("not a decimal: {s:?}"))
}

#[test]
fn every_export_format_shows_the_injected_differences() {
    let layouts = [&[][..], &["--format", "csv"], &["--partition-by", "day"]];
    for run_format in layouts {
        let dir = priced_run(run_format);
        let run = dir.path().join("run");
        for bill in BILLS {
            let out = dir.path().join(format!("recon-{bill}"));
            let o = reconcile(&run, &[&fixture(&format!("bills/{bill}"))], &out, &[]);
            assert_eq!(o.status.code(), Some(1), "{bill}: {}", stderr(&o));
            let rows = read_csv(&out.join("reconcile.csv"));
            let drifts: BTreeSet<String> = rows
                .iter()
                .filter(|r| !matches!(r["status"].as_str(), "matched" | "adjustment"))
                .map(|r| {
                    format!(
                        "{} {} {} {}",
                        r["status"], r["day"], r["model_id"], r["usage_type"]
                    )
                })
                .collect();
            let expected: BTreeSet<String> = [
                "price_drift 2025-11-02 amazon.nova-lite-v1:0 input_tokens",
                "quantity_drift 2025-11-02 openai.gpt-oss-120b-1:0 output_tokens",
                "only_in_bill 2025-11-02 anthropic.claude-haiku-4-5-20251001-v1:0 output_tokens",
                "only_in_billrun 2025-11-01 amazon.nova-lite-v1:0 output_tokens",
            ]
            .map(String::from)
            .into();
            assert_eq!(drifts, expected, "{bill}");
            // Thousands of tokens, Marketplace names, global scope and batch all meet.
            let matched: BTreeSet<String> = rows
                .iter()
                .filter(|r| r["status"] == "matched")
                .map(|r| {
                    format!(
                        "{} {} {} {}",
                        r["model_id"], r["scope"], r["mode"], r["usage_type"]
                    )
                })
                .collect();
            for m in [
                "anthropic.claude-sonnet-4-5-20250929-v1:0 global on_demand input_tokens",
                "anthropic.claude-sonnet-4-6 regional on_demand cache_read_tokens",
                "amazon.nova-2-lite-v1:0 regional batch output_tokens",
            ] {
                assert!(matched.contains(m), "{bill}: {m} not matched: {matched:?}");
            }
            let drift = rows.iter().find(|r| r["status"] == "price_drift").unwrap();
            // 633,333 tokens at 0.066 instead of 0.06 per 1M.
            assert_eq!(
                decimal(&drift["list_cost_difference"]),
                decimal("0.003799998")
            );
            let q = rows
                .iter()
                .find(|r| r["status"] == "quantity_drift")
                .unwrap();
            assert_eq!(decimal(&q["quantity_difference"]), decimal("1000"));
            let adjustments: BTreeSet<&str> = rows
                .iter()
                .filter(|r| r["status"] == "adjustment")
                .map(|r| r["line_item_type"].as_str())
                .collect();
            let types: BTreeSet<&str> = match bill {
                "focus.csv" => ["Adjustment", "Credit", "Tax"].into(),
                _ => ["Credit", "EdpDiscount", "Tax"].into(),
            };
            assert_eq!(adjustments, types, "{bill}");
            let unmapped = read_csv(&out.join("unmapped.csv"));
            assert_eq!(unmapped.len(), 1, "{bill}");
            assert_eq!(
                unmapped[0]["usage_type"],
                "USE1-SomeFutureModel-input-tokens"
            );
            assert!(
                unmapped[0]["reason"].contains("no alias"),
                "{}",
                unmapped[0]["reason"]
            );
            let m = read_manifest(&out);
            let counts = &m["bill_rows"];
            assert_eq!(
                [
                    &counts["read"],
                    &counts["usage"],
                    &counts["adjustment"],
                    &counts["other_services"],
                    &counts["unmapped"]
                ],
                [25, 20, 3, 1, 1].map(serde_json::Value::from).each_ref(),
                "{bill}: {counts}"
            );
            assert!(stderr(&o).contains("1 price_drift"), "{}", stderr(&o));
        }
    }
}

#[test]
fn the_true_up_adds_up_to_the_bill_per_bucket_and_in_total() {
    let dir = priced_run(&[]);
    let run = dir.path().join("run");
    let out = dir.path().join("recon");
    let bill = fixture("bills/cur2.parquet");
    let o = reconcile(&run, &[&bill], &out, &["--true-up", "principal"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let bucket = |r: &BTreeMap<String, String>| {
        [
            "day",
            "line_item_type",
            "model_id",
            "usage_type",
            "mode",
            "scope",
            "service_tier",
        ]
        .map(|c| r[c].clone())
        .join(" ")
    };
    let mut billed: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in read_csv(&out.join("reconcile.csv")) {
        *billed.entry(bucket(&r)).or_default() += decimal(&r["bill_net_cost"]);
    }
    let mut shared: BTreeMap<String, Decimal> = BTreeMap::new();
    let trueup = read_csv(&out.join("trueup.csv"));
    for r in &trueup {
        *shared.entry(bucket(r)).or_default() += decimal(&r["cost"]);
    }
    billed.retain(|_, v| !v.is_zero());
    shared.retain(|_, v| !v.is_zero());
    assert_eq!(shared, billed);
    let total: Decimal = trueup.iter().map(|r| decimal(&r["cost"])).sum();
    // The bill's net cost of its Bedrock rows: usage, credit, discount, tax, and the
    // unmapped row is not in any bucket.
    let m = read_manifest(&out);
    let usd = |k: &str| decimal(m["totals"]["USD"][k].as_str().unwrap());
    let bedrock_net = usd("bill_net_cost") + usd("bill_adjustments_net_cost");
    assert_eq!(total, bedrock_net);
    // Shares follow billrun's costs: alice and bob split Sonnet 4.6 input of 2025-11-01
    // 0.396 : 0.099 of its net 0.4455.
    let share = |who: &str| {
        trueup
            .iter()
            .find(|r| {
                r["day"] == "2025-11-01"
                    && r["model_id"] == "anthropic.claude-sonnet-4-6"
                    && r["usage_type"] == "input_tokens"
                    && r["principal"].ends_with(who)
            })
            .map(|r| decimal(&r["cost"]))
            .unwrap()
    };
    assert_eq!(
        (share("alice"), share("bob")),
        (decimal("0.3564"), decimal("0.0891"))
    );
    assert!(trueup.iter().any(|r| r["principal"] == "(unattributed)"
        && r["model_id"] == "anthropic.claude-haiku-4-5-20251001-v1:0"));
    // The statement reads the true-up and adds up to it, rounded once.
    let s = billrun(&[
        "statement",
        out.to_str().unwrap(),
        "--by",
        "principal",
        "--period",
        "2025-11",
    ]);
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    let text = String::from_utf8_lossy(&s.stdout).into_owned();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("(total),USD,"), "{text}");
    assert_eq!(decimal(last.split(',').nth(2).unwrap()), total);
}

/// A one-row CUR 2.0 CSV for the line items of `priced_run`, with `row` replacing
/// the usage columns.
fn cur_csv(dir: &Path, rows: &[&str]) -> PathBuf {
    let path = dir.join("bill.csv");
    let header = "line_item_usage_start_date,line_item_usage_account_id,line_item_line_item_type,line_item_product_code,line_item_usage_type,line_item_usage_amount,pricing_unit,pricing_public_on_demand_cost,line_item_unblended_cost,line_item_net_unblended_cost";
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path
}

#[test]
fn a_bill_that_matches_exits_zero_and_the_tolerance_forgives_small_drifts() {
    let dir = tempfile::tempdir().unwrap();
    let usage = usage_file(
        dir.path(),
        "u.csv",
        "timestamp,region,model_id,request_id,account_id,input_tokens,output_tokens",
        &["2025-11-01T09:00:00Z,us-east-1,amazon.nova-lite-v1:0,r1,111122223333,1000000,0"],
    );
    let run = dir.path().join("run");
    assert_eq!(
        run_into(&[&usage], &run, &["--line-items"]).status.code(),
        Some(0)
    );
    let exact = "2025-11-01T00:00:00Z,111122223333,Usage,AmazonBedrock,USE1-NovaLite-input-tokens,1000,1K tokens,0.06,0.06,0.054";
    let bill = cur_csv(dir.path(), &[exact]);
    let out = dir.path().join("recon");
    let o = reconcile(&run, &[&bill], &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = read_csv(&out.join("reconcile.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["alert"].as_str()),
        ("matched", "false")
    );
    // A cent of drift: alerts at tolerance 0, not at 0.01; a rerun replaces --out.
    let off = exact.replace(",0.06,0.06,", ",0.07,0.07,");
    let bill = cur_csv(dir.path(), &[&off]);
    assert_eq!(reconcile(&run, &[&bill], &out, &[]).status.code(), Some(1));
    assert_eq!(
        read_csv(&out.join("reconcile.csv"))[0]["status"],
        "price_drift"
    );
    let o = reconcile(&run, &[&bill], &out, &["--tolerance", "0.01"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read_csv(&out.join("reconcile.csv"))[0]["alert"], "false");
    let o = reconcile(&run, &[&bill], &out, &["--tolerance", "-1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_bill_files_are_errors_or_listed_rows_never_dropped() {
    let dir = priced_run(&[]);
    let run = dir.path().join("run");
    let out = dir.path().join("recon");
    // Missing column: an error naming it.
    let path = dir.path().join("short.csv");
    std::fs::write(
        &path,
        "line_item_usage_type,line_item_usage_amount\nUSE1-NovaLite-input-tokens,1\n",
    )
    .unwrap();
    let o = reconcile(&run, &[&path], &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line_item_usage_start_date"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Not a bill at all.
    let usage = fixture("bills/usage.csv");
    let o = reconcile(&run, &[&usage], &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a CUR 2.0, legacy CUR or FOCUS export"),
        "{}",
        stderr(&o)
    );
    // Non-numeric amounts, unknown units and usage types: listed with the reason.
    let bill = cur_csv(
        dir.path(),
        &[
            "2025-11-01T00:00:00Z,111122223333,Usage,AmazonBedrock,USE1-NovaLite-input-tokens,\"4,800,000\",tokens,1,1,1",
            "2025-11-01T00:00:00Z,111122223333,Usage,AmazonBedrock,USE1-NovaLite-input-tokens,5,GB-Mo,1,1,1",
            "2025-11-01T00:00:00Z,111122223333,Usage,AmazonBedrock,USE1-NovaLite-knowledge-base-units,5,tokens,1,1,1",
            "2025-11-01T00:00:00Z,111122223333,Usage,AmazonBedrock,USE1-NovaLite-input-tokens,5,tokens,abc,1,1",
            "yesterday,111122223333,Usage,AmazonBedrock,USE1-NovaLite-input-tokens,5,tokens,1,1,1",
        ],
    );
    let o = reconcile(&run, &[&bill], &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let unmapped = read_csv(&out.join("unmapped.csv"));
    let reasons: Vec<(&str, &str)> = unmapped
        .iter()
        .map(|r| (r["row"].as_str(), r["reason"].as_str()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons[0].1.contains("4,800,000"), "{reasons:?}");
    assert!(reasons[1].1.contains("GB-Mo"), "{reasons:?}");
    assert!(reasons[2].1.starts_with("usage type"), "{reasons:?}");
    assert!(reasons[3].1.contains("abc"), "{reasons:?}");
    assert!(reasons[4].1.contains("yesterday"), "{reasons:?}");
    assert_eq!(
        reasons.iter().map(|r| r.0).collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"]
    );
    // A run without line items says how to get them.
    let bare = dir.path().join("bare");
    assert_eq!(run_into(&[&usage], &bare, &[]).status.code(), Some(0));
    let o = reconcile(&bare, &[&fixture("bills/focus.csv")], &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--line-items"), "{}", stderr(&o));
}

#[test]
fn reconcile_never_writes_over_what_billrun_did_not_write() {
    let dir = priced_run(&[]);
    let run = dir.path().join("run");
    let out = dir.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let o = reconcile(&run, &[&fixture("bills/focus.csv")], &out, &["--replace"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "keep me"
    );
    // Nor into the run it reads.
    let o = reconcile(&run, &[&fixture("bills/focus.csv")], &run, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is an input"), "{}", stderr(&o));
}

#[test]
fn a_bill_directory_reads_its_exports_and_skips_their_manifests() {
    // Data Exports deliver `data/BILLING_PERIOD=.../*.parquet` beside a manifest JSON.
    let dir = priced_run(&[]);
    let run = dir.path().join("run");
    let export = dir.path().join("export");
    let data = export.join("data").join("BILLING_PERIOD=2025-11");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(fixture("bills/cur2.parquet"), data.join("part-0.parquet")).unwrap();
    std::fs::write(export.join("Manifest.json"), "{\"not\": \"a bill\"}").unwrap();
    let from_dir = dir.path().join("from-dir");
    let from_file = dir.path().join("from-file");
    assert_eq!(
        reconcile(&run, &[&export], &from_dir, &[]).status.code(),
        Some(1)
    );
    assert_eq!(
        reconcile(&run, &[&fixture("bills/cur2.parquet")], &from_file, &[])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        std::fs::read(from_dir.join("reconcile.csv")).unwrap(),
        std::fs::read(from_file.join("reconcile.csv")).unwrap()
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("Manifest.json"), "{}").unwrap();
    let o = reconcile(&run, &[&empty], &dir.path().join("x"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no .parquet, .csv or .csv.gz file"),
        "{}",
        stderr(&o)
    );
}
