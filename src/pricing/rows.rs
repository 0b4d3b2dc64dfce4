//! Typed, row-addressable views of one batch of canonical usage columns.
//!
//! The ingest plan has already normalised dtypes (strings as String, counts as Int64
//! or String, the timestamp as Datetime, Date or String); this module turns a batch
//! into plain vectors so the rating kernel can walk rows without dtype dispatch.

use crate::time::{MICROS_PER_DAY, parse_instant};
use polars::prelude::*;

/// Row-number column added by ingest (1-based data row in its file).
pub const ROW_COLUMN: &str = "__row";
/// Meter columns, in `UsageType` order of the token and image meters.
pub const METER_COLUMNS: [&str; 5] = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "images",
];
/// Text columns of the canonical table.
pub const TEXT_COLUMNS: [&str; 12] = [
    "inference_region",
    "error_code",
    "region",
    "model_id",
    "mode",
    "service_tier",
    "request_id",
    "account_id",
    "principal",
    "image_quality",
    "tags",
    "timestamp",
];
/// Integer columns of the canonical table.
pub const INT_COLUMNS: [&str; 7] = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "images",
    "image_width",
    "image_height",
];

/// A count column as logged: native integers or text to be parsed.
pub enum Counts<'a> {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
}

impl Counts<'_> {
    /// The count at row `i`: missing is 0; anything but a non-negative integer is an
    /// error carrying the value as written.
    pub fn get(&self, i: usize) -> Result<u64, String> {
        match self {
            Counts::Int(v) => match v[i] {
                None => Ok(0),
                Some(n) => u64::try_from(n).map_err(|_| n.to_string()),
            },
            Counts::Text(v) => match v[i].map(str::trim) {
                None | Some("") => Ok(0),
                Some(s) => parse_count(s).ok_or_else(|| s.to_string()),
            },
        }
    }
}

/// Digits only, at most `i64::MAX` (reports store counts as Int64); a trailing `.0`
/// (how float exports write whole numbers) is accepted.
fn parse_count(s: &str) -> Option<u64> {
    let digits = match s.split_once('.') {
        Some((whole, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => whole,
        Some(_) => return None,
        None => s,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok().map(|n| n as u64)
}

/// The timestamp column: instants already typed, or RFC 3339 text.
pub enum Instants<'a> {
    Micros(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
}

/// What is wrong with a row's timestamp.
pub enum BadInstant {
    Missing,
    Unparsable(String),
}

impl Instants<'_> {
    pub fn get(&self, i: usize) -> Result<i64, BadInstant> {
        match self {
            Instants::Micros(v) => v[i].ok_or(BadInstant::Missing),
            Instants::Text(v) => match v[i].map(str::trim) {
                None | Some("") => Err(BadInstant::Missing),
                Some(s) => parse_instant(s).ok_or_else(|| BadInstant::Unparsable(s.to_string())),
            },
        }
    }
}

/// One batch of canonical usage rows.
pub struct UsageColumns<'a> {
    pub len: usize,
    pub row: Vec<Option<i64>>,
    pub timestamp: Instants<'a>,
    pub region: Vec<Option<&'a str>>,
    pub model_id: Vec<Option<&'a str>>,
    pub mode: Vec<Option<&'a str>>,
    pub service_tier: Vec<Option<&'a str>>,
    pub request_id: Vec<Option<&'a str>>,
    pub account_id: Vec<Option<&'a str>>,
    pub principal: Vec<Option<&'a str>>,
    pub image_quality: Vec<Option<&'a str>>,
    pub tags: Vec<Option<&'a str>>,
    pub inference_region: Vec<Option<&'a str>>,
    pub error_code: Vec<Option<&'a str>>,
    pub meters: [Counts<'a>; 5],
    pub image_width: Counts<'a>,
    pub image_height: Counts<'a>,
}

impl<'a> UsageColumns<'a> {
    /// Column vectors are built in parallel (this runs once per batch, before the
    /// parallel rating, so it would otherwise be a sequential stretch).
    pub fn from_frame(df: &'a DataFrame) -> PolarsResult<UsageColumns<'a>> {
        use rayon::prelude::*;
        let text = |name: &str| -> PolarsResult<Vec<Option<&'a str>>> {
            Ok(df.column(name)?.str()?.iter().collect())
        };
        let counts = |name: &str| -> PolarsResult<Counts<'a>> {
            let c = df.column(name)?;
            Ok(match c.dtype() {
                DataType::String => Counts::Text(c.str()?.iter().collect()),
                _ => Counts::Int(c.i64()?.iter().collect()),
            })
        };
        // Every text column but the timestamp (the last), in TEXT_COLUMNS order.
        let names = &TEXT_COLUMNS[..TEXT_COLUMNS.len() - 1];
        let (texts, (ints, (row, timestamp))) = rayon::join(
            || {
                names
                    .par_iter()
                    .map(|n| text(n))
                    .collect::<PolarsResult<Vec<_>>>()
            },
            || {
                rayon::join(
                    || {
                        INT_COLUMNS
                            .par_iter()
                            .map(|n| counts(n))
                            .collect::<PolarsResult<Vec<_>>>()
                    },
                    || {
                        rayon::join(
                            || -> PolarsResult<Vec<Option<i64>>> {
                                Ok(df.column(ROW_COLUMN)?.i64()?.iter().collect())
                            },
                            || instants(df.column("timestamp")?),
                        )
                    },
                )
            },
        );
        let mut texts: std::collections::HashMap<&str, Vec<Option<&'a str>>> =
            names.iter().copied().zip(texts?).collect();
        let mut take = |name: &str| texts.remove(name).unwrap_or_default();
        let mut ints = ints?.into_iter();
        let mut next_count = || ints.next().unwrap_or(Counts::Int(Vec::new()));
        Ok(UsageColumns {
            len: df.height(),
            row: row?,
            timestamp: timestamp?,
            region: take("region"),
            model_id: take("model_id"),
            mode: take("mode"),
            service_tier: take("service_tier"),
            request_id: take("request_id"),
            account_id: take("account_id"),
            principal: take("principal"),
            image_quality: take("image_quality"),
            tags: take("tags"),
            inference_region: take("inference_region"),
            error_code: take("error_code"),
            meters: [
                next_count(),
                next_count(),
                next_count(),
                next_count(),
                next_count(),
            ],
            image_width: next_count(),
            image_height: next_count(),
        })
    }
}

fn instants(c: &Column) -> PolarsResult<Instants<'_>> {
    Ok(match c.dtype() {
        DataType::Datetime(unit, _) => {
            let ca = c.datetime()?;
            let to_micros = |v: i64| match unit {
                TimeUnit::Nanoseconds => v.div_euclid(1000),
                TimeUnit::Microseconds => v,
                TimeUnit::Milliseconds => v * 1000,
            };
            Instants::Micros(ca.physical().iter().map(|v| v.map(to_micros)).collect())
        }
        DataType::Date => {
            let days = c.date()?.physical().iter();
            Instants::Micros(
                days.map(|d| d.map(|d| i64::from(d) * MICROS_PER_DAY))
                    .collect(),
            )
        }
        _ => Instants::Text(c.str()?.iter().collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accept_integers_only() {
        assert_eq!(parse_count("42"), Some(42));
        assert_eq!(parse_count("42.0"), Some(42));
        assert_eq!(parse_count("42.5"), None);
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count("1e3"), None);
        assert_eq!(parse_count("."), None);
        assert_eq!(parse_count("42."), None);
        assert_eq!(parse_count("9223372036854775807"), Some(i64::MAX as u64));
        assert_eq!(parse_count("9223372036854775808"), None, "beyond Int64");
    }

    #[test]
    fn missing_counts_are_zero_and_negatives_are_errors() {
        let c = Counts::Int(vec![None, Some(5), Some(-3)]);
        assert_eq!(c.get(0), Ok(0));
        assert_eq!(c.get(1), Ok(5));
        assert_eq!(c.get(2), Err("-3".to_string()));
        let t = Counts::Text(vec![Some(" "), Some("abc")]);
        assert_eq!(t.get(0), Ok(0));
        assert_eq!(t.get(1), Err("abc".to_string()));
    }
}
