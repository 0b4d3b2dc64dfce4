//! `billrun prices import`: AWS Price List files → a catalog billrun checks and prices with.

use super::*;

fn pricelist(name: &str) -> String {
    fixture(&format!("pricelist/{name}")).display().to_string()
}

const EXCERPT: &str = "AmazonBedrock-us-east-1-20260911124408-excerpt.json";

#[test]
fn an_imported_catalog_checks_clean_and_prices_usage_from_its_effective_date() {
    let tmp = tempfile::tempdir().unwrap();
    let (catalog, report) = (tmp.path().join("c.csv"), tmp.path().join("r.csv"));
    let o = billrun(&[
        "prices",
        "import",
        &pricelist(EXCERPT),
        "--out",
        catalog.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("11 prices imported; 1 SKUs outside billrun's meters, 0 not understood")
    );
    let check = billrun(&["prices", "--check", catalog.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let skipped = read_csv(&report);
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        (skipped[0]["sku"].as_str(), skipped[0]["status"].as_str()),
        ("2W4JGY5BWVAPKQ6J", "outside_meters")
    );
    // Nova Lite at the Price List's $0.00006 / $0.00024 per 1K: 1000 in, 500 out =
    // 0.00006 + 0.00012. Usage before the term's effective date (2026-08-01) has no
    // price in this catalog: a reject, not a guess.
    let header = "timestamp,region,model_id,request_id,input_tokens,output_tokens";
    let usage = usage_file(
        tmp.path(),
        "u.csv",
        header,
        &[
            "2026-09-02T10:00:00Z,us-east-1,amazon.nova-lite-v1:0,a,1000,500",
            "2025-11-02T10:00:00Z,us-east-1,amazon.nova-lite-v1:0,b,1000,500",
        ],
    );
    let (o, dir) = run_csv(&[&usage], &["--prices", catalog.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = manifest(dir.path());
    assert_eq!(m["totals"]["USD"], "0.000180000000");
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    assert_eq!(
        (
            rejects[0]["request_id"].as_str(),
            rejects[0]["reason"].as_str()
        ),
        ("b", "no_price")
    );
}

#[test]
fn an_sku_not_understood_exits_1_and_a_malformed_file_exits_2() {
    let o = billrun(&[
        "prices",
        "import",
        &pricelist("AmazonBedrockService-us-east-1.json"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("1 prices imported; 2 SKUs outside billrun's meters, 1 not understood")
    );
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("index.json");
    std::fs::write(&bad, "{\"products\": ").unwrap();
    let o = billrun(&["prices", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("index.json: not valid JSON"),
        "{}",
        stderr(&o)
    );
    // The same SKUs twice (bulk file and its CSV): two SKUs for one meter.
    let o = billrun(&[
        "prices",
        "import",
        &pricelist(EXCERPT),
        &pricelist("AmazonBedrock-excerpt.csv"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("both price"), "{}", stderr(&o));
}

#[test]
fn a_failed_import_keeps_the_previous_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.csv");
    std::fs::write(&catalog, "previous").unwrap();
    let bad = tmp.path().join("index.json");
    std::fs::write(&bad, "{\"a\": 1}").unwrap();
    let o = billrun(&[
        "prices",
        "import",
        bad.to_str().unwrap(),
        "--out",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&catalog).unwrap(), "previous");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "no temporary file left");
}

#[test]
fn history_prices_old_usage_at_the_old_price() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.csv");
    let mut args = vec!["prices".to_string(), "import".into(), "--history".into()];
    for v in ["20250101000000", "20260201000000", "20260601000000"] {
        args.push(pricelist(&format!(
            "history/AmazonBedrock-us-east-1-{v}.json"
        )));
    }
    args.extend(["--out".into(), catalog.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = billrun(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        billrun(&["prices", "--check", catalog.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let header = "timestamp,region,model_id,request_id,input_tokens,output_tokens";
    let usage = usage_file(
        tmp.path(),
        "u.csv",
        header,
        &[
            "2026-01-31T23:59:59Z,us-east-1,amazon.nova-micro-v1:0,old,1000,0",
            "2026-02-01T00:00:00Z,us-east-1,amazon.nova-micro-v1:0,new,1000,0",
        ],
    );
    let (o, dir) = run_csv(
        &[&usage],
        &["--prices", catalog.to_str().unwrap(), "--line-items"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        line_item_fields(dir.path(), &["request_id", "cost"]),
        ["old 0.000035000000", "new 0.000030000000"]
    );
}
