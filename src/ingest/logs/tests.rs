use super::*;
use crate::catalog::PriceCatalog;
use crate::pricing::rate::{RateContext, rate_slice};
use crate::vocab::rows::UsageColumns;
use proptest::prelude::*;
use std::sync::Arc;

fn read_all(text: &[u8], batch_rows: usize) -> Vec<Batch> {
    let mut batches = Vec::new();
    read_records(text, batch_rows, &mut |b| {
        batches.push(b);
        true
    });
    batches
}

/// Rows and rejects of every batch, and what the kernel made of the rows:
/// (rows read, priced + rejected + not billable + out of range).
fn account(batches: &[Batch]) -> (usize, u64) {
    let catalog = PriceCatalog::embedded().unwrap();
    let ctx = RateContext::plain(&catalog, &[], false);
    let mut read = 0;
    let mut outcomes = 0;
    for b in batches {
        let cols = UsageColumns::from_frame(&b.frame).unwrap();
        let rated = rate_slice(
            &ctx,
            &cols,
            &vec![false; cols.len],
            0..cols.len,
            &Arc::from("t"),
        );
        read += cols.len + b.unreadable.len();
        outcomes += rated.priced
            + rated.rejects.len() as u64
            + rated.not_billable
            + rated.out_of_range
            + b.unreadable.len() as u64;
    }
    (read, outcomes)
}

const RECORD: &str = r#"{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"2025-11-01T08:00:00Z","accountId":"111122223333","region":"us-east-1","requestId":"r-1","operation":"Converse","modelId":"us.amazon.nova-pro-v1:0","identity":{"arn":"arn:aws:iam::111122223333:user/dev"},"requestMetadata":{"team":"a"},"input":{"inputBodyJson":{"serviceTier":"priority","messages":[{"text":"hi"}]},"inputTokenCount":10,"cacheReadInputTokenCount":0},"output":{"outputBodyJson":{"x":[1,2,3]},"outputTokenCount":5}}"#;

fn text_of(batch: &Batch, column: &str) -> Vec<Option<String>> {
    let c = batch.frame.column(column).unwrap().str().unwrap();
    c.iter().map(|v| v.map(str::to_string)).collect()
}

#[test]
fn a_record_maps_to_canonical_columns() {
    let batches = read_all(format!("{RECORD}\n").as_bytes(), 100);
    let b = &batches[0];
    assert_eq!(b.frame.height(), 1);
    assert_eq!(text_of(b, "service_tier"), [Some("priority".into())]);
    assert_eq!(
        text_of(b, "model_id"),
        [Some("us.amazon.nova-pro-v1:0".into())]
    );
    assert_eq!(
        text_of(b, "principal"),
        [Some("arn:aws:iam::111122223333:user/dev".into())]
    );
    assert_eq!(text_of(b, "tags"), [Some(r#"{"team":"a"}"#.into())]);
    let input: Vec<Option<i64>> = b
        .frame
        .column("input_tokens")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(input, [Some(10)]);
}

#[test]
fn tiers_come_from_the_body_in_every_spelling() {
    let tier = |body: &str| service_tier(&serde_json::from_str::<Body>(body).unwrap());
    assert_eq!(tier(r#"{"serviceTier":"flex"}"#).as_deref(), Some("flex"));
    assert_eq!(
        tier(r#"{"serviceTier":{"type":"priority"}}"#).as_deref(),
        Some("priority")
    );
    assert_eq!(
        tier(r#"{"service_tier":"default"}"#).as_deref(),
        Some("default")
    );
    assert_eq!(
        tier(r#"{"performanceConfig":{"latency":"optimized"}}"#).as_deref(),
        Some("latency_optimized")
    );
    assert_eq!(
        tier(r#"{"performanceConfig":{"latency":"standard"}}"#),
        None
    );
    assert_eq!(tier(r#"{"messages":[]}"#), None);
}

#[test]
fn image_requests_default_as_documented() {
    fn body(b: &str) -> Body<'_> {
        serde_json::from_str(b).unwrap()
    }
    assert_eq!(
        images_of(&ImageFamily::TitanLike, &body("{}")),
        (1, 1024, 1024, "standard".into())
    );
    let titan = body(
        r#"{"imageGenerationConfig":{"numberOfImages":3,"width":512,"height":768,"quality":"premium"}}"#,
    );
    assert_eq!(
        images_of(&ImageFamily::TitanLike, &titan),
        (3, 512, 768, "premium".into())
    );
    assert_eq!(
        images_of(&ImageFamily::Sdxl, &body(r#"{"steps":50}"#)).3,
        "standard"
    );
    assert_eq!(
        images_of(&ImageFamily::Sdxl, &body(r#"{"steps":51,"samples":2}"#)),
        (2, 1024, 1024, "premium".into())
    );
    assert_eq!(images_of(&ImageFamily::OnePerRequest, &body("{}")).0, 1);
}

#[test]
fn cloudwatch_prefix_is_stripped_only_before_an_object() {
    assert_eq!(
        strip_cloudwatch_prefix(b"2025-11-01T08:00:00.123Z {\"a\":1}"),
        b"{\"a\":1}"
    );
    assert_eq!(strip_cloudwatch_prefix(b"{\"a\":1}"), b"{\"a\":1}");
    assert_eq!(strip_cloudwatch_prefix(b"12 apples"), b"12 apples");
}

#[test]
fn pretty_printed_records_are_numbered_by_their_first_line() {
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(RECORD).unwrap())
            .unwrap();
    let text = format!("{pretty}\n{pretty}\n");
    let batches = read_all(text.as_bytes(), 100);
    let rows: Vec<Option<i64>> = batches[0]
        .frame
        .column(ROW_COLUMN)
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    let second = 1 + pretty.lines().count() as i64;
    assert_eq!(rows, [Some(1), Some(second)]);
}

/// Request ids of the readable rows, and (row, reason) of the rejects.
fn ids_and_rejects(text: &[u8]) -> (Vec<Option<String>>, Vec<(i64, &'static str)>) {
    let batches = read_all(text, 100);
    let ids = batches
        .iter()
        .flat_map(|b| text_of(b, "request_id"))
        .collect();
    let rejects = batches
        .iter()
        .flat_map(|b| b.unreadable.iter().map(|u| (u.row, u.reason.code())))
        .collect();
    (ids, rejects)
}

#[test]
fn a_broken_array_element_is_rejected_alone() {
    let second = RECORD.replace("r-1", "r-2");
    let text = format!("[\n{RECORD},\n{{\"broken\": }},\n{second}\n]\n");
    let (ids, rejects) = ids_and_rejects(text.as_bytes());
    assert_eq!(ids, [Some("r-1".to_string()), Some("r-2".to_string())]);
    assert_eq!(rejects, [(3, "bad_json")]);
    // Brackets and commas inside strings do not cut elements.
    let tricky = RECORD.replace("\"team\":\"a\"", "\"team\":\"a],{\\\"\"");
    let (ids, rejects) = ids_and_rejects(format!("[{tricky}]").as_bytes());
    assert_eq!((ids.len(), rejects.len()), (1, 0), "{rejects:?}");
}

#[test]
fn a_broken_document_in_a_stream_keeps_the_documents_after_it() {
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(RECORD).unwrap())
            .unwrap();
    let second = pretty.replace("r-1", "r-2");
    let text = format!("{pretty}\n{{\n  \"a\": ,\n}}\n{second}\n");
    let (ids, rejects) = ids_and_rejects(text.as_bytes());
    assert_eq!(ids, [Some("r-1".to_string()), Some("r-2".to_string())]);
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].1, "bad_json");
}

#[test]
fn text_after_an_array_is_a_reject_not_a_silent_loss() {
    let (ids, rejects) = ids_and_rejects(format!("[{RECORD}]\n{RECORD}\n").as_bytes());
    assert_eq!(ids.len(), 1);
    assert_eq!(rejects, [(2, "bad_json")]);
}

#[test]
fn a_byte_order_mark_does_not_lose_the_first_record() {
    let text = format!("\u{feff}{RECORD}\n{}\n", RECORD.replace("r-1", "r-2"));
    let (ids, rejects) = ids_and_rejects(text.as_bytes());
    assert_eq!(ids.len(), 2, "{rejects:?}");
}

/// Mutates bytes of real records without touching line ends.
fn mutated_lines() -> impl Strategy<Value = Vec<u8>> {
    let line =
        (any::<prop::sample::Index>(), any::<u8>(), 0usize..4).prop_map(|(at, byte, edits)| {
            let mut l = RECORD.as_bytes().to_vec();
            for k in 0..edits {
                let i = (at.index(l.len()) + k * 31) % l.len();
                l[i] = if byte == b'\n' { b' ' } else { byte };
            }
            l
        });
    prop::collection::vec(line, 1..30).prop_map(|lines| {
        // The first line stays intact so the file reads as JSON lines.
        let mut out = format!("{RECORD}\n").into_bytes();
        for l in lines {
            out.extend(l);
            out.push(b'\n');
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let batches = read_all(&bytes, 7);
        let (read, outcomes) = account(&batches);
        prop_assert_eq!(read as u64, outcomes);
    }

    #[test]
    fn every_mutated_line_is_a_row_or_a_reject(text in mutated_lines(), batch in 1usize..10) {
        let lines = text.split(|b| *b == b'\n').filter(|l| !l.trim_ascii().is_empty()).count();
        let batches = read_all(&text, batch);
        let (read, outcomes) = account(&batches);
        prop_assert_eq!(read, lines);
        prop_assert_eq!(read as u64, outcomes);
    }
}

/// Hands out its text a few bytes per read, then fails if told to: how a slow or
/// broken stream (gzip, S3) meets the reader's buffer.
struct Trickle<'a> {
    text: &'a [u8],
    step: usize,
    fail: bool,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.text.is_empty() && self.fail {
            return Err(std::io::Error::other("stream cut"));
        }
        let n = self.step.min(self.text.len()).min(out.len());
        out[..n].copy_from_slice(&self.text[..n]);
        self.text = &self.text[n..];
        Ok(n)
    }
}

/// (line, request id) of every row and (line, reason) of every reject.
type Outcome = (Vec<(i64, Option<String>)>, Vec<(i64, &'static str)>);

fn outcome(batches: &[Batch]) -> Outcome {
    let mut rows = Vec::new();
    for b in batches {
        let lines = b.frame.column(ROW_COLUMN).unwrap().i64().unwrap().clone();
        rows.extend(lines.into_no_null_iter().zip(text_of(b, "request_id")));
    }
    let rejects = batches
        .iter()
        .flat_map(|b| b.unreadable.iter().map(|u| (u.row, u.reason.code())))
        .collect();
    (rows, rejects)
}

fn read_trickled(text: &[u8], step: usize, fail: bool, batch_rows: usize) -> Vec<Batch> {
    let mut batches = Vec::new();
    let input = Trickle { text, step, fail };
    read_records(input, batch_rows, &mut |b| {
        batches.push(b);
        true
    });
    batches
}

#[test]
fn a_stream_cut_mid_line_keeps_the_whole_lines_before_it() {
    let text = format!(
        "{RECORD}\n{}\n{}",
        RECORD.replace("r-1", "r-2"),
        &RECORD[..40]
    );
    let (rows, rejects) = outcome(&read_trickled(text.as_bytes(), 100, true, 10));
    assert_eq!(rows, [(1, Some("r-1".into())), (2, Some("r-2".into()))]);
    assert_eq!(rejects, [(3, "corrupt_file")]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the stream is cut into reads, the same rows with the same line
    /// numbers, and the same rejects.
    #[test]
    fn reads_of_any_size_give_the_same_records(
        text in mutated_lines(),
        step in 1usize..700,
        batch in 1usize..10,
    ) {
        let whole = outcome(&read_all(&text, batch));
        prop_assert_eq!(outcome(&read_trickled(&text, step, false, batch)), whole);
    }
}

#[test]
fn a_line_longer_than_the_limit_is_rejected_and_skipped_not_held() {
    let long = "x".repeat(MAX_LINE + 10);
    let second = RECORD.replace("r-1", "r-2");
    for (text, expected_reject) in [
        (format!("{RECORD}\n{long}\n{second}\n"), 2),
        (format!("{RECORD}\n{second}\n{long}"), 3),
    ] {
        let (rows, rejects) = outcome(&read_trickled(text.as_bytes(), 1 << 20, false, 10));
        let ids: Vec<_> = rows.iter().map(|(_, id)| id.clone().unwrap()).collect();
        assert_eq!(ids, ["r-1", "r-2"]);
        assert_eq!(rejects, [(expected_reject, "bad_json")]);
    }
    // The line after the long one keeps its number; the reject says why.
    let text = format!("{RECORD}\n{long}\n{second}\n");
    let batches = read_all(text.as_bytes(), 10);
    assert_eq!(outcome(&batches).0[1].0, 3);
    let messages: Vec<_> = batches
        .iter()
        .flat_map(|b| &b.unreadable)
        .map(|u| &u.message)
        .collect();
    assert!(messages[0].contains("more than 64 MiB"), "{messages:?}");
}

#[test]
fn a_json_array_on_one_long_line_is_still_a_document() {
    let n = MAX_LINE / RECORD.len() + 10;
    let mut text = String::from("[");
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&RECORD.replace("\"r-1\"", &format!("\"r-{i}\"")));
    }
    text.push(']');
    for ending in ["", "\n"] {
        let text = format!("{text}{ending}");
        let (rows, rejects) = outcome(&read_all(text.as_bytes(), 1_000_000));
        assert_eq!((rows.len(), rejects.len()), (n, 0));
    }
}
