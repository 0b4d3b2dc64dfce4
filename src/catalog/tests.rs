use super::*;
use crate::time::parse_instant;

const HEADER: &str = "model_id,region,mode,usage_type,price,per,currency,scope,service_tier,commitment,image_quality,image_max_pixels,effective_from,effective_to,source\n";

fn catalog(rows: &str) -> PriceCatalog {
    PriceCatalog::parse("t.csv", &format!("{HEADER}{rows}")).unwrap()
}

fn problems(rows: &str) -> Vec<String> {
    PriceCatalog::parse("t.csv", &format!("{HEADER}{rows}")).unwrap_err()
}

fn query<'a>(model_id: &'a str, region: &'a str, usage_type: UsageType) -> Query<'a> {
    Query {
        model_id,
        region,
        scope: Scope::InRegion,
        mode: Mode::OnDemand,
        tier: Tier::Standard,
        usage_type,
        at: parse_instant("2025-06-01").unwrap(),
        image: None,
        commitment: None,
        cmu_version: None,
    }
}

fn unit(c: &PriceCatalog, q: &Query) -> Option<String> {
    c.find(q).map(|i| c.rows[i].unit_price.to_string())
}

#[test]
fn exact_region_beats_wildcard() {
    let c = catalog(
        "m,*,on_demand,input_tokens,1,1000,USD,,,,,,,,\nm,us-east-1,on_demand,input_tokens,2,1000,USD,,,,,,,,\n",
    );
    assert_eq!(
        unit(&c, &query("m", "us-east-1", UsageType::InputTokens)).unwrap(),
        "0.002000000000"
    );
    assert_eq!(
        unit(&c, &query("m", "eu-west-1", UsageType::InputTokens)).unwrap(),
        "0.001000000000"
    );
}

#[test]
fn exact_model_beats_wildcard_model() {
    let c = catalog(
        "*,us-east-1,on_demand,input_tokens,5,1000,USD,,,,,,,,\nm,us-east-1,on_demand,input_tokens,2,1000,USD,,,,,,,,\n",
    );
    assert_eq!(
        unit(&c, &query("m", "us-east-1", UsageType::InputTokens)).unwrap(),
        "0.002000000000"
    );
    assert_eq!(
        unit(&c, &query("other", "us-east-1", UsageType::InputTokens)).unwrap(),
        "0.005000000000"
    );
    assert!(c.knows_model("anything"));
}

#[test]
fn exact_scope_beats_any_scope() {
    let c = catalog(
        "m,*,on_demand,input_tokens,0.0033,1000,USD,,,,,,,,\nm,*,on_demand,input_tokens,0.003,1000,USD,global,,,,,,,\n",
    );
    let mut q = query("m", "us-east-1", UsageType::InputTokens);
    q.scope = Scope::Global;
    assert_eq!(unit(&c, &q).unwrap(), "0.000003000000");
    q.scope = Scope::Geo;
    assert_eq!(unit(&c, &q).unwrap(), "0.000003300000");
}

#[test]
fn effective_from_is_inclusive_and_to_is_exclusive() {
    let c = catalog(concat!(
        "m,*,on_demand,input_tokens,1,1000,USD,,,,,,,2025-06-01,\n",
        "m,*,on_demand,input_tokens,2,1000,USD,,,,,,2025-06-01,,\n",
    ));
    let mut q = query("m", "r", UsageType::InputTokens);
    q.at = parse_instant("2025-05-31T23:59:59.999999Z").unwrap();
    assert_eq!(unit(&c, &q).unwrap(), "0.001000000000");
    q.at = parse_instant("2025-06-01T00:00:00Z").unwrap();
    assert_eq!(unit(&c, &q).unwrap(), "0.002000000000");
    assert_ne!(c.epoch(parse_instant("2025-05-31").unwrap()), c.epoch(q.at));
}

#[test]
fn smallest_image_bucket_that_holds_the_image_wins() {
    let c = catalog(concat!(
        "img,*,on_demand,images,0.008,1,USD,,,,standard,262144,,,\n",
        "img,*,on_demand,images,0.010,1,USD,,,,standard,,,,\n",
        "img,*,on_demand,images,0.012,1,USD,,,,premium,,,,\n",
    ));
    let mut q = query("img", "r", UsageType::Images);
    q.image = Some((ImageQuality::Standard, 512 * 512));
    assert_eq!(unit(&c, &q).unwrap(), "0.008000000000");
    q.image = Some((ImageQuality::Standard, 1024 * 1024));
    assert_eq!(unit(&c, &q).unwrap(), "0.010000000000");
    q.image = Some((ImageQuality::Premium, 512 * 512));
    assert_eq!(unit(&c, &q).unwrap(), "0.012000000000");
}

#[test]
fn image_larger_than_every_bounded_bucket_has_no_price() {
    let c = catalog("sdxl,*,on_demand,images,0.04,1,USD,,,,standard,1048576,,,\n");
    let mut q = query("sdxl", "r", UsageType::Images);
    q.image = Some((ImageQuality::Standard, 2048 * 2048));
    assert_eq!(c.find(&q), None);
}

#[test]
fn mode_and_tier_must_match_exactly() {
    let c = catalog("m,*,on_demand,input_tokens,1,1000,USD,,,,,,,,\n");
    let mut q = query("m", "r", UsageType::InputTokens);
    q.mode = Mode::Batch;
    assert_eq!(
        c.find(&q),
        None,
        "batch must never fall back to the on-demand price"
    );
    q.mode = Mode::OnDemand;
    q.tier = Tier::Priority;
    assert_eq!(
        c.find(&q),
        None,
        "priority must never fall back to the standard price"
    );
}

#[test]
fn equally_specific_overlapping_rows_are_a_load_error_naming_both_lines() {
    let p = problems(concat!(
        "m,*,on_demand,input_tokens,1,1000,USD,,,,,,2025-01-01,2025-07-01,\n",
        "m,*,on_demand,input_tokens,2,1000,USD,,,,,,2025-06-01,,\n",
    ));
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("lines 2 and 3"), "{p:?}");
}

#[test]
fn touching_windows_are_not_ambiguous() {
    catalog(concat!(
        "m,*,on_demand,input_tokens,1,1000,USD,,,,,,2025-01-01,2025-06-01,\n",
        "m,*,on_demand,input_tokens,2,1000,USD,,,,,,2025-06-01,,\n",
    ));
}

#[test]
fn bad_values_are_reported_with_file_and_line() {
    let p = problems(concat!(
        "m,*,on_demand,input_tokens,\"0,003\",1000,USD,,,,,,,,\n",
        "m,*,on_demand,input_tokens,3e-3,1000,USD,,,,,,,,\n",
        "m,*,on_demand,tokens,1,1000,USD,,,,,,,,\n",
        "m,*,on_demand,input_tokens,0.0000000001,1000,USD,,,,,,,,\n",
        "m,*,later,input_tokens,1,1000,USD,,,,,,,,\n",
        "m,*,on_demand,input_tokens,1,1000,USD,,,,,,2025-06-01,2025-01-01,\n",
        "m,*,on_demand,input_tokens,1,1000,USD,,,,premium,,,,\n",
        ",*,on_demand,output_tokens,1,1000,USD,,,,,,,,\n",
    ));
    let expect = [
        ("t.csv:2:", "not a non-negative decimal"),
        ("t.csv:3:", "not a non-negative decimal"),
        ("t.csv:4:", "unknown usage_type"),
        ("t.csv:5:", "more than 12 decimal places"),
        ("t.csv:6:", "unknown mode"),
        ("t.csv:7:", "is not after"),
        ("t.csv:8:", "apply only to usage_type images"),
        ("t.csv:9:", "use * for any"),
    ];
    assert_eq!(p.len(), expect.len(), "{p:#?}");
    for ((prefix, text), got) in expect.iter().zip(&p) {
        assert!(got.starts_with(prefix) && got.contains(text), "{got}");
    }
}

#[test]
fn misspelled_optional_columns_are_errors_with_a_suggestion() {
    // Before: "efective_to" was ignored, so a row meant for one window priced all time.
    let text = "model_id,region,mode,usage_type,price,per,efective_to,servce_tier,colour\nm,*,on_demand,input_tokens,1,1,2025-01-01,flex,red\n";
    let p = PriceCatalog::parse("t.csv", text).unwrap_err();
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].starts_with("t.csv:1: unknown column \"efective_to\""),
        "{p:?}"
    );
    assert!(p[0].ends_with("did you mean \"effective_to\"?"), "{p:?}");
    assert!(p[1].ends_with("did you mean \"service_tier\"?"), "{p:?}");
    assert!(!p[2].contains("did you mean"), "{p:?}");
}

#[test]
fn currency_is_an_iso_4217_code() {
    let p = problems(
        "m,*,on_demand,input_tokens,1,1,usd,,,,,,,,\nm,*,batch,input_tokens,1,1,US$,,,,,,,,\n",
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("currency \"usd\" is not an ISO 4217 code"),
        "{p:?}"
    );
    assert_eq!(
        catalog("m,*,on_demand,input_tokens,1,1,EUR,,,,,,,,\n").rows[0].currency,
        "EUR"
    );
}

#[test]
fn missing_required_column_names_it() {
    let p = PriceCatalog::parse(
        "t.csv",
        "model_id,region,mode,usage_type,per\nm,*,on_demand,input_tokens,1\n",
    )
    .unwrap_err();
    assert!(p[0].contains("missing required column \"price\""), "{p:?}");
}

#[test]
fn embedded_catalog_loads_and_prices_the_reference_examples() {
    let c = PriceCatalog::embedded().unwrap();
    assert!(c.rows.len() > 200);
    let price = |model: &str, scope: Scope, usage: UsageType| {
        let mut q = query(model, "us-east-1", usage);
        q.scope = scope;
        unit(&c, &q)
    };
    let sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    assert_eq!(
        price(sonnet45, Scope::Global, UsageType::InputTokens).unwrap(),
        "0.000003000000"
    );
    assert_eq!(
        price(sonnet45, Scope::Geo, UsageType::InputTokens).unwrap(),
        "0.000003300000"
    );
    assert_eq!(
        price(
            "amazon.nova-micro-v1:0",
            Scope::InRegion,
            UsageType::CacheReadTokens
        )
        .unwrap(),
        "0.000000008750"
    );
    assert_eq!(
        price(
            "amazon.nova-premier-v1:0",
            Scope::InRegion,
            UsageType::CacheReadTokens
        ),
        None
    );
}

const CAPACITY_HEADER: &str = "model_id,region,mode,usage_type,price,per,commitment,cmu_version\n";

fn capacity_catalog(rows: &str) -> Result<PriceCatalog, Vec<String>> {
    PriceCatalog::parse("c.csv", &format!("{CAPACITY_HEADER}{rows}"))
}

fn capacity_query<'a>(
    usage_type: UsageType,
    mode: Mode,
    commitment: Option<Commitment>,
    cmu_version: Option<&'a str>,
) -> Query<'a> {
    Query {
        mode,
        commitment,
        cmu_version,
        ..query("m", "us-east-1", usage_type)
    }
}

#[test]
fn capacity_rows_need_their_mode_and_terms() {
    let problems = capacity_catalog(concat!(
        "m,us-east-1,provisioned,mu_hours,1,1,,\n",
        "m,us-east-1,on_demand,mu_hours,1,1,none,\n",
        "m,us-east-1,on_demand,input_tokens,1,1000,1-month,\n",
        "m,us-east-1,provisioned,mu_hours,1,1,none,1.0\n",
        "m,us-east-1,imported,input_tokens,1,1000,,\n",
    ))
    .unwrap_err();
    let expected = [
        "c.csv:2: usage_type mu_hours needs a commitment",
        "c.csv:3: usage_type mu_hours needs mode provisioned, not on_demand",
        "c.csv:4: commitment \"1-month\" applies only to usage_type mu_hours",
        "c.csv:5: cmu_version applies only to usage_types cmu_minutes and cmu_storage_months",
        "c.csv:6: mode imported does not apply to usage_type input_tokens",
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:?}");
    for (p, e) in problems.iter().zip(expected) {
        assert!(p.starts_with(e), "{p:?} does not start with {e:?}");
    }
}

#[test]
fn commitment_terms_match_exactly_and_cmu_versions_most_specific_wins() {
    let c = capacity_catalog(concat!(
        "m,us-east-1,provisioned,mu_hours,44,1,none,\n",
        "m,us-east-1,provisioned,mu_hours,39.60,1,1-month,\n",
        "*,us-east-1,imported,cmu_minutes,0.0785,1,,\n",
        "*,us-east-1,imported,cmu_minutes,0.1,1,,2.0\n",
    ))
    .unwrap();
    let pt = |term| {
        let q = capacity_query(UsageType::MuHours, Mode::Provisioned, Some(term), None);
        unit(&c, &q)
    };
    assert_eq!(pt(Commitment::OneMonth).unwrap(), "39.600000000000");
    assert_eq!(pt(Commitment::NoCommitment).unwrap(), "44.000000000000");
    assert_eq!(pt(Commitment::SixMonth), None, "never a neighbouring term");
    let cmu = |v| {
        unit(
            &c,
            &capacity_query(UsageType::CmuMinutes, Mode::Imported, None, Some(v)),
        )
    };
    assert_eq!(cmu("2.0").unwrap(), "0.100000000000");
    assert_eq!(cmu("1.0").unwrap(), "0.078500000000");
    // A wildcard capacity price does not make every model invocable per token.
    assert!(!c.knows_model("unknown.model"));
}

#[test]
fn every_embedded_alias_names_a_model_the_embedded_catalog_prices() {
    // Alias data pointing at a misspelled or missing id would resolve names to a
    // model no row prices: every target must be known.
    let catalog = PriceCatalog::embedded().unwrap();
    let unknown: Vec<&str> = catalog
        .aliases
        .models()
        .into_iter()
        .filter(|m| !catalog.knows_model(m))
        .collect();
    assert!(
        unknown.is_empty(),
        "aliases name unpriced models: {unknown:?}"
    );
}

#[test]
fn column_positions_name_the_columns_they_point_at() {
    use column::*;
    let named = [
        (MODEL_ID, "model_id"),
        (REGION, "region"),
        (MODE, "mode"),
        (USAGE_TYPE, "usage_type"),
        (PRICE, "price"),
        (PER, "per"),
        (CURRENCY, "currency"),
        (SCOPE, "scope"),
        (SERVICE_TIER, "service_tier"),
        (COMMITMENT, "commitment"),
        (CMU_VERSION, "cmu_version"),
        (IMAGE_QUALITY, "image_quality"),
        (IMAGE_MAX_PIXELS, "image_max_pixels"),
        (EFFECTIVE_FROM, "effective_from"),
        (EFFECTIVE_TO, "effective_to"),
        (SOURCE, "source"),
        (OFFER, "offer"),
        (OFFER_VERSION, "offer_version"),
        (SKU, "sku"),
        (RATE_CODE, "rate_code"),
    ];
    for (at, name) in named {
        assert_eq!(COLUMNS[at], name);
    }
}
