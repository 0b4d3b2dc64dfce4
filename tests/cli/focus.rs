//! `--format focus`: the FOCUS 1.2 dataset (the full validator runs in `make focus-check`).

use super::*;
use polars::prelude::DataFrame;

/// Runs the capacity and usage fixtures with `--format focus`; the output directory.
fn focus_run(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let flags = capacity_flags();
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend([
        "--from",
        "2025-11-01",
        "--to",
        "2026-01-01",
        "--format",
        "focus",
    ]);
    let inputs = [fixture("usage"), fixture("capacity/invocations.csv")];
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let o = run_into(&inputs, &out, &[&args[..], extra].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    dir
}

fn read_focus(dir: &Path) -> DataFrame {
    let file = std::fs::File::open(dir.join("out/focus.parquet")).unwrap();
    ParquetReader::new(file).finish().unwrap()
}

fn decimals(df: &DataFrame, column: &str) -> Vec<Option<i128>> {
    let c = df.column(column).unwrap();
    assert_eq!(c.dtype(), &DataType::Decimal(38, 12), "{column}");
    c.as_materialized_series()
        .decimal()
        .unwrap()
        .physical()
        .iter()
        .collect()
}

fn texts(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    let c = df.column(column).unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|v| v.map(String::from))
        .collect()
}

fn manifest_total(dir: &Path) -> i128 {
    let total = manifest(dir)["totals"]["USD"].as_str().unwrap().to_string();
    let d: rust_decimal::Decimal = total.parse().unwrap();
    d.mantissa() * 10i128.pow(12 - d.scale())
}

#[test]
fn focus_costs_add_up_to_the_manifest_and_unit_prices_times_quantities_are_exact() {
    let dir = focus_run(&[]);
    let df = read_focus(dir.path());
    for column in [
        "BilledCost",
        "BillingAccountId",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "ChargeCategory",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "ContractedCost",
        "EffectiveCost",
        "InvoiceIssuerName",
        "ListCost",
        "PricingQuantity",
        "PricingUnit",
        "ProviderName",
        "PublisherName",
        "ServiceCategory",
        "ServiceName",
        "ServiceSubcategory",
        "SkuPriceId",
        "x_ModelId",
        "x_UsageType",
        "x_InferenceScope",
        "x_ServiceTier",
        "x_Mode",
    ] {
        assert!(df.column(column).is_ok(), "missing {column}");
    }
    let total = manifest_total(dir.path());
    for cost in ["BilledCost", "EffectiveCost"] {
        let sum: i128 = decimals(&df, cost).iter().flatten().sum();
        assert_eq!(sum, total, "{cost}");
    }
    let (unit, quantity, list) = (
        decimals(&df, "ListUnitPrice"),
        decimals(&df, "PricingQuantity"),
        decimals(&df, "ListCost"),
    );
    let usage = texts(&df, "x_UsageType");
    let mut exact = 0;
    for i in 0..df.height() {
        let prorated = usage[i].as_deref().unwrap().ends_with("storage_months");
        let product = unit[i].unwrap() * quantity[i].unwrap();
        if !prorated {
            assert_eq!(product, list[i].unwrap() * 10i128.pow(12), "row {i}");
            exact += 1;
        }
    }
    assert!(exact > 30, "{exact} whole-unit rows");
}

#[test]
fn a_committed_provisioned_model_is_a_purchase_and_its_covered_usage() {
    let dir = focus_run(&[]);
    let df = read_focus(dir.path());
    let (category, commitment, status, usage) = (
        texts(&df, "ChargeCategory"),
        texts(&df, "CommitmentDiscountId"),
        texts(&df, "CommitmentDiscountStatus"),
        texts(&df, "x_UsageType"),
    );
    let (billed, effective) = (decimals(&df, "BilledCost"), decimals(&df, "EffectiveCost"));
    let titan = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/titan";
    let (mut purchased, mut covered) = (0, 0);
    for i in 0..df.height() {
        if commitment[i].as_deref() != Some(titan) {
            continue;
        }
        match category[i].as_deref() {
            Some("Purchase") => {
                assert_eq!(effective[i], Some(0));
                assert_eq!(status[i], None);
                purchased += billed[i].unwrap();
            }
            Some("Usage") => {
                assert_eq!(billed[i], Some(0));
                assert_eq!(status[i].as_deref(), Some("Used"));
                covered += effective[i].unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    // 2 MU × 744 h × $18.40, billed once, effective once.
    assert_eq!(purchased, 27_379_200_000_000_000);
    assert_eq!(covered, purchased);
    // Claude Instant without commitment: plain usage.
    let instant = (0..df.height())
        .find(|&i| usage[i].as_deref() == Some("mu_hours") && commitment[i].is_none())
        .expect("the no-commitment PT row");
    assert_eq!(category[instant].as_deref(), Some("Usage"));
    assert_eq!(billed[instant], effective[instant]);
}

#[test]
fn charge_periods_are_days_or_hours_and_reruns_are_byte_identical() {
    for (period, length) in [("day", 86_400_000_000i64), ("hour", 3_600_000_000)] {
        let a = focus_run(&["--charge-period", period]);
        let df = read_focus(a.path());
        let instants = |c: &str| -> Vec<i64> {
            df.column(c)
                .unwrap()
                .datetime()
                .unwrap()
                .physical()
                .iter()
                .flatten()
                .collect()
        };
        let (start, end) = (instants("ChargePeriodStart"), instants("ChargePeriodEnd"));
        assert!(
            start.iter().zip(&end).all(|(s, e)| e - s == length),
            "{period}"
        );
        let b = focus_run(&["--charge-period", period]);
        assert_eq!(
            std::fs::read(a.path().join("out/focus.parquet")).unwrap(),
            std::fs::read(b.path().join("out/focus.parquet")).unwrap()
        );
    }
}

#[test]
fn prices_from_the_price_list_carry_aws_sku_rate_code_and_publisher() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.csv");
    let offer = fixture("pricelist/AmazonBedrockFoundationModels-us-east-1.json");
    let o = billrun(&[
        "prices",
        "import",
        offer.to_str().unwrap(),
        "--out",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "one SKU is not understood: {}",
        stderr(&o)
    );
    let header = "timestamp,region,model_id,request_id,input_tokens,output_tokens";
    let row = "2026-09-02T10:00:00Z,us-east-1,anthropic.claude-sonnet-4-6,r1,1000000,0";
    let input = usage_file(tmp.path(), "u.csv", header, &[row]);
    let out = tmp.path().join("out");
    let o = run_into(
        &[&input],
        &out,
        &["--prices", catalog.to_str().unwrap(), "--format", "focus"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let df = ParquetReader::new(std::fs::File::open(out.join("focus.parquet")).unwrap())
        .finish()
        .unwrap();
    assert_eq!(texts(&df, "SkuId"), [Some("FMSONNETIN000001".to_string())]);
    assert_eq!(
        texts(&df, "SkuPriceId"),
        [Some("FMSONNETIN000001.JRTCKXETXF.6YS6EN2CT7".to_string())]
    );
    assert_eq!(texts(&df, "PublisherName"), [Some("Anthropic".to_string())]);
    assert_eq!(
        texts(&df, "ProviderName"),
        [Some("Amazon Web Services".to_string())]
    );
    // 1M input tokens at $3.00 per 1M (the Marketplace Units price).
    assert_eq!(decimals(&df, "ListCost"), [Some(3_000_000_000_000)]);
}
