//! The run's side: its line items (flat or partitioned, Parquet or CSV), summed per
//! bucket, and per bucket and `--true-up` key.

use super::map::{self, Key};
use crate::error::{Error, Result};
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, TimestampMicrosecondType};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A bucket's (or a key's share of a bucket's) quantity and list cost, scale 12.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ours {
    pub quantity: i128,
    pub cost: i128,
    pub records: u64,
}

impl Ours {
    fn add(&mut self, quantity: i128, cost: i128) -> Option<()> {
        self.quantity = map::exact_sum(self.quantity, quantity)?;
        self.cost = map::exact_sum(self.cost, cost)?;
        self.records += 1;
        Some(())
    }
}

pub type Buckets = BTreeMap<Key, Ours>;
pub type Shares = BTreeMap<Key, BTreeMap<String, Ours>>;

const COLUMNS: [&str; 11] = [
    "timestamp",
    "account_id",
    "region",
    "model_id",
    "usage_type",
    "mode",
    "service_tier",
    "scope",
    "quantity",
    "cost",
    "currency",
];

/// The line-item files of a run directory.
fn line_item_files(dir: &Path) -> Result<Vec<PathBuf>> {
    for ext in ["parquet", "csv"] {
        let single = dir.join(format!("line_items.{ext}"));
        if single.is_file() {
            return Ok(vec![single]);
        }
    }
    let parts = dir.join("line_items");
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&parts) {
        for entry in entries {
            let part = entry.map_err(|e| Error::input(&parts, e))?.path();
            for ext in ["parquet", "csv"] {
                let file = part.join(format!("part-0.{ext}"));
                if file.is_file() {
                    files.push(file);
                }
            }
        }
    }
    if files.is_empty() {
        return Err(Error::input_msg(
            dir,
            "no line items here (line_items.parquet, line_items.csv or line_items/ partitions): run billrun with --line-items, then reconcile its --out",
        ));
    }
    files.sort();
    Ok(files)
}

/// Sums the run's line items per bucket, and with `by` per bucket and `by` value.
pub fn read(dir: &Path, by: Option<&str>) -> Result<(Buckets, Shares, u64)> {
    let mut buckets = Buckets::new();
    let mut shares = Shares::new();
    let mut rows = 0u64;
    for file in line_item_files(dir)? {
        let mut each = |r: Row| -> Result<()> {
            rows += 1;
            let key = map::line_item_key(
                r.at,
                &r.text[1],
                &r.text[2],
                &r.text[3],
                (&r.text[4], &r.text[5], &r.text[6], &r.text[7]),
                &r.text[10],
            );
            let overflow = || Error::input_msg(&file, "a bucket's total overflows DECIMAL(38, 12)");
            if let Some(by) = &r.by {
                let share = shares.entry(key.clone()).or_default();
                share
                    .entry(by.clone())
                    .or_default()
                    .add(r.quantity, r.cost)
                    .ok_or_else(overflow)?;
            }
            buckets
                .entry(key)
                .or_default()
                .add(r.quantity, r.cost)
                .ok_or_else(overflow)
        };
        match file.extension().is_some_and(|e| e == "csv") {
            true => read_csv(&file, by, &mut each)?,
            false => read_parquet(&file, by, &mut each)?,
        }
    }
    Ok((buckets, shares, rows))
}

/// One line item: its texts in `COLUMNS` order (quantity and cost slots unused), the
/// instant, amounts and the `by` value.
struct Row {
    text: Vec<String>,
    at: i64,
    quantity: i128,
    cost: i128,
    by: Option<String>,
}

fn missing(file: &Path, column: &str, found: &[String]) -> Error {
    Error::MissingColumn {
        path: file.to_path_buf(),
        column: column.to_string(),
        found: crate::error::clip(&found.join(", ")),
    }
}

fn read_csv(file: &Path, by: Option<&str>, each: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
    let mut reader = csv::Reader::from_path(file).map_err(|e| Error::input(file, e))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(file, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let at = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| missing(file, n, &header))
    };
    let positions: Vec<usize> = COLUMNS.iter().map(|c| at(c)).collect::<Result<_>>()?;
    let by_at = by.map(at).transpose()?;
    for (i, record) in reader.records().enumerate() {
        let r = record.map_err(|e| Error::input(file, e))?;
        let bad = |what: &str| {
            let locus = crate::error::Locus::Row {
                row: i as u64 + 1,
                column: Some(what.to_string()),
            };
            Error::input_at(file, locus, "not a value billrun wrote")
        };
        let text: Vec<String> = positions
            .iter()
            .map(|&p| r.get(p).unwrap_or("").to_string())
            .collect();
        let instant = crate::time::parse_instant(&text[0]).ok_or_else(|| bad("timestamp"))?;
        let quantity = map::unscaled(&text[8]).ok_or_else(|| bad("quantity"))?;
        let cost = map::unscaled(&text[9]).ok_or_else(|| bad("cost"))?;
        let by = by_at.map(|p| r.get(p).unwrap_or("").to_string());
        each(Row {
            text,
            at: instant,
            quantity,
            cost,
            by,
        })?;
    }
    Ok(())
}

fn read_parquet(
    file: &Path,
    by: Option<&str>,
    each: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<()> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let fail = |e: &dyn std::fmt::Display| Error::input_msg(file, e.to_string());
    let f = std::fs::File::open(file).map_err(|e| Error::input(file, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| fail(&e))?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let at = |n: &str| {
        names
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| missing(file, n, &names))
    };
    let mut roots: Vec<usize> = COLUMNS.iter().map(|c| at(c)).collect::<Result<_>>()?;
    if let Some(by) = by {
        roots.push(at(by)?);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|e| fail(&e))?;
    for batch in reader {
        let batch = batch.map_err(|e| fail(&e))?;
        let column = |n: &str| {
            batch
                .column_by_name(n)
                .ok_or_else(|| missing(file, n, &names))
        };
        let times = column("timestamp")?;
        let times = times
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(|| fail(&"timestamp is not TIMESTAMP(MICROS)"))?;
        let decimal = |n: &str| -> Result<Vec<i128>> {
            let c = column(n)?;
            let d = c
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(|| fail(&format!("{n} is not DECIMAL(38, 12)")))?;
            Ok((0..d.len())
                .map(|i| if d.is_null(i) { 0 } else { d.value(i) })
                .collect())
        };
        let (quantity, cost) = (decimal("quantity")?, decimal("cost")?);
        let mut texts = Vec::new();
        for name in COLUMNS {
            texts.push(match name {
                "timestamp" | "quantity" | "cost" => vec![None; batch.num_rows()],
                n => super::bill::texts_of(column(n)?).map_err(|e| fail(&format!("{n}: {e}")))?,
            });
        }
        let by_values = by
            .map(|b| column(b).and_then(|c| super::bill::texts_of(c).map_err(|e| fail(&e))))
            .transpose()?;
        for i in 0..batch.num_rows() {
            each(Row {
                text: texts
                    .iter()
                    .map(|t| t[i].clone().unwrap_or_default())
                    .collect(),
                at: times.value(i),
                quantity: quantity[i],
                cost: cost[i],
                by: by_values.as_ref().map(|b| b[i].clone().unwrap_or_default()),
            })?;
        }
    }
    Ok(())
}
