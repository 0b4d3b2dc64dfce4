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

/// The Arrow arrays behind a text and an integer column.
type TextArray = <StringType as PolarsDataType>::Array;
type IntArray = <Int64Type as PolarsDataType>::Array;

/// A text column of one batch. A single Arrow chunk is read in place, row by row as
/// the rating asks (most batches: nothing is copied); anything else is collected.
pub enum Texts<'a> {
    Array(&'a TextArray),
    Owned(Vec<Option<&'a str>>),
}

impl<'a> Texts<'a> {
    pub fn of(c: &'a Column) -> PolarsResult<Texts<'a>> {
        let ca = c.str()?;
        Ok(match ca.chunks().len() {
            1 => Texts::Array(ca.downcast_iter().next().expect("one chunk")),
            _ => Texts::Owned(ca.iter().collect()),
        })
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Texts::Array(a) => a.get(i),
            Texts::Owned(v) => v[i],
        }
    }

    /// Row `i`'s view (its Arrow string view as one number; 0 for a null, the view
    /// of ""): equal views within one array are equal texts. `None` for collected
    /// columns, which have none.
    #[inline]
    pub fn view(&self, i: usize) -> Option<u128> {
        match self {
            Texts::Array(a) => Some(match polars_arrow::array::Array::is_valid(*a, i) {
                true => a.views()[i].as_u128(),
                false => 0,
            }),
            Texts::Owned(_) => None,
        }
    }

    /// Whether rows mostly share their text (held once in the array's buffers
    /// however many rows have it, as decoded from a Parquet dictionary), so equal
    /// texts are mostly equal views: the buffers hold less than half of what the
    /// rows would need with a copy of a long text (13 bytes or more) each. Text of
    /// up to 12 bytes is always in the view. `false` for collected columns.
    pub fn views_shared(&self) -> bool {
        match self {
            Texts::Array(a) => a.total_buffer_len() <= a.len() * 13 / 2,
            Texts::Owned(_) => false,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Texts::Array(a) => a.len(),
            Texts::Owned(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> From<Vec<Option<&'a str>>> for Texts<'a> {
    fn from(v: Vec<Option<&'a str>>) -> Texts<'a> {
        Texts::Owned(v)
    }
}

/// An Int64 column of one batch, read in place when it is a single chunk.
pub enum Ints<'a> {
    Array(&'a IntArray),
    Owned(Vec<Option<i64>>),
}

impl<'a> Ints<'a> {
    pub fn of(ca: &'a Int64Chunked) -> Ints<'a> {
        match ca.chunks().len() {
            1 => Ints::Array(ca.downcast_iter().next().expect("one chunk")),
            _ => Ints::Owned(ca.iter().collect()),
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            Ints::Array(a) => a
                .validity()
                .is_none_or(|v| v.get_bit(i))
                .then(|| a.value(i)),
            Ints::Owned(v) => v[i],
        }
    }
}

impl From<Vec<Option<i64>>> for Ints<'_> {
    fn from(v: Vec<Option<i64>>) -> Self {
        Ints::Owned(v)
    }
}

/// `s` without surrounding whitespace; text that starts and ends with a visible
/// ASCII byte (nearly all of it) is returned as it is, without a scan.
#[inline]
pub fn trimmed(s: &str) -> &str {
    let visible = |c: &u8| *c > b' ' && *c < 0x80;
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if visible(a) && visible(z) => s,
        _ => s.trim(),
    }
}

/// What `Counts::dense` holds for a count that `Counts::get` must read (an error:
/// valid counts are at most `i64::MAX`).
pub const UNREAD: u64 = u64::MAX;

/// A count column as logged: native integers or text to be parsed.
pub enum Counts<'a> {
    Int(Ints<'a>),
    Text(Texts<'a>),
}

impl Counts<'_> {
    /// The count at row `i`: missing is 0; anything but a non-negative integer is an
    /// error carrying the value as written.
    pub fn get(&self, i: usize) -> Result<u64, String> {
        match self {
            Counts::Int(v) => match v.get(i) {
                None => Ok(0),
                Some(n) => u64::try_from(n).map_err(|_| n.to_string()),
            },
            Counts::Text(v) => match v.get(i).map(trimmed) {
                None | Some("") => Ok(0),
                Some(s) => parse_count(s).ok_or_else(|| s.to_string()),
            },
        }
    }

    /// Rows `range`'s counts read at once from an integer column: 0 for a null, the
    /// count, or `UNREAD` for a negative value (whose error `get` gives). `None` for
    /// other columns, read row by row.
    pub fn dense(&self, range: std::ops::Range<usize>) -> Option<Vec<u64>> {
        let Counts::Int(Ints::Array(a)) = self else {
            return None;
        };
        let read = |v: i64| if v < 0 { UNREAD } else { v as u64 };
        let values = &a.values()[range.clone()];
        Some(match a.validity() {
            None => values.iter().map(|&v| read(v)).collect(),
            // 64 rows a validity word; a null's count is masked to 0.
            Some(valid) => {
                let valid = valid.clone().sliced(range.start, range.len());
                let chunks = valid.chunks::<u64>();
                let words = std::iter::once(chunks.remainder());
                let mut counts = Vec::with_capacity(values.len());
                for (values, word) in values.chunks(64).zip(chunks.chain(words)) {
                    let bits = values.iter().enumerate();
                    counts.extend(bits.map(|(j, &v)| read(v) & 0u64.wrapping_sub(word >> j & 1)));
                }
                counts
            }
        })
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

/// The timestamp column: instants already typed (in their unit), or RFC 3339 text.
pub enum Instants<'a> {
    Typed(Ints<'a>, TimeUnit),
    Text(Texts<'a>),
}

/// What is wrong with a row's timestamp.
pub enum BadInstant {
    Missing,
    Unparsable(String),
    /// A typed instant outside years 1-9999, as written (value and unit).
    OutOfRange(String),
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds: the instants
/// RFC 3339 can write (and BI tools read).
const FIRST_MICROS: i64 = -62_135_596_800_000_000;
const LAST_MICROS: i64 = 253_402_300_799_999_999;

/// A typed instant (`value` in `unit` after the epoch) in microseconds, or `None` when
/// it lies outside years 1-9999 (or does not fit microseconds at all).
pub fn typed_micros(value: i64, unit: TimeUnit) -> Option<i64> {
    let micros = match unit {
        TimeUnit::Nanoseconds => Some(value.div_euclid(1000)),
        TimeUnit::Microseconds => Some(value),
        TimeUnit::Milliseconds => value.checked_mul(1000),
    };
    micros.filter(|m| (FIRST_MICROS..=LAST_MICROS).contains(m))
}

impl Instants<'_> {
    pub fn get(&self, i: usize) -> Result<i64, BadInstant> {
        match self {
            Instants::Typed(v, unit) => {
                let t = v.get(i).ok_or(BadInstant::Missing)?;
                typed_micros(t, *unit).ok_or_else(|| BadInstant::OutOfRange(format!("{t} {unit}")))
            }
            Instants::Text(v) => match v.get(i).map(trimmed) {
                None | Some("") => Err(BadInstant::Missing),
                Some(s) => parse_instant(s).ok_or_else(|| BadInstant::Unparsable(s.to_string())),
            },
        }
    }
}

/// Rows' meter counts, each integer column read at once (`Counts::dense`) rather
/// than row by row through its validity and sign; other columns, counts that are
/// errors, and every count of `SliceMeters::by_row`, are read by `Counts::get`.
pub struct SliceMeters {
    start: usize,
    dense: [Option<Vec<u64>>; 5],
}

impl SliceMeters {
    /// The meters of `cols`' rows `rows`, read at once.
    pub fn of(cols: &UsageColumns, rows: std::ops::Range<usize>) -> SliceMeters {
        SliceMeters {
            start: rows.start,
            dense: std::array::from_fn(|m| cols.meters[m].dense(rows.clone())),
        }
    }

    /// Meters read row by row (for callers that read only a few rows).
    pub fn by_row() -> SliceMeters {
        SliceMeters {
            start: 0,
            dense: Default::default(),
        }
    }

    /// Meter `m` of row `i` (in the rows read), as `cols.meters[m].get(i)` reads it.
    #[inline]
    pub fn get(&self, cols: &UsageColumns, m: usize, i: usize) -> Result<u64, String> {
        match self.dense[m].as_ref().map(|d| d[i - self.start]) {
            Some(count) if count != UNREAD => Ok(count),
            _ => cols.meters[m].get(i),
        }
    }
}

/// One batch of canonical usage rows.
pub struct UsageColumns<'a> {
    pub len: usize,
    pub row: Ints<'a>,
    pub timestamp: Instants<'a>,
    pub region: Texts<'a>,
    pub model_id: Texts<'a>,
    pub mode: Texts<'a>,
    pub service_tier: Texts<'a>,
    pub request_id: Texts<'a>,
    pub account_id: Texts<'a>,
    pub principal: Texts<'a>,
    pub image_quality: Texts<'a>,
    pub tags: Texts<'a>,
    pub inference_region: Texts<'a>,
    pub error_code: Texts<'a>,
    pub meters: [Counts<'a>; 5],
    pub image_width: Counts<'a>,
    pub image_height: Counts<'a>,
}

impl<'a> UsageColumns<'a> {
    /// The batch's columns, read in place where they are single Arrow chunks (the
    /// readers make them so); nothing is decoded until a row is rated.
    pub fn from_frame(df: &'a DataFrame) -> PolarsResult<UsageColumns<'a>> {
        let text = |name: &str| Texts::of(df.column(name)?);
        let counts = |name: &str| -> PolarsResult<Counts<'a>> {
            let c = df.column(name)?;
            Ok(match c.dtype() {
                DataType::String => Counts::Text(Texts::of(c)?),
                _ => Counts::Int(Ints::of(c.i64()?)),
            })
        };
        Ok(UsageColumns {
            len: df.height(),
            row: Ints::of(df.column(ROW_COLUMN)?.i64()?),
            timestamp: instants(df.column("timestamp")?)?,
            region: text("region")?,
            model_id: text("model_id")?,
            mode: text("mode")?,
            service_tier: text("service_tier")?,
            request_id: text("request_id")?,
            account_id: text("account_id")?,
            principal: text("principal")?,
            image_quality: text("image_quality")?,
            tags: text("tags")?,
            inference_region: text("inference_region")?,
            error_code: text("error_code")?,
            meters: [
                counts(METER_COLUMNS[0])?,
                counts(METER_COLUMNS[1])?,
                counts(METER_COLUMNS[2])?,
                counts(METER_COLUMNS[3])?,
                counts(METER_COLUMNS[4])?,
            ],
            image_width: counts("image_width")?,
            image_height: counts("image_height")?,
        })
    }
}

fn instants(c: &Column) -> PolarsResult<Instants<'_>> {
    Ok(match c.dtype() {
        DataType::Datetime(unit, _) => Instants::Typed(Ints::of(c.datetime()?.physical()), *unit),
        DataType::Date => {
            let days = c.date()?.physical().iter();
            let micros = days.map(|d| d.map(|d| i64::from(d) * MICROS_PER_DAY));
            Instants::Typed(Ints::Owned(micros.collect()), TimeUnit::Microseconds)
        }
        _ => Instants::Text(Texts::of(c)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Read at once or row by row, a count is the same: nulls, negatives, slices
        /// that start and end inside a validity word, arrays sliced themselves.
        #[test]
        fn dense_counts_read_as_get_does(
            values in prop::collection::vec((-3i64..1_000, prop::bool::weighted(0.8)), 0..300),
            offset in 0usize..70,
            cut in (0usize..300, 0usize..300),
        ) {
            // Null slots keep a value of their own, as Arrow allows.
            let (values, valid): (Vec<i64>, Vec<bool>) = values.into_iter().unzip();
            let valid = polars_arrow::bitmap::Bitmap::from_iter(valid);
            let array = IntArray::new(ArrowDataType::Int64, values.into(), Some(valid));
            let ca = Int64Chunked::with_chunk("c".into(), array);
            let ca = ca.slice(offset.min(ca.len()) as i64, ca.len());
            let counts = Counts::Int(Ints::of(&ca));
            let (a, b) = (cut.0.min(ca.len()), cut.1.min(ca.len()));
            let rows = a.min(b)..a.max(b);
            let dense = counts.dense(rows.clone()).expect("an integer column");
            prop_assert_eq!(dense.len(), rows.len());
            for (i, count) in rows.zip(dense) {
                match counts.get(i) {
                    Ok(n) => prop_assert_eq!(count, n),
                    Err(_) => prop_assert_eq!(count, UNREAD),
                }
            }
        }
    }

    #[test]
    fn text_counts_are_not_read_at_once() {
        let ca = StringChunked::from_slice("c".into(), &["1", "2"]);
        let column = Column::from(ca.into_series());
        let texts = Counts::Text(Texts::of(&column).unwrap());
        assert!(texts.dense(0..2).is_none());
        let owned = Counts::Int(Ints::Owned(vec![Some(1)]));
        assert!(owned.dense(0..1).is_none());
    }

    #[test]
    fn typed_instants_outside_years_1_to_9999_are_refused_not_wrapped() {
        // Before: milliseconds times 1000 wrapped, and the row was priced at a
        // nonsense instant (shown as the epoch).
        let v = [
            1_761_984_000_000,
            9_300_000_000_000_000,
            -9_300_000_000_000_000,
        ];
        let ca = Int64Chunked::from_vec("t".into(), v.to_vec());
        let at = |unit, i| Instants::Typed(Ints::of(&ca), unit).get(i);
        assert_eq!(
            at(TimeUnit::Milliseconds, 0).ok(),
            Some(1_761_984_000_000_000)
        );
        for i in [1, 2] {
            assert!(matches!(
                at(TimeUnit::Milliseconds, i),
                Err(BadInstant::OutOfRange(_))
            ));
        }
        // As microseconds the same value is in 2264: fine. Year 10000 is not.
        assert!(at(TimeUnit::Microseconds, 1).is_ok());
        let y10k = Int64Chunked::from_vec("t".into(), vec![LAST_MICROS, LAST_MICROS + 1]);
        let at = |i| Instants::Typed(Ints::of(&y10k), TimeUnit::Microseconds).get(i);
        assert!(at(0).is_ok());
        assert!(matches!(at(1), Err(BadInstant::OutOfRange(_))));
    }

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
    fn columns_read_in_place_or_collected_give_the_same_rows() {
        let a = ["x", "", " y "].map(Some).to_vec();
        let mut text = Series::new("t".into(), [a.clone(), vec![None, Some("z")]].concat());
        let one = Column::from(text.clone());
        text.append(&Series::new("t".into(), [Some("w"), None]))
            .unwrap();
        let two = Column::from(text);
        let (one, two) = (Texts::of(&one).unwrap(), Texts::of(&two).unwrap());
        assert!(matches!(one, Texts::Array(_)) && matches!(two, Texts::Owned(_)));
        let expected = [
            Some("x"),
            Some(""),
            Some(" y "),
            None,
            Some("z"),
            Some("w"),
            None,
        ];
        assert_eq!(
            (0..5).map(|i| one.get(i)).collect::<Vec<_>>(),
            expected[..5]
        );
        assert_eq!((0..7).map(|i| two.get(i)).collect::<Vec<_>>(), expected);
        let mut ints = Int64Chunked::new("i".into(), [Some(1i64), None]);
        let single = ints.clone();
        ints.append(&Int64Chunked::new("i".into(), [Some(-3i64)]))
            .unwrap();
        let (single, both) = (Ints::of(&single), Ints::of(&ints));
        assert!(matches!(single, Ints::Array(_)) && matches!(both, Ints::Owned(_)));
        assert_eq!([single.get(0), single.get(1)], [Some(1), None]);
        assert_eq!(
            [both.get(0), both.get(1), both.get(2)],
            [Some(1), None, Some(-3)]
        );
        assert_eq!(trimmed(" a\t"), "a");
        assert_eq!(trimmed("a"), "a");
        assert_eq!(trimmed("\u{a0}a"), "a");
    }

    #[test]
    fn missing_counts_are_zero_and_negatives_are_errors() {
        let c = Counts::Int(vec![None, Some(5), Some(-3)].into());
        assert_eq!(c.get(0), Ok(0));
        assert_eq!(c.get(1), Ok(5));
        assert_eq!(c.get(2), Err("-3".to_string()));
        let t = Counts::Text(vec![Some(" "), Some("abc")].into());
        assert_eq!(t.get(0), Ok(0));
        assert_eq!(t.get(1), Err("abc".to_string()));
    }
}
