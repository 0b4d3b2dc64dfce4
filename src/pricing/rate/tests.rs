use super::*;
use crate::report::summarize;
use crate::vocab::rows::{Counts, Instants, Ints};
use polars::prelude::{Column, DataFrame, ParquetWriter};
use proptest::prelude::*;

/// A usage row as text, in canonical column order.
#[derive(Clone, Debug)]
struct Row {
    ts: &'static str,
    region: &'static str,
    model: &'static str,
    mode: &'static str,
    tier: &'static str,
    request_id: String,
    meters: [&'static str; 5],
    size: (&'static str, &'static str, &'static str),
    tags: &'static str,
    error: &'static str,
}

fn row(model: &'static str, input: &'static str, output: &'static str) -> Row {
    Row {
        ts: "2025-11-01T00:00:00Z",
        region: "us-east-1",
        model,
        mode: "",
        tier: "",
        request_id: String::new(),
        meters: [input, output, "", "", ""],
        size: ("", "", ""),
        tags: "",
        error: "",
    }
}

fn some(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn columns(rows: &[Row]) -> UsageColumns<'_> {
    let text = |f: &dyn Fn(&Row) -> &str| {
        Texts::Owned(rows.iter().map(|r| some(f(r))).collect::<Vec<_>>())
    };
    let none = || Texts::Owned(vec![None; rows.len()]);
    let meter = |m: usize| Counts::Text(text(&|r| r.meters[m]));
    UsageColumns {
        len: rows.len(),
        row: Ints::Owned((1..=rows.len() as i64).map(Some).collect()),
        timestamp: Instants::Text(text(&|r| r.ts)),
        region: text(&|r| r.region),
        model_id: text(&|r| r.model),
        mode: text(&|r| r.mode),
        service_tier: text(&|r| r.tier),
        request_id: text(&|r| r.request_id.as_str()),
        account_id: none(),
        principal: none(),
        image_quality: text(&|r| r.size.2),
        tags: text(&|r| r.tags),
        inference_region: none(),
        error_code: text(&|r| r.error),
        meters: [meter(0), meter(1), meter(2), meter(3), meter(4)],
        image_width: Counts::Text(text(&|r| r.size.0)),
        image_height: Counts::Text(text(&|r| r.size.1)),
    }
}

/// The rows as a batch of Arrow arrays, each column one chunk, as the readers
/// make them: read in place, so rows with equal texts are known by their views.
fn frame(rows: &[Row]) -> DataFrame {
    use crate::vocab::rows::{INT_COLUMNS, ROW_COLUMN, TEXT_COLUMNS};
    let text = |f: &dyn Fn(&Row) -> &str| rows.iter().map(|r| some(f(r))).collect::<Vec<_>>();
    let column = |name: &str| -> Vec<Option<&str>> {
        match name {
            "timestamp" => text(&|r| r.ts),
            "region" => text(&|r| r.region),
            "model_id" => text(&|r| r.model),
            "mode" => text(&|r| r.mode),
            "service_tier" => text(&|r| r.tier),
            "request_id" => text(&|r| r.request_id.as_str()),
            "image_quality" => text(&|r| r.size.2),
            "tags" => text(&|r| r.tags),
            "error_code" => text(&|r| r.error),
            "image_width" => text(&|r| r.size.0),
            "image_height" => text(&|r| r.size.1),
            meter => match crate::vocab::rows::METER_COLUMNS
                .iter()
                .position(|m| *m == meter)
            {
                Some(m) => text(&|r| r.meters[m]),
                None => vec![None; rows.len()],
            },
        }
    };
    let mut columns = vec![Column::new(
        ROW_COLUMN.into(),
        (1..=rows.len() as i64).collect::<Vec<_>>(),
    )];
    for name in TEXT_COLUMNS
        .iter()
        .chain(&INT_COLUMNS[5..])
        .chain(&INT_COLUMNS[..5])
    {
        if columns.iter().all(|c| c.name().as_str() != *name) {
            columns.push(Column::new((*name).into(), column(name)));
        }
    }
    let mut df = DataFrame::new(rows.len(), columns).unwrap();
    // Through a Parquet file, as a reader sees it: its string columns are
    // dictionary encoded, so equal texts come back as equal views.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let mut frames = crate::ingest::parquet_frames(&path, rows.len().max(1)).unwrap();
    match frames.next() {
        Some(frame) => frame.unwrap(),
        None => df,
    }
}

fn rate(rows: &[Row], range: Range<usize>) -> Rated {
    rate_with(rows, range, &mut RateCache::default())
}

/// Rates with a cache that may have served other slices (as a rating thread's does).
fn rate_with(rows: &[Row], range: Range<usize>, cache: &mut RateCache) -> Rated {
    rate_by(rows, range, cache, 0)
}

/// Groupings: one with a tag (rows grouped one by one), one of row keys only (rows
/// summed per price key and bucket, added to the tallies when the slice ends).
fn groupings() -> [Vec<GroupKey>; 2] {
    [
        vec![
            GroupKey::ModelId,
            GroupKey::Tag("team".into()),
            GroupKey::Day,
        ],
        vec![GroupKey::ModelId, GroupKey::Region, GroupKey::Hour],
    ]
}

fn rate_by(rows: &[Row], range: Range<usize>, cache: &mut RateCache, grouping: usize) -> Rated {
    let catalog = PriceCatalog::embedded().unwrap();
    let group_by = &groupings()[grouping];
    let ctx = RateContext::plain(&catalog, group_by, true);
    let cols = columns(rows);
    rate_slice_with(
        &ctx,
        cache,
        &cols,
        &vec![false; rows.len()],
        range,
        &Arc::from("t.csv"),
    )
}

fn only_reject(r: Row) -> (Reason, String) {
    let rated = rate(std::slice::from_ref(&r), 0..1);
    assert_eq!(rated.priced, 0, "{r:?} was priced");
    (rated.rejects[0].reason, rated.rejects[0].message.clone())
}

const SONNET: &str = "us.anthropic.claude-3-5-sonnet-20241022-v2:0";

#[test]
fn cache_meters_are_priced_separately_and_exactly() {
    let mut r = row(SONNET, "1000", "500");
    r.meters[2] = "2000";
    r.meters[3] = "400";
    let rated = rate(&[r], 0..1);
    let costs: Vec<String> = rated
        .line_items
        .iter()
        .map(|l| format!("{} {}", l.usage_type, l.cost))
        .collect();
    assert_eq!(
        costs,
        [
            "input_tokens 0.003000000000",
            "output_tokens 0.007500000000",
            "cache_read_tokens 0.000600000000",
            "cache_write_tokens 0.001500000000",
        ]
    );
    assert!(
        rated
            .line_items
            .iter()
            .all(|l| l.scope == Scope::Geo && *l.model_id == SONNET[3..])
    );
}

#[test]
fn every_reject_reason_has_its_row() {
    let cases: Vec<(Row, Reason, &str)> = vec![
        (
            Row {
                ts: "",
                ..row(SONNET, "1", "1")
            },
            Reason::MissingValue,
            "timestamp is empty",
        ),
        (
            Row {
                region: "",
                ..row(SONNET, "1", "1")
            },
            Reason::MissingValue,
            "region is empty",
        ),
        (row("", "1", "1"), Reason::MissingValue, "model_id is empty"),
        (
            Row {
                ts: "yesterday",
                ..row(SONNET, "1", "1")
            },
            Reason::BadTimestamp,
            "not RFC 3339",
        ),
        (
            row(SONNET, "-5", "1"),
            Reason::BadQuantity,
            "input_tokens \"-5\"",
        ),
        (
            row(SONNET, "1", "2.5"),
            Reason::BadQuantity,
            "output_tokens \"2.5\"",
        ),
        (
            Row {
                mode: "later",
                ..row(SONNET, "1", "1")
            },
            Reason::BadMode,
            "mode \"later\"",
        ),
        (
            Row {
                tier: "turbo",
                ..row(SONNET, "1", "1")
            },
            Reason::BadServiceTier,
            "service_tier \"turbo\"",
        ),
        (
            Row {
                meters: ["", "", "", "", "2"],
                ..row("amazon.titan-image-generator-v2:0", "", "")
            },
            Reason::BadImage,
            "required",
        ),
        (
            Row {
                tags: "[1,2]",
                ..row(SONNET, "1", "1")
            },
            Reason::BadTags,
            "JSON object",
        ),
        (
            row("acme.unknown-v1", "1", "1"),
            Reason::UnknownModel,
            "not in the price catalog",
        ),
        (
            row(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
                "1",
                "1",
            ),
            Reason::UnknownModel,
            "application inference profile",
        ),
        (
            Row {
                mode: "batch",
                ..row("anthropic.claude-3-5-haiku-20241022-v1:0", "1", "1")
            },
            Reason::NoPrice,
            "no price for input_tokens",
        ),
        (
            Row {
                region: "eu-west-1",
                ..row(SONNET, "1", "1")
            },
            Reason::NoPrice,
            "region eu-west-1",
        ),
    ];
    let mut seen: Vec<Reason> = Vec::new();
    for (r, reason, text) in cases {
        let (got, message) = only_reject(r);
        assert_eq!(got, reason, "{message}");
        assert!(message.contains(text), "{message:?} lacks {text:?}");
        seen.push(got);
    }
    for reason in Reason::ALL.iter().filter(|r| {
        !matches!(
            r,
            Reason::Overflow
                | Reason::BadRow
                | Reason::BadValue
                | Reason::DuplicateConflict
                | Reason::BadJson
                | Reason::BadRecord
                | Reason::UnsupportedSchema
                | Reason::MissingBody
                | Reason::CorruptFile
                | Reason::BadInterval
                | Reason::BadCommitment
                | Reason::Overlap
        )
    }) {
        // overflow has its own test below (it needs absurd prices); the others come
        // from the readers or capacity records, not the kernel, and are tested there.

        assert!(seen.contains(reason), "no test row for {}", reason.code());
    }
}

#[test]
fn a_row_with_one_unpriced_meter_is_rejected_whole() {
    // Titan Text Embeddings V2 has no output price: the input must not be half-billed.
    let rated = rate(&[row("amazon.titan-embed-text-v2:0", "100", "5")], 0..1);
    assert_eq!(
        (rated.priced, rated.rejects.len(), rated.line_items.len()),
        (0, 1, 0)
    );
    assert!(rated.rejects[0].message.contains("output_tokens"));
}

#[test]
fn zero_usage_rows_are_not_billable_even_for_an_unknown_model() {
    // A guardrail blocked it: 0 in, 0 out. Nothing to price, so nothing to reject.
    let rows = [
        row(SONNET, "0", ""),
        row("anthropic.claude-nobody-v9", "0", "0"),
    ];
    let rated = rate(&rows, 0..2);
    assert_eq!(
        (rated.priced, rated.not_billable, rated.rejects.len()),
        (0, 2, 0)
    );
    // With usage, the unknown model is still a reject.
    let rated = rate(&[row("anthropic.claude-nobody-v9", "1", "0")], 0..1);
    assert_eq!(rated.rejects[0].reason, Reason::UnknownModel);
}

fn arb_row() -> impl Strategy<Value = Row> {
    let models = prop::sample::select(vec![
        SONNET,
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "amazon.nova-pro-v1:0",
        "amazon.titan-image-generator-v2:0",
        "amazon.titan-embed-text-v2:0",
        "acme.unknown",
        "",
    ]);
    let counts = prop::sample::select(vec!["", "0", "1", "17", "123456789", "-3", "1.5", "x"]);
    let pick = |v: Vec<&'static str>| prop::sample::select(v);
    (
        (
            models,
            pick(vec!["us-east-1", "us-west-2", "eu-west-1", ""]),
            pick(vec!["", "on_demand", "batch", "later"]),
        ),
        (
            pick(vec!["", "standard", "priority", "flex", "turbo"]),
            pick(vec!["2025-11-01T10:00:00Z", "2025-11-02", "bad", ""]),
        ),
        prop::array::uniform5(counts),
        (
            pick(vec!["", "512", "1024"]),
            pick(vec!["", "standard", "premium", "best"]),
        ),
        (
            pick(vec!["", "{\"team\":\"a\"}", "{\"team\":\"b\"}", "nope"]),
            pick(vec!["", "", "ThrottlingException"]),
        ),
    )
        .prop_map(
            |((model, region, mode), (tier, ts), meters, (side, quality), (tags, error))| Row {
                ts,
                region,
                model,
                mode,
                tier,
                request_id: String::new(),
                meters,
                size: (side, side, quality),
                tags,
                error,
            },
        )
}

/// Rows that share a few texts (model, region, mode, tier, tags, error code), each
/// with its own instant, counts and image.
fn rows_sharing_texts() -> impl Strategy<Value = Vec<Row>> {
    let texts = prop::collection::vec(arb_row(), 1..4);
    // A third of the rows use nothing (a failed request's row, say).
    let rows = prop::collection::vec((0usize..4, arb_row(), 0..3), 0..80);
    (texts, rows).prop_map(|(texts, rows)| {
        let texts_of = |t: usize, r: Row, idle| {
            let t = &texts[t % texts.len()];
            let meters = match idle {
                0 => ["0", "", "0", "", ""],
                _ => r.meters,
            };
            Row {
                model: t.model,
                region: t.region,
                mode: t.mode,
                tier: t.tier,
                tags: t.tags,
                error: t.error,
                meters,
                ..r
            }
        };
        rows.into_iter()
            .map(|(t, r, idle)| texts_of(t, r, idle))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_row_is_priced_rejected_or_not_billable(rows in prop::collection::vec(arb_row(), 0..60)) {
        let rated = rate(&rows, 0..rows.len());
        let outcomes = rated.priced + rated.rejects.len() as u64 + rated.not_billable;
        prop_assert_eq!(outcomes, rows.len() as u64);
    }

    #[test]
    fn split_and_merged_equals_whole(
        rows in prop::collection::vec(arb_row(), 1..60),
        cut in 0usize..60,
        grouping in 0usize..2,
    ) {
        let cut = cut.min(rows.len());
        let whole = rate_by(&rows, 0..rows.len(), &mut RateCache::default(), grouping);
        // The halves share one warm cache, as consecutive slices on one thread do;
        // the whole starts cold.
        let mut cache = RateCache::default();
        let a = rate_by(&rows, 0..cut, &mut cache, grouping);
        let b = rate_by(&rows, cut..rows.len(), &mut cache, grouping);
        let mut merged = a.tallies;
        merged.absorb(b.tallies);
        prop_assert_eq!(merged.by_values(), whole.tallies.by_values());
        prop_assert_eq!([a.rejects, b.rejects].concat(), whole.rejects);
        prop_assert_eq!([a.line_items, b.line_items].concat(), whole.line_items);
    }

    /// Rows read in place from Arrow arrays, where rows whose texts were seen
    /// before in the slice skip the checks those texts passed, rate exactly as the
    /// same rows collected, each checked in full: counts, rejects in order with
    /// their messages, tallies and line items.
    #[test]
    fn rows_of_known_texts_rate_as_rows_checked_in_full(
        rows in rows_sharing_texts(),
        grouping in 0usize..2,
        line_items in any::<bool>(),
    ) {
        let catalog = PriceCatalog::embedded().unwrap();
        let group_by = &groupings()[grouping];
        let ctx = RateContext::plain(&catalog, group_by, line_items);
        let df = frame(&rows);
        let in_place = UsageColumns::from_frame(&df).unwrap();
        prop_assert!(matches!(in_place.model_id, Texts::Array(_)));
        let collected = columns(&rows);
        let source = Arc::from("t.csv");
        let rate = |cols: &UsageColumns| {
            let no = vec![false; rows.len()];
            rate_slice_with(&ctx, &mut RateCache::default(), cols, &no, 0..rows.len(), &source)
        };
        let (fast, full) = (rate(&in_place), rate(&collected));
        prop_assert_eq!(
            (fast.priced, fast.not_billable, fast.out_of_range),
            (full.priced, full.not_billable, full.out_of_range)
        );
        prop_assert_eq!(fast.rejects, full.rejects);
        prop_assert_eq!(fast.tallies.by_values(), full.tallies.by_values());
        prop_assert_eq!(fast.line_items, full.line_items);
    }

    #[test]
    fn summary_total_equals_line_item_total(
        rows in prop::collection::vec(arb_row(), 0..60),
        grouping in 0usize..2,
    ) {
        let catalog = PriceCatalog::embedded().unwrap();
        let rated = rate_by(&rows, 0..rows.len(), &mut RateCache::default(), grouping);
        let summary = summarize(&rated.tallies, &catalog).unwrap();
        let from_summary = summary.values().fold(Money::ZERO, |a, c| a.checked_add(c.cost).unwrap());
        let from_items = rated.line_items.iter().fold(Money::ZERO, |a, l| a.checked_add(l.cost).unwrap());
        prop_assert_eq!(from_summary, from_items);
        let records: u64 = summary.values().map(|c| c.records).sum();
        prop_assert_eq!(records, rated.line_items.len() as u64);
    }
}

/// Rows read from a Parquet dictionary share their texts' views; rows whose long
/// texts were each copied (as the CSV and log readers make them) do not, and are
/// not looked up by view.
#[test]
fn only_columns_whose_rows_share_texts_are_read_by_view() {
    let rows = vec![row(SONNET, "1", "2"); 100];
    let df = frame(&rows);
    assert!(TextViews::shared(&UsageColumns::from_frame(&df).unwrap()));
    let mut copied = df.clone();
    copied
        .with_column(Column::new("model_id".into(), vec![SONNET; rows.len()]))
        .unwrap();
    assert!(!TextViews::shared(
        &UsageColumns::from_frame(&copied).unwrap()
    ));
    assert!(!TextViews::shared(&columns(&rows)));
}

/// Image rows of one model and region, read in place (their texts known after the
/// first): each priced by its own size and quality.
#[test]
fn known_texts_keep_each_image_rows_own_price() {
    let image = |side, quality| Row {
        meters: ["", "", "", "", "1"],
        size: (side, side, quality),
        ..row("amazon.titan-image-generator-v2:0", "", "")
    };
    let set = [
        image("512", "standard"),
        image("1024", "standard"),
        image("512", "premium"),
        image("1024", "premium"),
    ];
    let rows = [set.clone(), set].concat();
    let catalog = PriceCatalog::embedded().unwrap();
    let group_by = &groupings()[1];
    let ctx = RateContext::plain(&catalog, group_by, false);
    let df = frame(&rows);
    let cols = UsageColumns::from_frame(&df).unwrap();
    let no = vec![false; rows.len()];
    let rated = rate_slice(&ctx, &cols, &no, 0..rows.len(), &Arc::from("t.parquet"));
    assert_eq!(rated.priced, 8, "{:?}", rated.rejects);
    let summary = summarize(&rated.tallies, &catalog).unwrap();
    let total = summary
        .values()
        .fold(Money::ZERO, |a, c| a.checked_add(c.cost).unwrap());
    // 0.008 + 0.010 (standard, up to 512 × 512 and above) + 0.010 + 0.012 (premium), twice.
    assert_eq!(total.to_string(), "0.080000000000");
}

#[test]
fn a_cost_beyond_decimal_38_12_is_rejected_as_overflow() {
    // 10^20 a token: 999,999 tokens cost 99,999,900,000,000,000,000,000,000 (fits
    // DECIMAL(38, 12)), one more does not, whether rows are summed by price key,
    // kept as line items, or grouped by account.
    let catalog = PriceCatalog::parse(
        "huge.csv",
        "model_id,region,mode,usage_type,price,per\nm,*,on_demand,input_tokens,100000000000000000000,1\n",
    )
    .unwrap();
    let by_account = [GroupKey::AccountId];
    for (group_by, line_items) in [(&[][..], false), (&[][..], true), (&by_account[..], false)] {
        let ctx = RateContext::plain(&catalog, group_by, line_items);
        let rows = [row("m", "1000000", ""), row("m", "999999", "")];
        let rated = rate_slice(
            &ctx,
            &columns(&rows),
            &[false; 2],
            0..2,
            &Arc::from("t.csv"),
        );
        let case = format!("{group_by:?}, line items {line_items}");
        assert_eq!(rated.priced, 1, "{case}");
        assert_eq!(rated.rejects.len(), 1, "{case}");
        assert_eq!(rated.rejects[0].reason, Reason::Overflow, "{case}");
        assert_eq!(
            rated.rejects[0].message,
            "cost of input_tokens overflows DECIMAL(38, 12)"
        );
    }
}
