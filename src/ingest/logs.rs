//! Bedrock model-invocation logs: JSON records as AWS delivers them to S3 or exports
//! them from CloudWatch, mapped to canonical usage rows.
//!
//! gzip is detected by content (every member is read; a truncated or corrupt stream
//! keeps the records before the damage and adds a `corrupt_file` reject). A file is
//! JSON lines (S3 delivery), CloudWatch export lines (`<timestamp> {json}`), one
//! pretty-printed object, or a JSON array of records. Lines are parsed in parallel
//! into typed structs that skip everything billrun does not need (request and
//! response bodies are read only for the fields that price a request): by `scan`,
//! a scanner for the records AWS writes, or by serde when the scanner is not sure.
//! Text fields borrow from the read buffer, so a record costs no allocation.

use super::{Batch, Unreadable};
use crate::error::Result;
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{INT_COLUMNS, ROW_COLUMN, TEXT_COLUMNS};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufReader, Read};

/// A batch also ends at this many bytes of JSON: records can be 200 KB each. Small
/// enough that the text is still in cache when it is parsed (32 MiB was 13% slower).
const BATCH_BYTES: usize = 4 << 20;

/// Log schema major version billrun understands.
const SCHEMA_MAJOR: &str = "1";

/// Reads a log file in batches of about `batch_rows` records.
pub fn log_batches(
    input: impl std::io::Read,
    batch_rows: usize,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> Result<()> {
    // A read error while sniffing is the same damage as later ones: the reader meets
    // it again and makes it a corrupt_file reject.
    match super::gunzipped(BufReader::with_capacity(1 << 20, input)) {
        Ok(gz) => read_records(gz, batch_rows, emit),
        Err(plain) => read_records(plain, batch_rows, emit),
    }
    Ok(())
}

/// Decompressed text is read straight into one buffer of about this size, reused
/// from batch to batch; lines are parsed where they lie in it.
const READ_STEP: usize = 1 << 20;

/// A read buffer, zeroed once and returned to a pool when dropped: files come one
/// after another (each on its own reading thread), and a fresh 33 MiB buffer per
/// file cost a tenth of the run in page clearing.
struct Buffer(Vec<u8>);

static BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

impl Buffer {
    fn take() -> Buffer {
        let pooled = BUFFERS.lock().ok().and_then(|mut p| p.pop());
        Buffer(pooled.unwrap_or_else(|| vec![0u8; BATCH_BYTES + READ_STEP]))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        // Back to the ordinary size (a long line grows its buffer), and only a few.
        buf.truncate(BATCH_BYTES + READ_STEP);
        buf.shrink_to(BATCH_BYTES + READ_STEP);
        if let Ok(mut pool) = BUFFERS.lock()
            && pool.len() < 4
        {
            pool.push(buf);
        }
    }
}

impl std::ops::Deref for Buffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// Splits the input into numbered records and hands them on in batches. Never fails:
/// what cannot be read becomes a reject.
///
/// The text is read into one buffer (no allocation or copy per line); when it holds
/// `batch_rows` lines or `BATCH_BYTES`, the complete lines are parsed in place and
/// the unfinished one moves to the front.
pub fn read_records(mut input: impl Read, batch_rows: usize, emit: &mut dyn FnMut(Batch) -> bool) {
    let batch_rows = batch_rows.max(1);
    let mut buf = Buffer::take();
    let (mut filled, mut open) = (0usize, 0usize); // bytes read; start of the open line
    let mut lines: Vec<(i64, std::ops::Range<usize>)> = Vec::new();
    let mut line_no = 0i64;
    let (mut first, mut bom_checked) = (true, false);
    let mut trailing: Vec<Unreadable> = Vec::new();
    // Inside a line longer than `MAX_LINE`, which is dropped as it is read.
    let mut skipping = false;
    loop {
        if buf.len() - filled < READ_STEP {
            buf.resize(filled + READ_STEP, 0); // a line longer than the buffer
        }
        let read = match input.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                trailing.push(Unreadable::new(line_no + 1, Reason::CorruptFile, format!(
                    "input is truncated or corrupt after line {line_no}: {e}; records before it are kept"
                )));
                break;
            }
        };
        let mut end = filled + read;
        let mut scan = filled;
        if skipping {
            match memchr::memchr(b'\n', &buf[filled..end]) {
                None => end = filled, // more of the over-long line: dropped
                Some(at) => {
                    line_no += 1;
                    trailing.push(too_long(line_no));
                    (skipping, open, scan) = (false, filled + at + 1, filled + at + 1);
                }
            }
        }
        for at in memchr::memchr_iter(b'\n', &buf[scan..end]) {
            line_no += 1;
            if scan + at - open > MAX_LINE {
                if first && opens_array(&buf, &lines, open..scan + at) {
                    let mut rest = buf[open..end].to_vec();
                    read_document(&mut rest, &mut input, line_no, trailing, emit);
                    return;
                }
                trailing.push(too_long(line_no));
            } else {
                lines.push((line_no, open..scan + at));
            }
            open = scan + at + 1;
        }
        filled = end;
        let eof = read == 0;
        if eof && skipping {
            line_no += 1;
            trailing.push(too_long(line_no));
        }
        if !skipping && filled - open > MAX_LINE {
            if first && opens_array(&buf, &lines, open..filled) {
                // A JSON array on one line: a document, read whole as documented.
                let mut rest = buf[open..filled].to_vec();
                read_document(&mut rest, &mut input, line_no + 1, trailing, emit);
                return;
            }
            // No record comes near this size (Bedrock moves bodies over 100 KB to
            // data/ objects): the line is rejected and skipped, not held.
            (skipping, filled) = (true, open);
        }
        if eof && open < filled {
            line_no += 1; // the last line has no newline
            lines.push((line_no, open..filled));
            open = filled;
        }
        if first {
            if let Some((_, r)) = lines.first_mut()
                && !std::mem::replace(&mut bom_checked, true)
                && buf[r.clone()].starts_with(b"\xEF\xBB\xBF")
            {
                r.start += 3; // a UTF-8 byte order mark
            }
            let blank =
                |r: &std::ops::Range<usize>| buf[r.clone()].iter().all(u8::is_ascii_whitespace);
            if let Some((n, r)) = lines.iter().find(|(_, r)| !blank(r)).cloned() {
                first = false;
                if starts_document(&buf[r.clone()]) {
                    let mut rest = buf[r.start..filled].to_vec();
                    read_document(&mut rest, &mut input, n, trailing, emit);
                    return;
                }
            }
        }
        if eof {
            break;
        }
        if lines.len() >= batch_rows || open >= BATCH_BYTES {
            for chunk in lines.chunks(batch_rows) {
                if !emit(parse_batch(&buf, chunk, Vec::new())) {
                    return;
                }
            }
            lines.clear();
            buf.copy_within(open..filled, 0);
            (filled, open) = (filled - open, 0);
        }
    }
    let mut chunks = lines.chunks(batch_rows).peekable();
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let rejects = if last {
            std::mem::take(&mut trailing)
        } else {
            Vec::new()
        };
        if !emit(parse_batch(&buf, chunk, rejects)) {
            return;
        }
    }
    if !trailing.is_empty() {
        emit(parse_batch(&buf, &[], trailing));
    }
}

/// A line longer than this is not a record: rejected and skipped as it is read.
const MAX_LINE: usize = 64 << 20;

/// Whether `line`, after only blank `lines`, opens a JSON array (a document).
fn opens_array(
    buf: &[u8],
    lines: &[(i64, std::ops::Range<usize>)],
    line: std::ops::Range<usize>,
) -> bool {
    let head = buf[line].trim_ascii_start();
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let blank = |(_, r): &(i64, std::ops::Range<usize>)| buf[r.clone()].trim_ascii().is_empty();
    head.starts_with(b"[") && lines.iter().all(blank)
}

fn too_long(line: i64) -> Unreadable {
    let message = format!(
        "a line of more than {} MiB is not an invocation-log record; skipped unread",
        MAX_LINE >> 20
    );
    Unreadable::new(line, Reason::BadJson, message)
}

/// The rest of a file that is one JSON document (`text` holds its start, from line
/// `first_line`), read whole and parsed element by element.
fn read_document(
    text: &mut Vec<u8>,
    input: &mut impl Read,
    first_line: i64,
    mut trailing: Vec<Unreadable>,
    emit: &mut dyn FnMut(Batch) -> bool,
) {
    if text.starts_with(b"\xEF\xBB\xBF") {
        text.drain(..3); // a UTF-8 byte order mark
    }
    if let Err(e) = input.read_to_end(text) {
        let message = format!("input is truncated or corrupt: {e}");
        trailing.push(Unreadable::new(first_line, Reason::CorruptFile, message));
    }
    let (records, problems) = split_document(text, first_line);
    trailing.extend(problems);
    emit(parse_batch(text, &records, trailing));
}

/// A first line that opens a JSON array, or an object that does not close on it
/// (a pretty-printed record), means the whole file is one JSON document.
fn starts_document(line: &[u8]) -> bool {
    let text = line.trim_ascii();
    text.starts_with(b"[")
        || (text.starts_with(b"{")
            && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_err_and(|e| e.is_eof()))
}

/// A whole-file document → one record per array element or top-level value, numbered
/// by the line it starts on. Values are cut by structure (brackets outside strings),
/// not parsed here, so a broken element becomes a reject of its own and every other
/// element is kept.
fn split_document(
    text: &[u8],
    first_line: i64,
) -> (Vec<(i64, std::ops::Range<usize>)>, Vec<Unreadable>) {
    // Offsets come in increasing order: count the newlines between one and the next
    // (counting from the start each time took 9 minutes for a 30 MB array).
    let (mut line, mut counted) = (first_line, 0usize);
    let mut line_at = |offset: usize| {
        line += memchr::memchr_iter(b'\n', &text[counted..offset]).count() as i64;
        counted = offset;
        line
    };
    let (spans, trailing) = value_spans(text);
    let records = spans.into_iter().map(|r| (line_at(r.start), r)).collect();
    let problems = trailing
        .map(|at| {
            let message = "text after the JSON array is not read".to_string();
            Unreadable::new(line_at(at), Reason::BadJson, message)
        })
        .into_iter()
        .collect();
    (records, problems)
}

/// Byte ranges of the elements of `text` when it is one JSON array, else of its
/// top-level values; and where text after a closed array starts, if any.
/// Whitespace-only ranges are left out.
fn value_spans(text: &[u8]) -> (Vec<std::ops::Range<usize>>, Option<usize>) {
    let lead = text.len() - text.trim_ascii_start().len();
    let array = text.get(lead) == Some(&b'[');
    let mut spans = Vec::new();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut start = if array { lead + 1 } else { lead };
    // A value starts at its first non-blank byte (its line is the record's number).
    let push = |spans: &mut Vec<std::ops::Range<usize>>, range: std::ops::Range<usize>| {
        let blank = text[range.clone()]
            .iter()
            .take_while(|b| b.is_ascii_whitespace());
        let start = range.start + blank.count();
        if start < range.end {
            spans.push(start..range.end);
        }
    };
    let mut i = start;
    while i < text.len() {
        let b = text[i];
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    // In a stream of values, a new value starts at depth 0.
                    if !array && depth == 0 {
                        push(&mut spans, start..i);
                        start = i;
                    }
                    depth += 1;
                }
                b']' if array && depth == 0 => {
                    push(&mut spans, start..i);
                    let rest = i
                        + 1
                        + text[i + 1..]
                            .iter()
                            .take_while(|b| b.is_ascii_whitespace())
                            .count();
                    return (spans, (rest < text.len()).then_some(rest));
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if !array && depth == 0 {
                        push(&mut spans, start..i + 1);
                        start = i + 1;
                    }
                }
                b',' if array && depth == 0 => {
                    push(&mut spans, start..i);
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    push(&mut spans, start..text.len());
    (spans, None)
}

/// Parses numbered records (in parallel; each a range of `text`) into a canonical
/// batch.
fn parse_batch(
    text: &[u8],
    lines: &[(i64, std::ops::Range<usize>)],
    trailing: Vec<Unreadable>,
) -> Batch {
    let parsed: Vec<Option<Result<Row, Unreadable>>> = lines
        .par_iter()
        .map(|(n, line)| parse_line(*n, &text[line.clone()]))
        .collect();
    let mut rows = Vec::with_capacity(parsed.len());
    let mut unreadable = Vec::new();
    for outcome in parsed.into_iter().flatten() {
        match outcome {
            Ok(row) => rows.push(row),
            Err(u) => unreadable.push(u),
        }
    }
    unreadable.extend(trailing);
    Batch::new(frame(&rows), unreadable)
}

/// One line: `None` if blank, else a row or why it is not one.
fn parse_line(line_no: i64, line: &[u8]) -> Option<Result<Row<'_>, Unreadable>> {
    let text = strip_cloudwatch_prefix(line.trim_ascii());
    if text.is_empty() {
        return None;
    }
    let bad = |reason, message: String| Err(Unreadable::new(line_no, reason, message));
    let record = scan::record(text).map_or_else(|| serde_json::from_slice::<Record>(text), Ok);
    Some(match record {
        Ok(record) => record
            .into_row(line_no)
            .map_err(|(reason, message, request_id)| Unreadable {
                row: line_no,
                reason,
                request_id,
                message,
            }),
        Err(e) if e.is_data() => bad(
            Reason::BadRecord,
            format!("record does not fit the log schema: {e}"),
        ),
        Err(e) => bad(Reason::BadJson, format!("not JSON: {e}")),
    })
}

/// CloudWatch Logs exports write `<timestamp> <event>`: keep the event.
fn strip_cloudwatch_prefix(line: &[u8]) -> &[u8] {
    if line.first().is_some_and(u8::is_ascii_digit)
        && let Some(at) = line.windows(2).position(|w| w == b" {")
    {
        return &line[at + 1..];
    }
    line
}

/// A canonical usage row from one log record.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Row<'a> {
    line: i64,
    text: [Text<'a>; 12],
    ints: [Option<i64>; 7],
}

/// Builds a frame with exactly the canonical columns and dtypes.
fn frame(rows: &[Row<'_>]) -> DataFrame {
    let mut columns = vec![Column::new(
        ROW_COLUMN.into(),
        rows.iter().map(|r| r.line).collect::<Vec<_>>(),
    )];
    for (c, name) in TEXT_COLUMNS.iter().enumerate() {
        let values: Vec<Option<&str>> = rows.iter().map(|r| r.text[c].as_deref()).collect();
        columns.push(Column::new((*name).into(), values));
    }
    for (c, name) in INT_COLUMNS.iter().enumerate() {
        let values: Vec<Option<i64>> = rows.iter().map(|r| r.ints[c]).collect();
        columns.push(Column::new((*name).into(), values));
    }
    DataFrame::new(rows.len(), columns).expect("columns of equal length and distinct names")
}

// --- The log record, as far as pricing needs it -------------------------------------

/// A text field, borrowed from the read buffer unless it held escapes.
type Text<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    #[serde(borrow)]
    schema_type: Text<'a>,
    #[serde(borrow)]
    schema_version: Text<'a>,
    #[serde(borrow)]
    timestamp: Text<'a>,
    #[serde(borrow)]
    account_id: Text<'a>,
    #[serde(borrow)]
    region: Text<'a>,
    #[serde(borrow)]
    inference_region: Text<'a>,
    #[serde(borrow)]
    request_id: Text<'a>,
    #[serde(borrow)]
    model_id: Text<'a>,
    #[serde(borrow)]
    identity: Option<Identity<'a>>,
    request_metadata: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow)]
    input: Option<Input<'a>>,
    output: Option<Output>,
    #[serde(borrow)]
    error_code: Text<'a>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Identity<'a> {
    #[serde(borrow)]
    arn: Text<'a>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Input<'a> {
    input_token_count: Option<i64>,
    cache_read_input_token_count: Option<i64>,
    cache_write_input_token_count: Option<i64>,
    #[serde(borrow)]
    input_body_json: Option<Body<'a>>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Output {
    output_token_count: Option<i64>,
}

/// The request body fields that change a price; everything else is skipped unread.
#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    service_tier: Option<TierValue>,
    #[serde(rename = "service_tier")]
    service_tier_snake: Option<TierValue>,
    #[serde(borrow)]
    performance_config: Option<PerformanceConfig<'a>>,
    #[serde(borrow)]
    image_generation_config: Option<ImageGenerationConfig<'a>>,
    samples: Option<i64>,
    steps: Option<i64>,
    width: Option<i64>,
    height: Option<i64>,
}

/// `"priority"` or `{"type": "priority"}`.
#[derive(Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum TierValue {
    Name(String),
    Object {
        #[serde(rename = "type")]
        kind: String,
    },
}

#[derive(Deserialize, Debug, PartialEq)]
struct PerformanceConfig<'a> {
    #[serde(borrow)]
    latency: Text<'a>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ImageGenerationConfig<'a> {
    number_of_images: Option<i64>,
    width: Option<i64>,
    height: Option<i64>,
    #[serde(borrow)]
    quality: Text<'a>,
}

type Refusal = (Reason, String, Option<String>);

/// Image model families and how their requests say what they generate.
enum ImageFamily {
    /// Titan Image Generator, Nova Canvas: `imageGenerationConfig`.
    TitanLike,
    /// SDXL: `samples`, `steps` (> 50 is premium), `width`, `height`.
    Sdxl,
    /// SD3.5 Large, Stable Image Core/Ultra: one image per request.
    OnePerRequest,
}

fn image_family(model_id: &str) -> Option<ImageFamily> {
    if model_id.contains("titan-image-generator") || model_id.contains("nova-canvas") {
        Some(ImageFamily::TitanLike)
    } else if model_id.contains("stable-diffusion-xl") {
        Some(ImageFamily::Sdxl)
    } else if model_id.contains("stability.sd3") || model_id.contains("stability.stable-image") {
        Some(ImageFamily::OnePerRequest)
    } else {
        None
    }
}

/// Default image size when a request does not say (the models' documented default).
const DEFAULT_SIDE: i64 = 1024;

impl<'a> Record<'a> {
    fn into_row(self, line: i64) -> Result<Row<'a>, Refusal> {
        let request_id = self.request_id.as_deref().map(str::to_owned);
        let refuse = |reason, message: String| (reason, message, request_id.clone());
        match self.schema_type.as_deref() {
            Some("ModelInvocationLog") => {}
            other => {
                let found = other.map_or("missing".to_string(), |t| format!("\"{t}\""));
                return Err(refuse(
                    Reason::UnsupportedSchema,
                    format!("schemaType is {found}, not \"ModelInvocationLog\""),
                ));
            }
        }
        let version = self.schema_version.as_deref().unwrap_or("");
        if version.split('.').next() != Some(SCHEMA_MAJOR) {
            return Err(refuse(
                Reason::UnsupportedSchema,
                format!("schemaVersion \"{version}\" is not 1.x"),
            ));
        }
        let (input, output) = (self.input, self.output);
        let body = input.as_ref().and_then(|i| i.input_body_json.as_ref());
        let model = self.model_id.clone().unwrap_or_default();
        let mut ints = [None; 7];
        ints[0] = input.as_ref().and_then(|i| i.input_token_count);
        ints[1] = output.as_ref().and_then(|o| o.output_token_count);
        ints[2] = input.as_ref().and_then(|i| i.cache_read_input_token_count);
        ints[3] = input.as_ref().and_then(|i| i.cache_write_input_token_count);
        let mut quality = None;
        if let Some(family) = image_family(&model).filter(|_| self.error_code.is_none()) {
            let body = body.ok_or_else(|| {
                refuse(Reason::MissingBody, format!("image request to {model} has no request body (large bodies go to data/): its images cannot be counted"))
            })?;
            let (images, width, height, q) = images_of(&family, body);
            (ints[4], ints[5], ints[6], quality) =
                (Some(images), Some(width), Some(height), Some(Cow::Owned(q)));
        }
        let tags = self
            .request_metadata
            .filter(|m| !m.is_empty())
            .map(|m| Cow::Owned(serde_json::to_string(&m).unwrap_or_default()));
        let text = [
            self.inference_region,
            self.error_code,
            self.region,
            self.model_id,
            Some(Cow::Borrowed("on_demand")),
            body.and_then(service_tier),
            self.request_id,
            self.account_id,
            self.identity.and_then(|i| i.arn),
            quality,
            tags,
            self.timestamp,
        ];
        Ok(Row { line, text, ints })
    }
}

/// (images, width, height, quality) of an image request.
fn images_of(family: &ImageFamily, body: &Body<'_>) -> (i64, i64, i64, String) {
    match family {
        ImageFamily::TitanLike => {
            let c = body.image_generation_config.as_ref();
            (
                c.and_then(|c| c.number_of_images).unwrap_or(1),
                c.and_then(|c| c.width).unwrap_or(DEFAULT_SIDE),
                c.and_then(|c| c.height).unwrap_or(DEFAULT_SIDE),
                c.and_then(|c| c.quality.as_deref())
                    .unwrap_or("standard")
                    .to_string(),
            )
        }
        ImageFamily::Sdxl => (
            body.samples.unwrap_or(1),
            body.width.unwrap_or(DEFAULT_SIDE),
            body.height.unwrap_or(DEFAULT_SIDE),
            if body.steps.unwrap_or(30) > 50 {
                "premium"
            } else {
                "standard"
            }
            .into(),
        ),
        ImageFamily::OnePerRequest => (1, DEFAULT_SIDE, DEFAULT_SIDE, "standard".into()),
    }
}

/// The tier the request asked for: `serviceTier`/`service_tier`, or latency-optimized.
fn service_tier<'a>(body: &Body<'_>) -> Text<'a> {
    let named = body
        .service_tier
        .as_ref()
        .or(body.service_tier_snake.as_ref())
        .map(|t| match t {
            TierValue::Name(n) => n.clone(),
            TierValue::Object { kind } => kind.clone(),
        });
    let optimized = body
        .performance_config
        .as_ref()
        .and_then(|p| p.latency.as_deref())
        == Some("optimized");
    match named.as_deref() {
        None | Some("default" | "standard") if optimized => Some("latency_optimized".into()),
        _ => named.map(Cow::Owned),
    }
}

mod scan;

#[cfg(test)]
mod tests;
