//! Canonical usage tables (CSV, gzipped CSV, Parquet) read in bounded batches.
//!
//! billrun drives the read loop itself so memory holds a few batches, never a file:
//! Parquet is read by `ingest::parquet` (this module normalises its batches); CSV is
//! cut at record boundaries
//! (quote-aware) and each chunk is parsed by polars' CSV reader, all columns as text;
//! gzip streams through `MultiGzDecoder` (every member). A reader thread hands
//! normalised batches (see `ingest::read_batches`).

use super::{Batch, InputFile, Unreadable};
use crate::error::{Error, Locus, Result};
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{INT_COLUMNS, ROW_COLUMN, TEXT_COLUMNS};
use polars::prelude::*;
use std::io::{Cursor, Read};
use std::ops::Range;

/// Columns a usage table must have.
pub const REQUIRED: [&str; 3] = ["timestamp", "region", "model_id"];

pub(super) fn check_required(file: &InputFile, names: &[String]) -> Result<()> {
    match REQUIRED.iter().find(|c| !names.iter().any(|n| n == *c)) {
        None => Ok(()),
        Some(column) => Err(Error::MissingColumn {
            path: file.path.clone(),
            column: column.to_string(),
            found: crate::error::clip(&names.join(", ")),
        }),
    }
}

/// A Parquet column type the canonical table cannot hold (nested, durations,
/// times, decimals wider than 38 digits) is named with the fix, before any
/// row is read.
pub(super) fn check_types(file: &InputFile, schema: &ArrowSchema) -> Result<()> {
    for (name, field) in schema.iter() {
        let dtype = &DataType::from_arrow_field(field);
        let counts = INT_COLUMNS.contains(&name.as_str());
        let text = TEXT_COLUMNS.contains(&name.as_str());
        if !(counts || text) || readable_type(dtype) {
            continue;
        }
        let want = match name.as_str() {
            "timestamp" => "a timestamp, date or RFC 3339 string",
            _ if counts => "an integer (int64) or a string",
            _ => "a string",
        };
        return Err(Error::input_msg(
            &file.path,
            format!(
                "column \"{name}\" has type {dtype}, which billrun cannot read; write it as {want}"
            ),
        ));
    }
    Ok(())
}

fn readable_type(dtype: &DataType) -> bool {
    match dtype {
        DataType::String | DataType::Binary | DataType::Boolean | DataType::Null => true,
        DataType::Date | DataType::Datetime(_, _) => true,
        DataType::Decimal(precision, _) => *precision <= 38,
        d => d.is_integer() || d.is_float() || d.is_categorical() || d.is_enum(),
    }
}

/// Projects one raw batch to the canonical columns with normalised dtypes: text as
/// String; counts as Int64 when stored as integers, else String; the timestamp kept
/// when typed (Datetime, Date), else String; absent optional columns as nulls.
fn canonical(df: DataFrame, rows: Vec<i64>) -> PolarsResult<DataFrame> {
    // Column by column, not a lazy select: a select runs on polars' thread pool,
    // whose idle workers then spin against the rating threads on every batch.
    let height = df.height();
    let mut columns = Vec::with_capacity(1 + TEXT_COLUMNS.len() + INT_COLUMNS.len());
    columns.push(Column::new(ROW_COLUMN.into(), rows));
    for name in TEXT_COLUMNS {
        columns.push(match df.column(name).ok() {
            None => Column::full_null(name.into(), height, &DataType::String),
            Some(c) if name == "timestamp" && is_instant(c.dtype()) => c.clone(),
            Some(c) => c.cast(&DataType::String)?,
        });
    }
    for name in INT_COLUMNS {
        columns.push(match df.column(name).ok() {
            None => Column::full_null(name.into(), height, &DataType::Int64),
            Some(c) if c.dtype().is_integer() => c.strict_cast(&DataType::Int64)?,
            Some(c) => c.cast(&DataType::String)?,
        });
    }
    DataFrame::new(height, columns)
}

fn is_instant(dtype: &DataType) -> bool {
    matches!(dtype, DataType::Datetime(_, _) | DataType::Date)
}

/// Rows with a binary cell (of a canonical column) that is not UTF-8 are set aside
/// as `bad_value` rejects naming the column; the rest of the batch is kept.
pub(super) fn set_aside_bad_text(
    df: DataFrame,
    rows: Vec<i64>,
) -> PolarsResult<(DataFrame, Vec<i64>, Vec<Unreadable>)> {
    let mut bad: Vec<Option<String>> = vec![None; df.height()];
    for name in TEXT_COLUMNS.iter().chain(&INT_COLUMNS) {
        let Ok(c) = df.column(name) else { continue };
        if c.dtype() != &DataType::Binary {
            continue;
        }
        for (i, v) in c.binary()?.iter().enumerate() {
            let Some(Err(e)) = v.map(std::str::from_utf8) else {
                continue;
            };
            let at = e.valid_up_to();
            let byte = v.map_or(0, |b| b[at]);
            bad[i].get_or_insert_with(|| {
                format!("column \"{name}\": byte 0x{byte:02x} at offset {at} is not UTF-8")
            });
        }
    }
    if bad.iter().all(Option::is_none) {
        return Ok((df, rows, Vec::new()));
    }
    let keep: Vec<bool> = bad.iter().map(Option::is_none).collect();
    let df = df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
    let mut kept = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for (row, why) in rows.into_iter().zip(bad) {
        match why {
            None => kept.push(row),
            Some(message) => unreadable.push(Unreadable::new(row, Reason::BadValue, message)),
        }
    }
    Ok((df, kept, unreadable))
}

/// `canonical`, with a failure naming the column (and its type) that caused it.
pub(super) fn canonical_named(
    df: DataFrame,
    rows: Vec<i64>,
) -> std::result::Result<DataFrame, String> {
    let height = df.height();
    // On the hot path only a cheap clone of the frame (its columns are shared); the
    // search for the failing column happens on failure, one column at a time (row
    // numbers play no part in a cast failing, so placeholders do).
    canonical(df.clone(), rows).map_err(|e| {
        let schema = df.schema().clone();
        let failing = schema.iter().find(|(name, _)| {
            df.select([name.as_str()])
                .and_then(|one| canonical(one, vec![0; height]))
                .is_err()
        });
        match failing {
            Some((name, dtype)) => format!("column \"{name}\" ({dtype}): {e}"),
            None => e.to_string(),
        }
    })
}

/// The `request_id` column as text (all nulls when the file has none), `rows` long.
pub(super) fn ids_frame(df: DataFrame, rows: usize) -> PolarsResult<DataFrame> {
    let ids = match df.column("request_id") {
        // An id that is not UTF-8 is no id: its row is a bad_value reject that
        // claims nothing (set_aside_bad_text), so it is null here too.
        Ok(c) if c.dtype() == &DataType::Binary => {
            let text = c
                .binary()?
                .iter()
                .map(|v| v.and_then(|b| std::str::from_utf8(b).ok()));
            Column::new("request_id".into(), text.collect::<Vec<_>>())
        }
        Ok(c) => c.cast(&DataType::String)?,
        Err(_) => Column::full_null("request_id".into(), rows, &DataType::String),
    };
    DataFrame::new(rows, vec![ids])
}

pub(super) fn csv_batches(
    file: &InputFile,
    input: impl Read,
    batch_rows: usize,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> Result<()> {
    let io = |e: std::io::Error| Error::input(&file.path, e);
    let mut input = LoneCr::new(input);
    let mut chunker = RecordChunker::default();
    let header = loop {
        match chunker.next_chunk(&mut input, 1).map_err(io)? {
            Some(h) if h.bytes.iter().all(u8::is_ascii_whitespace) => continue,
            Some(h) => break h,
            // Fatal like a missing column: an empty export is more likely a failed
            // one than a day without usage.
            None => {
                let msg = "the file is empty: no header row and no usage (an export with no usage still has its header)";
                return Err(Error::input_msg(&file.path, msg));
            }
        }
    };
    let names = header_names(&header.bytes).map_err(|e| Error::input_msg(&file.path, e))?;
    let names: Vec<String> = names.iter().map(|n| crate::error::clip(n)).collect();
    check_required(file, &names)?;
    let schema: SchemaRef = Arc::new(
        names
            .iter()
            .map(|n| Field::new(n.as_str().into(), DataType::String))
            .collect(),
    );
    let mut next_row = 1i64;
    while let Some(chunk) = chunker.next_chunk(&mut input, batch_rows).map_err(io)? {
        let unterminated = chunk.unterminated;
        let (chunk, rows, unreadable) = split_ragged(chunk, &names, &mut next_row);
        if unterminated {
            // Every line after the opening quote is inside it: nothing there can be
            // told apart as a row, so the file is refused rather than half read.
            let last = rows.last().copied().into_iter();
            let row = last.chain(unreadable.iter().map(|u| u.row)).max();
            let at = Locus::Row {
                row: row.unwrap_or(next_row).max(0) as u64,
                column: None,
            };
            let msg = "a quoted field opened in this row does not close (an unbalanced `\"`: the file ends, or 64 MiB pass, inside it), so no row after it can be told apart";
            return Err(Error::input_at(&file.path, at, msg.to_string()));
        }
        // A chunk of blank lines or set-aside records has no rows to parse (polars
        // calls an empty input an error).
        let parsed = match rows.is_empty() {
            true => Ok(DataFrame::empty_with_schema(&schema)),
            false => CsvReadOptions::default()
                .with_has_header(false)
                .with_schema(Some(schema.clone()))
                .into_reader_with_file_handle(Cursor::new(chunk))
                .finish(),
        };
        let raw = parsed.map_err(|e| {
            let first = *rows.first().unwrap_or(&next_row);
            let at = Locus::Row {
                row: first.max(0) as u64,
                column: None,
            };
            let e = crate::error::clip(&e.to_string());
            Error::input_at(&file.path, at, format!("in the rows from here: {e}"))
        })?;
        if raw.height() != rows.len() {
            let msg = format!(
                "parsed {} rows where {} records were cut",
                raw.height(),
                rows.len()
            );
            return Err(Error::input_msg(&file.path, msg));
        }
        let frame = canonical_named(raw, rows).map_err(|e| Error::input_msg(&file.path, e))?;
        if !emit(Batch::new(frame, unreadable)) {
            break;
        }
    }
    Ok(())
}

/// Numbers the records of a chunk and sets aside those that cannot be parsed as a
/// table row: a field count other than the header's, or bytes that are not UTF-8.
/// Blank and whitespace-only records are dropped and not numbered.
fn split_ragged(
    chunk: Chunk,
    names: &[String],
    next_row: &mut i64,
) -> (Vec<u8>, Vec<i64>, Vec<Unreadable>) {
    let Chunk {
        bytes: chunk,
        records,
        ..
    } = chunk;
    let all_utf8 = std::str::from_utf8(&chunk).is_ok();
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    let mut kept: Vec<Range<usize>> = Vec::new();
    let total = records.len();
    for (range, count) in records {
        let record = &chunk[range.clone()];
        if record.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if count != names.len() {
            let message = format!("{count} fields where the header has {}", names.len());
            unreadable.push(Unreadable::new(*next_row, Reason::BadRow, message));
        } else if let Some(message) = (!all_utf8).then(|| not_utf8(record, names)).flatten() {
            unreadable.push(Unreadable::new(*next_row, Reason::BadValue, message));
        } else {
            rows.push(*next_row);
            kept.push(range);
        }
        *next_row += 1;
    }
    if kept.len() == total {
        return (chunk, rows, unreadable);
    }
    let filtered = kept.into_iter().flat_map(|r| chunk[r].to_vec()).collect();
    (filtered, rows, unreadable)
}

/// Where a record is not UTF-8: the column and the byte, or `None` if it is.
fn not_utf8(record: &[u8], names: &[String]) -> Option<String> {
    let at = std::str::from_utf8(record).err()?.valid_up_to();
    let mut in_quotes = false;
    let mut column = 0;
    for b in &record[..at] {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => column += 1,
            _ => {}
        }
    }
    let name = names.get(column).map_or("?", String::as_str);
    Some(format!(
        "column \"{name}\": byte 0x{:02x} at offset {at} of the row is not UTF-8 (save the file as UTF-8)",
        record[at]
    ))
}

fn header_names(header: &[u8]) -> std::result::Result<Vec<String>, String> {
    let header = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(header);
    let record = reader
        .records()
        .next()
        .ok_or("empty header")?
        .map_err(|e| e.to_string())?;
    Ok(record.iter().map(|n| n.trim().to_string()).collect())
}

/// Turns every lone `\r` (one not followed by `\n`: classic Mac line ends) into
/// `\n`, so such files read as lines; `\r\n` passes unchanged. A `\r` at the end of
/// one read is held until the next byte is known.
struct LoneCr<R> {
    inner: R,
    held_cr: bool,
}

impl<R: Read> LoneCr<R> {
    fn new(inner: R) -> LoneCr<R> {
        LoneCr {
            inner,
            held_cr: false,
        }
    }
}

impl<R: Read> Read for LoneCr<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() < 2 {
            return Err(std::io::Error::other(
                "LoneCr reads at least 2 bytes at a time",
            ));
        }
        loop {
            let start = usize::from(self.held_cr);
            if self.held_cr {
                buf[0] = b'\r';
            }
            let n = self.inner.read(&mut buf[start..])?;
            let mut total = start + n;
            self.held_cr = n > 0 && buf[total - 1] == b'\r';
            if self.held_cr {
                total -= 1;
            }
            let mut at = 0;
            while let Some(i) = memchr::memchr(b'\r', &buf[at..total]) {
                let i = at + i;
                // The last byte's successor is the end of input or a held `\r`.
                if i + 1 == total || buf[i + 1] != b'\n' {
                    buf[i] = b'\n';
                }
                at = i + 1;
            }
            if total > 0 || n == 0 {
                return Ok(total);
            }
        }
    }
}

/// Whole records cut from a CSV stream: the bytes, and each record's byte range (with
/// its line end) and field count.
struct Chunk {
    bytes: Vec<u8>,
    records: Vec<(Range<usize>, usize)>,
    /// The input ended inside a quoted field: its last record never closes.
    unterminated: bool,
}

/// Cuts a CSV byte stream into chunks of whole records, counting each record's fields
/// in the same pass. A newline or comma inside a quoted field does not count (RFC 4180:
/// `""` inside quotes toggles twice).
#[derive(Default)]
struct RecordChunker {
    carry: Vec<u8>,
    in_quotes: bool,
    done: bool,
}

impl RecordChunker {
    const READ_SIZE: usize = 1 << 20;
    /// A record still inside quotes after this many bytes is refused as unbalanced
    /// (no usage record comes near it).
    const MAX_QUOTED: usize = 64 << 20;

    /// The next `records` records (fewer at the end of input), or `None` when done.
    fn next_chunk(
        &mut self,
        input: &mut impl Read,
        records: usize,
    ) -> std::io::Result<Option<Chunk>> {
        let mut scanned = 0;
        let mut found = Vec::new();
        let (mut start, mut fields) = (0, 1);
        loop {
            for i in memchr::memchr3_iter(b'"', b',', b'\n', &self.carry[scanned..]) {
                let at = scanned + i;
                match self.carry[at] {
                    b'"' => self.in_quotes = !self.in_quotes,
                    b',' if !self.in_quotes => fields += 1,
                    b'\n' if !self.in_quotes => {
                        found.push((start..at + 1, fields));
                        (start, fields) = (at + 1, 1);
                        if found.len() == records {
                            let rest = self.carry.split_off(at + 1);
                            let bytes = std::mem::replace(&mut self.carry, rest);
                            return Ok(Some(Chunk {
                                bytes,
                                records: found,
                                unterminated: false,
                            }));
                        }
                    }
                    _ => {}
                }
            }
            scanned = self.carry.len();
            if self.in_quotes && scanned - start > Self::MAX_QUOTED {
                // An unbalanced quote would otherwise hold the rest of the file: stop
                // reading, and the open record ends the input unterminated.
                self.done = true;
            }
            if self.done {
                let bytes = std::mem::take(&mut self.carry);
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                if start < bytes.len() {
                    found.push((start..bytes.len(), fields));
                }
                return Ok(Some(Chunk {
                    bytes,
                    records: found,
                    unterminated: self.in_quotes,
                }));
            }
            let mut buf = vec![0; Self::READ_SIZE];
            let n = input.read(&mut buf)?;
            if n == 0 {
                self.done = true;
            }
            self.carry.extend_from_slice(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lazy select `canonical` was before it went column by column.
    fn canonical_by_select(mut df: DataFrame, rows: Vec<i64>) -> PolarsResult<DataFrame> {
        df.with_column(Column::new(ROW_COLUMN.into(), rows))?;
        let schema = df.schema().clone();
        let mut exprs = vec![col(ROW_COLUMN).cast(DataType::Int64)];
        for name in TEXT_COLUMNS {
            exprs.push(match schema.get(name) {
                None => lit(NULL).cast(DataType::String).alias(name),
                Some(DataType::Datetime(_, _) | DataType::Date) if name == "timestamp" => col(name),
                Some(_) => col(name).cast(DataType::String),
            });
        }
        for name in INT_COLUMNS {
            exprs.push(match schema.get(name) {
                None => lit(NULL).cast(DataType::Int64).alias(name),
                Some(dt) if dt.is_integer() => col(name).strict_cast(DataType::Int64),
                Some(_) => col(name).cast(DataType::String),
            });
        }
        df.lazy().select(exprs).collect()
    }

    #[test]
    fn canonical_columns_are_those_of_the_select_for_every_readable_type() {
        let n = || Option::<i64>::None;
        let frames = [
            df!(
                "timestamp" => [Some(1_700_000_000_000i64), None, Some(0)],
                "region" => [Some("us-east-1"), None, Some(" eu-west-1 ")],
                "model_id" => [b"a".as_slice(), b"b", b""],
                "input_tokens" => [Some(1i32), None, Some(-3)],
                "output_tokens" => [Some(1.5f64), None, Some(2.0)],
                "images" => [Some(1u32), Some(0), None],
                "tags" => [Some(true), None, Some(false)],
                "cache_read_tokens" => [n(), n(), n()],
            )
            .unwrap(),
            df!(
                "timestamp" => ["2026-01-01T00:00:00Z", "", "x"],
                "region" => [1i64, 2, 3],
                "model_id" => ["m", "m", "m"],
                "images" => [Some(u64::MAX >> 1), None, Some(7)],
            )
            .unwrap(),
        ];
        let datetime = |df: DataFrame| {
            let unit = DataType::Datetime(TimeUnit::Milliseconds, None);
            let ts = df.column("timestamp").unwrap().cast(&unit).unwrap();
            df.clone().with_column(ts).unwrap().clone()
        };
        let dated = |df: DataFrame| {
            let ts = df
                .column("timestamp")
                .unwrap()
                .cast(&DataType::Date)
                .unwrap();
            df.clone().with_column(ts).unwrap().clone()
        };
        let first = frames[0].clone();
        let all = [
            frames[0].clone(),
            frames[1].clone(),
            datetime(first.clone()),
            dated(first),
        ];
        for df in all {
            let rows: Vec<i64> = (1..=df.height() as i64).collect();
            let want = canonical_by_select(df.clone(), rows.clone()).unwrap();
            let got = canonical(df.clone(), rows).unwrap();
            assert!(got.equals_missing(&want), "{df}\n{got}\n{want}");
            assert_eq!(got.schema(), want.schema());
        }
        let huge = df!("input_tokens" => [1u64, u64::MAX]).unwrap();
        assert!(canonical(huge.clone(), vec![1, 2]).is_err());
        assert!(canonical_by_select(huge, vec![1, 2]).is_err());
    }

    fn chunks(text: &str, records: usize) -> Vec<String> {
        let mut c = RecordChunker::default();
        let mut input = text.as_bytes();
        std::iter::from_fn(|| c.next_chunk(&mut input, records).unwrap())
            .map(|c| String::from_utf8(c.bytes).unwrap())
            .collect()
    }

    #[test]
    fn chunks_end_on_record_boundaries_outside_quotes() {
        let text = "a,b\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\"\n3,z";
        assert_eq!(
            chunks(text, 2),
            ["a,b\n1,\"x\ny\"\n", "2,\"say \"\"hi\"\"\"\n3,z"]
        );
        assert_eq!(chunks(text, 1).len(), 4);
        assert_eq!(chunks("a\n\n", 5), ["a\n\n"]);
        assert!(chunks("", 5).is_empty());
    }

    #[test]
    fn input_ending_inside_quotes_is_flagged_and_balanced_input_is_not() {
        let next = |text: &[u8]| {
            let mut input = text;
            let c = RecordChunker::default().next_chunk(&mut input, 100);
            c.unwrap().unwrap().unterminated
        };
        assert!(next(b"a,b\n1,\"x\n2,y\n"));
        assert!(!next(b"a,b\n1,\"x\n2\",y\n"));
        assert!(!next(b"a,b\n1,\"say \"\"hi\"\"\"\n"));
    }

    #[test]
    fn ragged_records_are_set_aside_with_their_row_numbers() {
        let mut input: &[u8] = b"a,b,c\n\n1,2\n\"x,y\",2,3\r\n4,5,6,7\n8,9,10";
        let chunk = RecordChunker::default()
            .next_chunk(&mut input, 100)
            .unwrap()
            .unwrap();
        let mut next = 1;
        let names = ["a", "b", "c"].map(String::from);
        let (kept, rows, bad) = split_ragged(chunk, &names, &mut next);
        assert_eq!(
            String::from_utf8(kept).unwrap(),
            "a,b,c\n\"x,y\",2,3\r\n8,9,10"
        );
        assert_eq!(rows, [1, 3, 5]);
        let bad: Vec<_> = bad.iter().map(|u| (u.row, u.message.as_str())).collect();
        assert_eq!(
            bad,
            [
                (2, "2 fields where the header has 3"),
                (4, "4 fields where the header has 3")
            ]
        );
        assert_eq!(next, 6);
    }

    /// Reads through `LoneCr` with reads of `size` bytes from the inner reader.
    fn without_lone_cr(text: &[u8], size: usize) -> Vec<u8> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        let mut reader = LoneCr::new(Trickle(text, size));
        let mut buf = [0u8; 3];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn lone_carriage_returns_become_line_ends_and_crlf_stays() {
        for size in [1, 2, 3, 7] {
            assert_eq!(without_lone_cr(b"a,b\r1,2\r", size), b"a,b\n1,2\n");
            assert_eq!(
                without_lone_cr(b"a\r\nb\r\r\nc\r", size),
                b"a\r\nb\n\r\nc\n"
            );
            assert_eq!(without_lone_cr(b"\r\r", size), b"\n\n");
            assert_eq!(without_lone_cr(b"", size), b"");
        }
    }
}
