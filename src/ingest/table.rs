//! Canonical usage tables (CSV, gzipped CSV, Parquet) read in bounded batches.
//!
//! billrun drives the read loop itself so memory holds a few batches, never a file:
//! Parquet is read a few row groups at a time with polars' reader (projected to the
//! canonical columns, file metadata read once); CSV is cut at record boundaries
//! (quote-aware) and each chunk is parsed by polars' CSV reader, all columns as text;
//! gzip streams through `MultiGzDecoder` (every member). A reader thread hands
//! normalised batches (see `ingest::read_batches`).

use super::{Batch, InputFile, Unreadable};
use crate::error::{Error, Result};
use crate::pricing::reasons::Reason;
use crate::pricing::rows::{INT_COLUMNS, ROW_COLUMN, TEXT_COLUMNS};
use polars::prelude::*;
use std::fs::File;
use std::io::{Cursor, Read};
use std::ops::Range;

/// Columns a usage table must have.
pub const REQUIRED: [&str; 3] = ["timestamp", "region", "model_id"];

fn check_required(file: &InputFile, names: &[String]) -> Result<()> {
    match REQUIRED.iter().find(|c| !names.iter().any(|n| n == *c)) {
        None => Ok(()),
        Some(column) => Err(Error::MissingColumn {
            path: file.path.clone(),
            column: column.to_string(),
            found: names.join(", "),
        }),
    }
}

/// Projects one raw batch to the canonical columns with normalised dtypes: text as
/// String; counts as Int64 when stored as integers, else String; the timestamp kept
/// when typed (Datetime, Date), else String; absent optional columns as nulls.
fn canonical(mut df: DataFrame, rows: Vec<i64>) -> PolarsResult<DataFrame> {
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

/// The `request_id` column as text (all nulls when the file has none), `rows` long.
fn ids_frame(df: DataFrame, rows: usize) -> PolarsResult<DataFrame> {
    let ids = match df.column("request_id") {
        Ok(c) => c.cast(&DataType::String)?,
        Err(_) => Column::full_null("request_id".into(), rows, &DataType::String),
    };
    DataFrame::new(rows, vec![ids])
}

pub(super) fn parquet_batches(
    file: &InputFile,
    batch_rows: usize,
    projection: super::Projection,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> Result<()> {
    let err = |e: PolarsError| Error::input(&file.path, e);
    let open = || File::open(&file.path).map_err(|e| Error::input(&file.path, e));
    let mut reader = ParquetReader::new(open()?);
    let names: Vec<String> = reader
        .schema()
        .map_err(err)?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    check_required(file, &names)?;
    let metadata = reader.get_metadata().map_err(err)?.clone();
    let ids_only = projection == super::Projection::RequestIds;
    let wanted: Vec<String> = names
        .iter()
        .filter(|n| match ids_only {
            true => n.as_str() == "request_id",
            false => TEXT_COLUMNS.contains(&n.as_str()) || INT_COLUMNS.contains(&n.as_str()),
        })
        .cloned()
        .collect();
    let mut start = 0usize;
    for range in row_group_ranges(
        metadata.row_groups.iter().map(|rg| rg.num_rows()),
        batch_rows,
    ) {
        let mut reader = ParquetReader::new(open()?)
            .with_columns(Some(wanted.clone()))
            .with_slice(Some((range.0, range.1)));
        reader.set_metadata(metadata.clone());
        let rows = (start as i64 + 1..=(start + range.1) as i64).collect();
        let raw = reader.finish().map_err(err)?;
        let frame = match ids_only {
            true => ids_frame(raw, range.1).map_err(err)?,
            false => canonical(raw, rows).map_err(err)?,
        };
        start += range.1;
        if !emit(Batch {
            frame,
            unreadable: Vec::new(),
        }) {
            break;
        }
    }
    Ok(())
}

/// Consecutive row groups gathered into (offset, rows) ranges of at least `batch_rows`.
fn row_group_ranges(
    row_groups: impl Iterator<Item = usize>,
    batch_rows: usize,
) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let (mut offset, mut len) = (0, 0);
    for rows in row_groups {
        len += rows;
        if len >= batch_rows {
            ranges.push((offset, len));
            offset += len;
            len = 0;
        }
    }
    if len > 0 {
        ranges.push((offset, len));
    }
    ranges
}

pub(super) fn csv_batches(
    file: &InputFile,
    mut input: impl Read,
    batch_rows: usize,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> Result<()> {
    let io = |e: std::io::Error| Error::input(&file.path, e);
    let mut chunker = RecordChunker::default();
    let header = match chunker.next_chunk(&mut input, 1).map_err(io)? {
        Some(h) => h,
        None => return check_required(file, &[]),
    };
    let names = header_names(&header.bytes).map_err(|e| Error::input(&file.path, e))?;
    check_required(file, &names)?;
    let schema: SchemaRef = Arc::new(
        names
            .iter()
            .map(|n| Field::new(n.as_str().into(), DataType::String))
            .collect(),
    );
    let mut next_row = 1i64;
    while let Some(chunk) = chunker.next_chunk(&mut input, batch_rows).map_err(io)? {
        let (chunk, rows, unreadable) = split_ragged(chunk, names.len(), &mut next_row);
        let raw = CsvReadOptions::default()
            .with_has_header(false)
            .with_schema(Some(schema.clone()))
            .into_reader_with_file_handle(Cursor::new(chunk))
            .finish()
            .map_err(|e| {
                Error::input(
                    &file.path,
                    format!("rows from {}: {e}", rows.first().unwrap_or(&next_row)),
                )
            })?;
        if raw.height() != rows.len() {
            let msg = format!(
                "parsed {} rows where {} records were cut",
                raw.height(),
                rows.len()
            );
            return Err(Error::input(&file.path, msg));
        }
        let frame = canonical(raw, rows).map_err(|e| Error::input(&file.path, e))?;
        if !emit(Batch { frame, unreadable }) {
            break;
        }
    }
    Ok(())
}

/// Numbers the records of a chunk and sets aside those whose field count differs from
/// the header's (they cannot be parsed as a table row). Blank records are skipped.
fn split_ragged(
    chunk: Chunk,
    fields: usize,
    next_row: &mut i64,
) -> (Vec<u8>, Vec<i64>, Vec<Unreadable>) {
    let Chunk {
        bytes: chunk,
        records,
    } = chunk;
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    let mut kept: Vec<Range<usize>> = Vec::new();
    for (range, count) in records {
        if chunk[range.clone()].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if count == fields {
            rows.push(*next_row);
            kept.push(range);
        } else {
            let message = format!("{count} fields where the header has {fields}");
            unreadable.push(Unreadable::new(*next_row, Reason::BadRow, message));
        }
        *next_row += 1;
    }
    if unreadable.is_empty() {
        return (chunk, rows, unreadable);
    }
    let filtered = kept.into_iter().flat_map(|r| chunk[r].to_vec()).collect();
    (filtered, rows, unreadable)
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

/// Whole records cut from a CSV stream: the bytes, and each record's byte range (with
/// its line end) and field count.
struct Chunk {
    bytes: Vec<u8>,
    records: Vec<(Range<usize>, usize)>,
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
                            }));
                        }
                    }
                    _ => {}
                }
            }
            scanned = self.carry.len();
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
    fn ragged_records_are_set_aside_with_their_row_numbers() {
        let mut input: &[u8] = b"a,b,c\n\n1,2\n\"x,y\",2,3\r\n4,5,6,7\n8,9,10";
        let chunk = RecordChunker::default()
            .next_chunk(&mut input, 100)
            .unwrap()
            .unwrap();
        let mut next = 1;
        let (kept, rows, bad) = split_ragged(chunk, 3, &mut next);
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

    #[test]
    fn row_groups_are_gathered_to_at_least_a_batch() {
        assert_eq!(
            row_group_ranges([10, 10, 10].into_iter(), 15),
            [(0, 20), (20, 10)]
        );
        assert_eq!(row_group_ranges([100].into_iter(), 15), [(0, 100)]);
        assert!(row_group_ranges(std::iter::empty(), 15).is_empty());
    }
}
