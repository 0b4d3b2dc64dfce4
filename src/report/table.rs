//! A small typed table: what every report is before a sink writes it.

use crate::time::format_instant;
use crate::vocab::money::{Money, PRECISION, Quantity, SCALE};
use polars::prelude::*;
use std::collections::BTreeMap;

/// The value types reports use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    /// DECIMAL(38, 12).
    Money,
    /// DECIMAL(38, 12); CSV prints the shortest exact decimal.
    Quantity,
    /// A nullable DECIMAL(38, 12) quantity.
    MaybeQuantity,
    /// UTC instant, microseconds.
    Instant,
}

/// A column's values.
#[derive(Clone, Debug)]
pub enum Values {
    Text(Vec<Option<String>>),
    /// Text whose values repeat (line items): shared, written like `Text`.
    Shared(Vec<Option<std::sync::Arc<str>>>),
    Int(Vec<Option<i64>>),
    Money(Vec<Money>),
    Quantity(Vec<Quantity>),
    MaybeQuantity(Vec<Option<Quantity>>),
    Instant(Vec<i64>),
}

impl Values {
    pub fn empty(kind: Kind) -> Values {
        match kind {
            Kind::Text => Values::Text(Vec::new()),
            Kind::Int => Values::Int(Vec::new()),
            Kind::Money => Values::Money(Vec::new()),
            Kind::Quantity => Values::Quantity(Vec::new()),
            Kind::MaybeQuantity => Values::MaybeQuantity(Vec::new()),
            Kind::Instant => Values::Instant(Vec::new()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Shared(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Money(v) => v.len(),
            Values::Quantity(v) => v.len(),
            Values::MaybeQuantity(v) => v.len(),
            Values::Instant(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Values {
        fn pick<T: Clone>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| v[i].clone()).collect()
        }
        match self {
            Values::Text(v) => Values::Text(pick(v, rows)),
            Values::Shared(v) => Values::Shared(pick(v, rows)),
            Values::Int(v) => Values::Int(pick(v, rows)),
            Values::Money(v) => Values::Money(pick(v, rows)),
            Values::Quantity(v) => Values::Quantity(pick(v, rows)),
            Values::MaybeQuantity(v) => Values::MaybeQuantity(pick(v, rows)),
            Values::Instant(v) => Values::Instant(pick(v, rows)),
        }
    }

    /// Moves the first `n` values out.
    fn take_front(&mut self, n: usize) -> Values {
        match self {
            Values::Text(v) => Values::Text(v.drain(..n).collect()),
            Values::Shared(v) => Values::Shared(v.drain(..n).collect()),
            Values::Int(v) => Values::Int(v.drain(..n).collect()),
            Values::Money(v) => Values::Money(v.drain(..n).collect()),
            Values::Quantity(v) => Values::Quantity(v.drain(..n).collect()),
            Values::MaybeQuantity(v) => Values::MaybeQuantity(v.drain(..n).collect()),
            Values::Instant(v) => Values::Instant(v.drain(..n).collect()),
        }
    }

    fn append(&mut self, other: Values) {
        // An empty column takes the other's representation (`Text` or `Shared`).
        if self.is_empty() {
            *self = other;
            return;
        }
        match (self, other) {
            (Values::Text(a), Values::Text(b)) => a.extend(b),
            (Values::Shared(a), Values::Shared(b)) => a.extend(b),
            // Text written alike either way: rows read back from a file join shared ones.
            (Values::Shared(a), Values::Text(b)) => {
                a.extend(b.into_iter().map(|v| v.map(std::sync::Arc::from)))
            }
            (Values::Text(a), Values::Shared(b)) => {
                a.extend(b.into_iter().map(|v| v.map(|s| s.to_string())))
            }
            (Values::Int(a), Values::Int(b)) => a.extend(b),
            (Values::Money(a), Values::Money(b)) => a.extend(b),
            (Values::Quantity(a), Values::Quantity(b)) => a.extend(b),
            (Values::MaybeQuantity(a), Values::MaybeQuantity(b)) => a.extend(b),
            (Values::Instant(a), Values::Instant(b)) => a.extend(b),
            _ => unreachable!("appending columns of different kinds"),
        }
    }

    /// The value at `i` as CSV text: money as a plain decimal, instants as RFC 3339.
    pub fn text_at(&self, i: usize) -> String {
        match self {
            Values::Text(v) => v[i].clone().unwrap_or_default(),
            Values::Shared(v) => v[i].as_deref().unwrap_or_default().to_string(),
            Values::Int(v) => v[i].map(|n| n.to_string()).unwrap_or_default(),
            Values::Money(v) => v[i].to_string(),
            Values::Quantity(v) => v[i].to_string(),
            Values::MaybeQuantity(v) => v[i].map(|q| q.to_string()).unwrap_or_default(),
            Values::Instant(v) => format_instant(v[i]),
        }
    }

    fn to_column(&self, name: &str) -> PolarsResult<Column> {
        let name = PlSmallStr::from(name);
        let series = match self {
            Values::Text(v) => Series::new(name, v),
            Values::Shared(v) => {
                StringChunked::from_iter_options(name, v.iter().map(|s| s.as_deref())).into_series()
            }
            Values::Int(v) => Series::new(name, v),
            Values::Money(v) => decimal(name, v.iter().map(|m| m.unscaled()).collect()),
            Values::Quantity(v) => decimal(name, v.iter().map(|q| q.unscaled()).collect()),
            Values::MaybeQuantity(v) => {
                let unscaled: Int128Chunked = v.iter().map(|q| q.map(|q| q.unscaled())).collect();
                unscaled
                    .with_name(name)
                    .into_decimal_unchecked(PRECISION, SCALE as usize)
                    .into_series()
            }
            Values::Instant(v) => Int64Chunked::from_vec(name, v.clone())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_series(),
        };
        Ok(series.into())
    }
}

fn decimal(name: PlSmallStr, unscaled: Vec<i128>) -> Series {
    Int128Chunked::from_vec(name, unscaled)
        .into_decimal_unchecked(PRECISION, SCALE as usize)
        .into_series()
}

/// Column names and kinds of a report.
pub type Schema = Vec<(String, Kind)>;

/// Rows of a report, column by column.
#[derive(Clone, Debug)]
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Values>,
}

impl Table {
    pub fn new(schema: &Schema) -> Table {
        Table {
            names: schema.iter().map(|(n, _)| n.clone()).collect(),
            columns: schema.iter().map(|(_, k)| Values::empty(*k)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Values::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows grouped by `label(row)`, each group in input order.
    pub fn split_rows(&self, label: impl Fn(usize) -> String) -> BTreeMap<String, Table> {
        let mut rows: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..self.len() {
            rows.entry(label(i)).or_default().push(i);
        }
        rows.into_iter()
            .map(|(l, idx)| {
                let columns = self.columns.iter().map(|c| c.select(&idx)).collect();
                let table = Table {
                    names: self.names.clone(),
                    columns,
                };
                (l, table)
            })
            .collect()
    }

    pub fn take_front(&mut self, n: usize) -> Table {
        Table {
            names: self.names.clone(),
            columns: self.columns.iter_mut().map(|c| c.take_front(n)).collect(),
        }
    }

    pub fn append(&mut self, other: Table) {
        for (a, b) in self.columns.iter_mut().zip(other.columns) {
            a.append(b);
        }
    }

    pub fn to_frame(&self) -> PolarsResult<DataFrame> {
        let columns = self
            .names
            .iter()
            .zip(&self.columns)
            .map(|(n, v)| v.to_column(n))
            .collect::<PolarsResult<Vec<_>>>()?;
        DataFrame::new(self.len(), columns)
    }

    /// A frame of `schema`'s columns (as `to_frame` writes them, read back) as a table.
    pub fn from_frame(frame: &DataFrame, schema: &Schema) -> PolarsResult<Table> {
        let unscaled = |c: &Column| -> PolarsResult<Vec<Option<i128>>> {
            let d = c.decimal()?;
            polars_ensure!(d.scale() == SCALE as usize, ComputeError: "{} is not DECIMAL(38, {SCALE})", c.name());
            Ok(d.physical().iter().collect())
        };
        let columns = schema
            .iter()
            .map(|(name, kind)| {
                let c = frame.column(name)?;
                Ok(match kind {
                    Kind::Text => {
                        let v = c.str()?.iter().map(|v| v.map(str::to_string)).collect();
                        Values::Text(v)
                    }
                    Kind::Int => Values::Int(c.i64()?.iter().collect()),
                    Kind::Money => Values::Money(
                        unscaled(c)?
                            .into_iter()
                            .map(|v| Money::from_unscaled(v.unwrap_or(0)))
                            .collect(),
                    ),
                    Kind::Quantity => Values::Quantity(
                        unscaled(c)?
                            .into_iter()
                            .map(|v| Quantity::from_unscaled(v.unwrap_or(0)))
                            .collect(),
                    ),
                    Kind::MaybeQuantity => Values::MaybeQuantity(
                        unscaled(c)?
                            .into_iter()
                            .map(|v| v.map(Quantity::from_unscaled))
                            .collect(),
                    ),
                    Kind::Instant => {
                        let (phys, unit) = match c.dtype() {
                            DataType::Datetime(unit, _) => {
                                (c.datetime()?.physical().clone(), *unit)
                            }
                            dt => {
                                polars_bail!(ComputeError: "{} is {dt}, not a timestamp", c.name())
                            }
                        };
                        let per = match unit {
                            TimeUnit::Nanoseconds => -1000,
                            TimeUnit::Microseconds => 1,
                            TimeUnit::Milliseconds => 1000,
                        };
                        let micros = phys.iter().map(|v| {
                            let v = v.unwrap_or(0);
                            if per < 0 { v.div_euclid(1000) } else { v * per }
                        });
                        Values::Instant(micros.collect())
                    }
                })
            })
            .collect::<PolarsResult<Vec<Values>>>()?;
        Ok(Table {
            names: schema.iter().map(|(n, _)| n.clone()).collect(),
            columns,
        })
    }

    pub fn polars_schema(schema: &Schema) -> PolarsResult<polars::prelude::Schema> {
        Ok(Table::new(schema).to_frame()?.schema().as_ref().clone())
    }
}
