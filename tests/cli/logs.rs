//! Bedrock invocation logs (fixtures/logs, written by fixtures/logs/make_fixtures.py).

use super::*;

fn s3() -> PathBuf {
    fixture("logs/s3")
}

fn profiles() -> String {
    fixture("logs/profiles.csv").display().to_string()
}

/// `request_id usage_type cost` of every line item.
fn costs_by_request(dir: &Path) -> Vec<String> {
    line_item_fields(dir, &["request_id", "usage_type", "cost"])
}

#[test]
fn s3_layout_is_priced_record_by_record() {
    let (o, dir) = run_csv(&[&s3()], &["--line-items", "--profiles", &profiles()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = manifest(dir.path());
    assert_eq!(
        m["rows"],
        serde_json::json!({"read": 24, "priced": 13, "rejected": 9, "duplicate": 1, "not_billable": 1, "out_of_range": 0})
    );
    // Hand-computed: 0.002325 + 0.00000936 + 0.0045 + 0.045 + 0.007 + 0.002 + 0.0000035
    // + 0.0015 + 0.016 + 0.08 + 0.08 + 0.14 + 0.0003.
    assert_eq!(m["totals"]["USD"], "0.378637860000");
    let costs = costs_by_request(dir.path());
    for expected in [
        "abcd1234-5678-efgh-ijkl-mnopqrstuvwx output_tokens 0.002250000000", // reference example
        "ff4b6c63-5561-4431-93b8-06a817275900 output_tokens 0.000009120000", // cache fields, zero
        "a-geo input_tokens 0.003000000000",                                 // us. profile
        "a-global input_tokens 0.030000000000",                              // global Sonnet 4.5
        "a-priority output_tokens 0.005600000000",                           // serviceTier string
        "a-flex output_tokens 0.001600000000",                               // {"type": "flex"}
        "a-error-tokens input_tokens 0.000003500000",                        // error with tokens
        "a-app output_tokens 0.001250000000",                                // mapped app profile
        "i-titan images 0.016000000000",                                     // 2 × 512² standard
        "i-sdxl images 0.080000000000",                                      // steps > 50: premium
        "i-sd35 images 0.080000000000",
        "i-ultra images 0.140000000000",
    ] {
        assert!(
            costs.contains(&expected.to_string()),
            "missing {expected} in {costs:#?}"
        );
    }
    let geo = read_csv(&dir.path().join("out/line_items.csv"));
    let geo = geo.iter().find(|r| r["request_id"] == "a-geo").unwrap();
    assert_eq!(
        (geo["scope"].as_str(), geo["inference_region"].as_str()),
        ("geo", "us-west-2")
    );
    assert_eq!(geo["tags"], r#"{"team":"search"}"#);
}

#[test]
fn bad_records_are_rejected_with_reasons() {
    let (o, dir) = run_csv(&[&s3()], &["--profiles", &profiles()]);
    assert_eq!(o.status.code(), Some(1));
    let mut rejects: Vec<String> = read_csv(&dir.path().join("out/rejects.csv"))
        .iter()
        .map(|r| format!("{} {} {}", r["row"], r["request_id"], r["reason"]))
        .collect();
    rejects.sort();
    assert_eq!(
        rejects,
        [
            "13 i-canvas no_price", // Nova Canvas is priced from 2026-08-01 (Price List) only
            "17 i-nobody missing_body", // image request whose body went to data/
            "2  bad_json",
            "3  bad_record", // inputTokenCount is a string
            "4 b-schema unsupported_schema",
            "5 b-version unsupported_schema",
            "6 b-negative bad_quantity",
            "7 a-latency no_price", // latency-optimized Nova Pro has no catalog price
            "8 a-reserved no_price",
        ]
    );
    let skipped = manifest(dir.path())["skipped_files"].to_string();
    assert!(
        skipped.contains("amazon-bedrock-logs-permission-check") && skipped.contains("/08/data")
    );
}

#[test]
fn application_profile_without_mapping_is_unknown_model_naming_the_arn() {
    let (_, dir) = run_csv(&[&s3()], &[]);
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    let app = rejects.iter().find(|r| r["request_id"] == "a-app").unwrap();
    assert_eq!(app["reason"], "unknown_model");
    assert!(
        app["message"].contains("application-inference-profile/chatbot"),
        "{}",
        app["message"]
    );
}

#[test]
fn from_and_to_count_rows_outside_as_out_of_range() {
    let (_, dir) = run_csv(
        &[&s3()],
        &[
            "--profiles",
            &profiles(),
            "--from",
            "2025-11-01",
            "--to",
            "2025-11-02",
        ],
    );
    let rows = &manifest(dir.path())["rows"];
    // The two reference records (2024, March 2025) and b-late (2 November) are outside.
    assert_eq!(rows["out_of_range"], 3);
    assert_eq!(rows["priced"], 10);
}

#[test]
fn truncated_gzip_keeps_the_records_before_the_damage() {
    let (o, dir) = run_csv(&[&fixture("logs/other/truncated.json.gz")], &[]);
    assert_eq!(o.status.code(), Some(1));
    let m = manifest(dir.path());
    assert_eq!(m["rows"]["priced"], 61);
    assert_eq!(m["rejects_by_reason"]["corrupt_file"], 1);
    assert!(
        m["inputs"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("truncated or corrupt")
    );
}

#[test]
fn cloudwatch_export_pretty_object_and_array_are_read() {
    for (file, rows) in [
        ("cloudwatch-export.gz", 3),
        ("pretty.json", 1),
        ("array.json", 2),
    ] {
        let (o, dir) = run_csv(&[&fixture(&format!("logs/other/{file}"))], &[]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
        assert_eq!(manifest(dir.path())["rows"]["priced"], rows, "{file}");
    }
}

#[test]
fn duplicates_across_logs_and_tables_count_once() {
    let tmp = tempfile::tempdir().unwrap();
    // A table row with a request id that the logs also hold: sorted paths put the
    // fixtures' s3/ tree first, so the table's copy is the duplicate.
    let table = usage_file(
        tmp.path(),
        "zz.csv",
        "timestamp,region,model_id,request_id,input_tokens",
        &["2025-11-01T08:00:00Z,us-east-1,amazon.nova-lite-v1:0,a-global,5"],
    );
    let (_, dir) = run_csv(&[&s3(), &table], &["--profiles", &profiles()]);
    assert_eq!(manifest(dir.path())["rows"]["duplicate"], 2);
}

#[test]
fn a_rejected_record_claims_its_request_id_like_a_priced_one() {
    let record = |id: &str, version: &str| {
        serde_json::json!({
            "schemaType": "ModelInvocationLog", "schemaVersion": version,
            "timestamp": "2025-11-01T08:00:00Z", "accountId": "111122223333",
            "region": "us-east-1", "requestId": id, "operation": "InvokeModel",
            "modelId": "amazon.nova-lite-v1:0",
            "input": {"inputTokenCount": 1000}, "output": {"outputTokenCount": 10}
        })
        .to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    // The first copy of r-bad is rejected by the reader (schema 2.0): later copies,
    // readable or not, are duplicates; a rejected copy of priced r-ok is one too.
    let a = [
        record("r-bad", "2.0"),
        record("r-bad", "1.0"),
        record("r-ok", "1.0"),
        record("r-ok", "2.0"),
    ];
    std::fs::write(tmp.path().join("a.json"), a.join("\n")).unwrap();
    std::fs::write(tmp.path().join("b.json"), record("r-bad", "2.0")).unwrap();
    for extra in [
        &["--dedup", "memory"][..],
        &["--dedup", "disk"],
        &["--dedup", "disk", "--batch-rows", "1"],
        &["--dedup", "memory", "--batch-rows", "1"],
    ] {
        let (o, dir) = run_csv(&[tmp.path()], extra);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(
            manifest(dir.path())["rows"],
            serde_json::json!({"read": 5, "priced": 1, "rejected": 1, "duplicate": 3, "not_billable": 0, "out_of_range": 0}),
            "{extra:?}"
        );
        let rejects = read_csv(&dir.path().join("out/rejects.csv"));
        let rejected: Vec<_> = rejects
            .iter()
            .map(|r| (&r["row"], &r["request_id"]))
            .collect();
        assert_eq!(
            rejected,
            [(&"1".to_string(), &"r-bad".to_string())],
            "{extra:?}"
        );
    }
}

#[test]
fn real_records_price_with_the_embedded_catalog() {
    // Before the broad catalog and aliases: 3 of 8 priced, 5 unknown_model.
    let (o, dir) = run_csv(&[&fixture("logs/real/records.jsonl")], &["--line-items"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = manifest(dir.path());
    assert_eq!(
        m["rows"],
        serde_json::json!({"read": 8, "priced": 6, "rejected": 1, "duplicate": 0, "not_billable": 1, "out_of_range": 0})
    );
    // Per line, input + output at the list price per token:
    // 1 Claude 3 Haiku 571 × 0.00000025 + 281 × 0.00000125 = 0.000494
    // 2 Claude 3.5 Sonnet (20240620) 37 × 0.000003 + 62 × 0.000015 = 0.001041
    // 3 Claude 3 Sonnet, 0 in 0 out (a guardrail blocked it): not billable
    // 4 Claude 3.5 Sonnet 70 × 0.000003 + 209 × 0.000015 = 0.003345
    // 5 Claude 3 Sonnet in ap-south-1: no source gives that price, rejected
    // 6 Claude 2.1 3263 × 0.000008 + 300 × 0.000024 = 0.033304
    // 7 Claude Opus 4.5 through global. 255 × 0.000005 + 113 × 0.000025 = 0.0041
    // 8 Nova Lite 4 × 0.00000006 + 38 × 0.00000024 = 0.00000936
    assert_eq!(m["totals"]["USD"], "0.042293360000");
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    assert_eq!(
        (rejects[0]["row"].as_str(), rejects[0]["reason"].as_str()),
        ("5", "no_price")
    );
    assert!(rejects[0]["message"].contains("region ap-south-1"));
    let opus: Vec<String> = line_item_fields(dir.path(), &["row", "scope", "cost"])
        .into_iter()
        .filter(|l| l.starts_with("7 "))
        .collect();
    assert_eq!(opus, ["7 global 0.001275000000", "7 global 0.002825000000"]);
}

#[test]
fn every_model_id_shape_resolves_through_profiles_arns_and_aliases() {
    let tmp = tempfile::tempdir().unwrap();
    let header = "timestamp,region,model_id,request_id,input_tokens,output_tokens";
    let haiku = "anthropic.claude-haiku-4-5-20251001-v1:0";
    let arn = "arn:aws:bedrock:us-east-1:111122223333:inference-profile";
    let rows = [
        format!("2026-01-05T10:00:00Z,us-east-1,{haiku},a-plain,1000,0"),
        format!("2026-01-05T10:00:00Z,us-east-1,us.{haiku},a-geo,1000,0"),
        format!("2026-01-05T10:00:00Z,us-east-1,global.{haiku},a-global,1000,0"),
        format!("2026-01-05T10:00:00Z,us-east-1,{arn}/us.{haiku},a-arn-geo,1000,0"),
        format!("2026-01-05T10:00:00Z,us-east-1,{arn}/global.{haiku},a-arn-global,1000,0"),
        // The mantle endpoint's undated id, through an `id` alias.
        "2026-01-05T10:00:00Z,us-east-1,anthropic.claude-haiku-4-5,a-alias,1000,0".into(),
        // Newer ids come without a date.
        "2026-01-05T10:00:00Z,us-east-1,global.anthropic.claude-opus-4-6-v1,a-opus46,1000,0".into(),
        "2026-01-05T10:00:00Z,us-east-1,anthropic.claude-opus-4-7,a-opus47,1000,0".into(),
        // A user alias for a spelling billrun does not know.
        "2026-01-05T10:00:00Z,us-east-1,my-haiku,a-mine,1000,0".into(),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let input = usage_file(tmp.path(), "u.csv", header, &rows);
    let aliases = tmp.path().join("aliases.csv");
    std::fs::write(
        &aliases,
        format!("alias,kind,model_id,source\nmy-haiku,id,{haiku},test\n"),
    )
    .unwrap();
    let (o, dir) = run_csv(
        &[&input],
        &["--line-items", "--aliases", aliases.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let items = line_item_fields(dir.path(), &["request_id", "model_id", "scope", "cost"]);
    // Haiku 4.5 per 1K input: 0.0011 in region and geo, 0.001 global.
    assert_eq!(
        items,
        [
            format!("a-plain {haiku} in_region 0.001100000000"),
            format!("a-geo {haiku} geo 0.001100000000"),
            format!("a-global {haiku} global 0.001000000000"),
            format!("a-arn-geo {haiku} geo 0.001100000000"),
            format!("a-arn-global {haiku} global 0.001000000000"),
            format!("a-alias {haiku} in_region 0.001100000000"),
            "a-opus46 anthropic.claude-opus-4-6-v1 global 0.005000000000".to_string(),
            "a-opus47 anthropic.claude-opus-4-7 in_region 0.005500000000".to_string(),
            format!("a-mine {haiku} in_region 0.001100000000"),
        ]
    );
}
