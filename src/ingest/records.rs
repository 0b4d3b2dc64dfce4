//! Small record tables (capacity, imported models, customization jobs): read whole,
//! every value as text, so each flag's rules can validate and reject row by row.
//!
//! These tables hold one row per resource or job, not per request: thousands of rows,
//! not millions, so they are read into memory rather than streamed.

use super::InputKind;
use crate::error::{Error, Result};
use polars::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A table read from a CSV, CSV.gz or Parquet file; values trimmed, empty = missing.
pub struct RecordTable {
    pub path: PathBuf,
    pub bytes: u64,
    index: HashMap<String, usize>,
    rows: Vec<Vec<String>>,
}

/// One data row: its 1-based number and its values by column name.
pub struct Record<'t> {
    pub row: i64,
    table: &'t RecordTable,
    values: &'t [String],
}

impl<'t> Record<'t> {
    /// The value of `column`, `""` when missing or the column is optional and absent.
    pub fn get(&self, column: &str) -> &'t str {
        self.table
            .index
            .get(column)
            .and_then(|&i| self.values.get(i))
            .map_or("", String::as_str)
    }
}

impl RecordTable {
    /// Reads `path`; a missing required column is fatal, naming the columns found.
    pub fn read(path: &Path, required: &[&str]) -> Result<RecordTable> {
        let (names, rows, bytes) = match InputKind::of(path) {
            Some(InputKind::Parquet) => read_parquet(path)?,
            Some(InputKind::Csv) | Some(InputKind::CsvGz) => read_csv(path)?,
            _ => {
                return Err(Error::input_msg(
                    path,
                    "expected a .csv, .csv.gz or .parquet file",
                ));
            }
        };
        let index: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.trim().to_string(), i))
            .collect();
        if let Some(missing) = required.iter().find(|c| !index.contains_key(**c)) {
            return Err(Error::MissingColumn {
                path: path.to_path_buf(),
                column: missing.to_string(),
                found: names.join(", "),
            });
        }
        Ok(RecordTable {
            path: path.to_path_buf(),
            bytes,
            index,
            rows,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.rows.iter().enumerate().map(|(i, values)| Record {
            row: i as i64 + 1,
            table: self,
            values,
        })
    }
}

/// Column names, rows as text, and the size of the file or object as stored.
type Read3 = (Vec<String>, Vec<Vec<String>>, u64);

/// The table's bytes and their size as stored: a local file, or an `s3://` object
/// read whole (these tables are small).
fn open(path: &Path) -> Result<(Box<dyn Read>, u64)> {
    if super::s3::is_s3(path) {
        let bytes = super::s3::fetch(&path.to_string_lossy())?;
        let len = bytes.len() as u64;
        return Ok((Box::new(std::io::Cursor::new(bytes)), len));
    }
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    let len = file.metadata().map_or(0, |m| m.len());
    Ok((Box::new(file), len))
}

fn read_csv(path: &Path) -> Result<Read3> {
    let (file, bytes) = open(path)?;
    let source: Box<dyn Read> = match super::gunzipped(std::io::BufReader::new(file)) {
        Ok(gz) => Box::new(gz),
        Err(plain) => Box::new(plain),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(source);
    let names = reader
        .headers()
        .map_err(|e| Error::input(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            r.map(|r| r.iter().map(|v| v.trim().to_string()).collect())
                .map_err(|e| Error::input(path, e))
        })
        .collect::<Result<_>>()?;
    Ok((names, rows, bytes))
}

fn read_parquet(path: &Path) -> Result<Read3> {
    let mut bytes = Vec::new();
    let (mut file, size) = open(path)?;
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::input(path, e))?;
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| Error::input(path, e))?;
    let names = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let columns = df
        .columns()
        .iter()
        .map(|c| as_text(c).map_err(|e| Error::input(path, e)))
        .collect::<Result<Vec<_>>>()?;
    let rows = (0..df.height())
        .map(|i| columns.iter().map(|c| c[i].clone()).collect())
        .collect();
    Ok((names, rows, size))
}

/// A column as text: instants in RFC 3339 (UTC), integers and strings as written.
fn as_text(c: &Column) -> PolarsResult<Vec<String>> {
    if let DataType::Datetime(unit, _) = c.dtype() {
        // An instant RFC 3339 cannot write stays as written, so the record's
        // validation rejects it instead of reading the epoch.
        let text = |v: i64| match crate::vocab::rows::typed_micros(v, *unit) {
            Some(micros) => crate::time::format_instant(micros),
            None => format!("{v} {unit} after the epoch"),
        };
        let ca = c.datetime()?;
        return Ok(ca
            .physical()
            .iter()
            .map(|v| v.map_or(String::new(), text))
            .collect());
    }
    let text = c.cast(&DataType::String)?;
    Ok(text
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").trim().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_instants_rfc_3339_cannot_write_stay_as_written() {
        // Before: milliseconds times 1000 wrapped and printed as the epoch, which a
        // capacity record's validation then read as 1970.
        let ms = Int64Chunked::from_vec("t".into(), vec![1_761_984_000_000, 9_300_000_000_000_000])
            .into_datetime(TimeUnit::Milliseconds, None);
        let text = as_text(&Column::from(ms.into_series())).unwrap();
        assert_eq!(text[0], "2025-11-01T08:00:00Z");
        assert_eq!(text[1], "9300000000000000 ms after the epoch");
        assert!(crate::time::parse_instant(&text[1]).is_none());
    }
}
