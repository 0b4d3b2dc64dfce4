use super::*;

const EXCERPT: &str =
    include_str!("../../../fixtures/pricelist/AmazonBedrock-us-east-1-20260911124408-excerpt.json");
const EXCERPT_CSV: &str = include_str!("../../../fixtures/pricelist/AmazonBedrock-excerpt.csv");
const EXCERPT_GET_PRODUCTS: &str =
    include_str!("../../../fixtures/pricelist/AmazonBedrock-excerpt-get-products.json");
const FOUNDATION: &str =
    include_str!("../../../fixtures/pricelist/AmazonBedrockFoundationModels-us-east-1.json");

fn imported(text: &str) -> Imported {
    let aliases = Aliases::embedded().unwrap();
    import(&[("t".to_string(), text.to_string())], &aliases, false).unwrap()
}

/// model, mode, usage type, scope, tier, commitment, price, per, sku.
fn meters(i: &Imported) -> Vec<String> {
    i.rows
        .iter()
        .map(|r| {
            [0, 2, 3, 7, 8, 9, 4, 5, 18]
                .map(|c| r[c].as_str())
                .join(" ")
        })
        .collect()
}

#[test]
fn the_real_excerpt_maps_sku_by_sku() {
    // Checked by hand against each SKU's usagetype, feature, unit and pricePerUnit.
    let i = imported(EXCERPT);
    assert_eq!(
        meters(&i),
        [
            "amazon.nova-canvas-v1:0 on_demand images    0.0400000000 1 YWYKJ9HG9DZPEYTW",
            "amazon.nova-lite-v1:0 batch input_tokens    0.0000300000 1000 FHPM2WQ68N32TY6D",
            "amazon.nova-lite-v1:0 on_demand cache_read_tokens    0.0000150000 1000 FYTFBAWEJFBAVTWK",
            "amazon.nova-lite-v1:0 on_demand cache_write_tokens    0.0000000000 1000 NF8UDYEDB4HXGNAZ",
            "amazon.nova-lite-v1:0 on_demand input_tokens    0.0000600000 1000 QRGWJ3P8FT28EYX2",
            "amazon.nova-lite-v1:0 on_demand output_tokens    0.0002400000 1000 CBZ6A6U7XK8WJ3KA",
            "amazon.nova-lite-v1:0 provisioned mu_hours   1-month 55.0000000000 1 DU74ARUX9SF92JGY",
            "amazon.nova-micro-v1:0 on_demand input_tokens    0.0000350000 1000 XAR69MSGZSU6FEM9",
            "amazon.nova-pro-v1:0 on_demand input_tokens  flex  0.0004000000 1000 PUZN23F2U55E57VV",
            "amazon.titan-text-lite-v1 on_demand input_tokens    0.0001500000 1000 9XHSKPBV6R8E4FUY",
            "mistral.ministral-3-8b-instruct on_demand input_tokens    0.0001500000 1000 R84Y2FSFN39FCD4S",
        ]
    );
    // Nova Canvas 1024 standard: an image of up to 1024 × 1024.
    assert_eq!(
        (i.rows[0][11].as_str(), i.rows[0][12].as_str()),
        ("standard", "1048576")
    );
    let row = &i.rows[4];
    assert_eq!(
        row[13..].to_vec(),
        [
            "2026-08-01",
            "",
            "AWS Price List AmazonBedrock 20260911124408 us-east-1",
            "AmazonBedrock",
            "20260911124408",
            "QRGWJ3P8FT28EYX2",
            "QRGWJ3P8FT28EYX2.JRTCKXETXF.6YS6EN2CT7",
            "USE1-NovaLite-input-tokens",
            "Nova Lite",
        ]
    );
    assert_eq!(i.skipped.len(), 1);
    assert_eq!(i.skipped[0].sku, "2W4JGY5BWVAPKQ6J");
    assert!(!i.skipped[0].unknown);
}

#[test]
fn the_three_published_forms_give_the_same_catalog() {
    let json = imported(EXCERPT).rows;
    assert_eq!(imported(EXCERPT_CSV).rows, json);
    assert_eq!(imported(EXCERPT_GET_PRODUCTS).rows, json);
}

#[test]
fn marketplace_usage_types_in_camel_and_snake_form() {
    let i = imported(FOUNDATION);
    let m = meters(&i);
    let sonnet = "anthropic.claude-sonnet-4-6";
    for expected in [
        format!("{sonnet} on_demand input_tokens    3.0000000000 1000000 FMSONNETIN000001"),
        format!("{sonnet} on_demand input_tokens global   2.7000000000 1000000 FMSONNETGLOBIN01"),
        format!("{sonnet} batch input_tokens    1.5000000000 1000000 FMSONNETBATCH001"),
        format!("{sonnet} on_demand output_tokens global   13.5000000000 1000000 FMSONNETSNAKE001"),
        format!("{sonnet} on_demand input_tokens  priority  5.2500000000 1000000 FMSONNETSNAKE002"),
        format!("{sonnet} on_demand cache_write_tokens    3.7500000000 1000000 FMSONNETCW000001"),
    ] {
        assert!(m.contains(&expected), "{expected} not in {m:#?}");
    }
    let skipped: Vec<(&str, bool)> = i
        .skipped
        .iter()
        .map(|s| (s.sku.as_str(), s.unknown))
        .collect();
    assert_eq!(
        skipped,
        [("FMSONNETCW1H0001", false), ("FMUNKNOWNMODEL01", true)]
    );
}

#[test]
fn two_skus_for_one_meter_are_an_error_naming_both() {
    let aliases = Aliases::embedded().unwrap();
    let twice = [
        ("a.json".to_string(), EXCERPT.to_string()),
        ("b.csv".to_string(), EXCERPT_CSV.to_string()),
    ];
    let e = import(&twice, &aliases, false).unwrap_err();
    assert!(e.starts_with("b.csv: SKUs "), "{e}");
    assert!(e.contains("(a.json)") && e.contains("both price"), "{e}");
}

#[test]
fn words_split_camel_snake_and_digits() {
    assert_eq!(
        words("CacheWrite1hInputTokenCount_Global"),
        ["cache", "write", "1h", "input", "token", "count", "global"]
    );
    assert_eq!(
        words("input_tokens_global_standard"),
        ["input", "tokens", "global", "standard"]
    );
}

#[test]
fn units_are_read_from_the_unit_never_from_the_amount() {
    assert_eq!(
        per("1K tokens", "$9 per 1M tokens", "input_tokens"),
        Ok(1_000)
    );
    assert_eq!(
        per("Units", "$3 per Million input tokens", "input_tokens"),
        Ok(1_000_000)
    );
    assert!(
        per("Units", "$3 per input token", "input_tokens")
            .unwrap_err()
            .1
    );
    assert!(
        per("hour", "", "input_tokens").unwrap_err().1,
        "an hour is not a token unit"
    );
    assert_eq!(per("hour", "", "mu_hours"), Ok(1));
}

#[test]
fn malformed_files_say_what_they_are_not() {
    let aliases = Aliases::embedded().unwrap();
    let bad =
        |text: &str| import(&[("x".to_string(), text.to_string())], &aliases, false).unwrap_err();
    assert!(bad("{\"products\": ").starts_with("x: not valid JSON"));
    assert!(bad("{\"a\": 1}").contains("no \"products\""));
    assert!(bad("\"FormatVersion\",\"v1.0\"\n").contains("5 preamble lines"));
    assert!(bad("{\"PriceList\": [\"{oops\"]}").contains("PriceList element 0 is not valid JSON"));
}

const V1: &str =
    include_str!("../../../fixtures/pricelist/history/AmazonBedrock-us-east-1-20250101000000.json");
const V2: &str =
    include_str!("../../../fixtures/pricelist/history/AmazonBedrock-us-east-1-20260201000000.json");
const V3: &str =
    include_str!("../../../fixtures/pricelist/history/AmazonBedrock-us-east-1-20260601000000.json");
const VERSIONS: &str = include_str!("../../../fixtures/pricelist/history/index.json");

/// usage type, price, from, to, version of each row.
fn windows(i: &Imported) -> Vec<String> {
    i.rows
        .iter()
        .map(|r| [3, 4, 13, 14, 17].map(|c| r[c].as_str()).join(" "))
        .collect()
}

#[test]
fn history_closes_a_changed_price_and_keeps_an_unchanged_one() {
    let aliases = Aliases::embedded().unwrap();
    let files = |texts: &[&str]| -> Vec<(String, String)> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("v{i}"), t.to_string()))
            .collect()
    };
    // In any order, with or without the version index: the same rows.
    for texts in [vec![V1, V2, V3], vec![V3, V1, V2, VERSIONS]] {
        let i = import(&files(&texts), &aliases, true).unwrap();
        assert_eq!(
            windows(&i),
            [
                "input_tokens 0.0000300000 2026-02-01  20260201000000",
                "input_tokens 0.0000350000 2025-01-01 2026-02-01 20250101000000",
                "output_tokens 0.0001400000 2025-01-01  20250101000000",
            ]
        );
    }
    // Without --history, two versions price one meter twice: an error that says how.
    let e = import(&files(&[V1, V2]), &aliases, false).unwrap_err();
    assert!(e.contains("pass --history"), "{e}");
}

#[test]
fn a_version_that_begins_after_its_terms_starts_its_prices_then() {
    // v2's input price carries the term date 2026-02-01; were v2 to begin later, the
    // new price would start at its version's begin date instead.
    let aliases = Aliases::embedded().unwrap();
    let index = VERSIONS.replace("\"2026-02-01T00:00:00Z\"", "\"2026-03-01T00:00:00Z\"");
    let texts = [V1, V2, &index].map(|t| ("f".to_string(), t.to_string()));
    let i = import(&texts, &aliases, true).unwrap();
    assert_eq!(
        windows(&i)[1],
        "input_tokens 0.0000350000 2025-01-01 2026-03-01 20250101000000"
    );
}
