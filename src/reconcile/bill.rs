//! Reading AWS bill exports: CUR 2.0 (Parquet or CSV, maybe gzipped), legacy CUR
//! (`lineItem/UsageType` ...) and FOCUS 1.2 with AWS's `x_` columns, into one row
//! shape. Every value is kept as the text AWS wrote (a Parquet DOUBLE as its
//! shortest round-trip decimal), so amounts are parsed once, exactly, in `map`.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Which export a file is, told by its columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Cur2,
    LegacyCur,
    Focus,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Cur2 => "cur2",
            Dialect::LegacyCur => "legacy_cur",
            Dialect::Focus => "focus",
        }
    }

    /// The column holding each field, in this dialect (`None`: the dialect has none).
    pub fn column(self, field: Field) -> Option<&'static str> {
        use Field::*;
        let (cur2, legacy, focus) = match field {
            Day => (
                "line_item_usage_start_date",
                "lineItem/UsageStartDate",
                "ChargePeriodStart",
            ),
            Account => (
                "line_item_usage_account_id",
                "lineItem/UsageAccountId",
                "SubAccountId",
            ),
            ItemType => (
                "line_item_line_item_type",
                "lineItem/LineItemType",
                "ChargeCategory",
            ),
            ProductCode => (
                "line_item_product_code",
                "lineItem/ProductCode",
                "x_ServiceCode",
            ),
            UsageType => ("line_item_usage_type", "lineItem/UsageType", "x_UsageType"),
            Operation => ("line_item_operation", "lineItem/Operation", "x_Operation"),
            Amount => (
                "line_item_usage_amount",
                "lineItem/UsageAmount",
                "ConsumedQuantity",
            ),
            Unit => ("pricing_unit", "pricing/unit", "ConsumedUnit"),
            PublicCost => (
                "pricing_public_on_demand_cost",
                "pricing/publicOnDemandCost",
                "ListCost",
            ),
            Unblended => (
                "line_item_unblended_cost",
                "lineItem/UnblendedCost",
                "BilledCost",
            ),
            Net => (
                "line_item_net_unblended_cost",
                "lineItem/NetUnblendedCost",
                "EffectiveCost",
            ),
            Currency => (
                "line_item_currency_code",
                "lineItem/CurrencyCode",
                "BillingCurrency",
            ),
            Product => ("product", "", ""),
            ProductName => ("product_product_name", "product/ProductName", "ServiceName"),
            ServiceName => ("product_servicename", "product/servicename", ""),
            Region => ("product_region_code", "product/regionCode", "RegionId"),
            Principal => ("line_item_iam_principal", "lineItem/IamPrincipal", ""),
            ChargeClass => ("", "", "ChargeClass"),
        };
        let name = match self {
            Dialect::Cur2 => cur2,
            Dialect::LegacyCur => legacy,
            Dialect::Focus => focus,
        };
        (!name.is_empty()).then_some(name)
    }
}

/// The fields billrun reads from a bill row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Day,
    Account,
    ItemType,
    ProductCode,
    UsageType,
    Operation,
    Amount,
    Unit,
    PublicCost,
    Unblended,
    Net,
    Currency,
    Product,
    ProductName,
    ServiceName,
    Region,
    Principal,
    ChargeClass,
}

const FIELDS: [Field; 18] = [
    Field::Day,
    Field::Account,
    Field::ItemType,
    Field::ProductCode,
    Field::UsageType,
    Field::Operation,
    Field::Amount,
    Field::Unit,
    Field::PublicCost,
    Field::Unblended,
    Field::Net,
    Field::Currency,
    Field::Product,
    Field::ProductName,
    Field::ServiceName,
    Field::Region,
    Field::Principal,
    Field::ChargeClass,
];

/// Fields a bill file must have; the others may be absent.
const REQUIRED: [Field; 6] = [
    Field::Day,
    Field::ItemType,
    Field::UsageType,
    Field::Amount,
    Field::Unblended,
    Field::Net,
];

/// One bill row: its fields as text (absent column or null: `None`), and the
/// product map (CUR 2.0 `product`), keys lower case.
#[derive(Clone, Debug, Default)]
pub struct BillRow {
    pub row: u64,
    /// By `Field as usize`.
    values: [Option<String>; FIELDS.len()],
    /// Shared by the rows of a batch that have the same map.
    pub product: std::sync::Arc<BTreeMap<String, String>>,
}

impl BillRow {
    pub fn get(&self, field: Field) -> &str {
        self.values[field as usize].as_deref().map_or("", str::trim)
    }

    pub fn has(&self, field: Field) -> bool {
        self.values[field as usize].is_some()
    }

    /// A product attribute: the `product` map's key, or a flat column.
    pub fn attribute(&self, key: &str, flat: Field) -> &str {
        match self.product.get(key).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => v,
            _ => self.get(flat),
        }
    }

    #[cfg(test)]
    pub fn of(values: &[(Field, &str)], product: &[(&str, &str)]) -> BillRow {
        BillRow {
            row: 1,
            values: std::array::from_fn(|i| {
                let field = values.iter().find(|(f, _)| *f as usize == i);
                field.map(|(_, v)| v.to_string())
            }),
            product: std::sync::Arc::new(
                product
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }
}

/// The dialect of a header, or an error naming what is missing.
fn dialect_of(path: &Path, names: &[String]) -> Result<(Dialect, Vec<Option<usize>>)> {
    let has = |n: &str| names.iter().any(|c| c == n);
    let dialect = if has("line_item_usage_type") {
        Dialect::Cur2
    } else if has("lineItem/UsageType") {
        Dialect::LegacyCur
    } else if has("ChargePeriodStart") {
        Dialect::Focus
    } else {
        return Err(Error::input_msg(
            path,
            format!(
                "not a CUR 2.0, legacy CUR or FOCUS export: no line_item_usage_type, lineItem/UsageType or ChargePeriodStart column (found: {})",
                crate::error::clip(&names.join(", "))
            ),
        ));
    };
    let positions: Vec<Option<usize>> = FIELDS
        .iter()
        .map(|f| {
            dialect
                .column(*f)
                .and_then(|c| names.iter().position(|n| n == c))
        })
        .collect();
    for f in REQUIRED {
        let i = FIELDS.iter().position(|x| *x == f).unwrap_or(0);
        if positions[i].is_none() {
            return Err(Error::MissingColumn {
                path: path.to_path_buf(),
                column: dialect.column(f).unwrap_or("?").to_string(),
                found: crate::error::clip(&names.join(", ")),
            });
        }
    }
    Ok((dialect, positions))
}

/// The bill files behind the `--bill` arguments: a file as named; a directory or
/// an `s3://` prefix (where Data Exports deliver) for the Parquet, CSV and CSV.gz
/// files under it, in path order (manifests and other files skipped); an argument
/// with none is an error.
pub fn files(args: &[std::path::PathBuf]) -> Result<Vec<crate::ingest::InputFile>> {
    use crate::ingest::InputKind;
    let mut out = Vec::new();
    for arg in args {
        let is_dir = std::fs::metadata(arg).is_ok_and(|m| m.is_dir());
        if !crate::ingest::s3::is_s3(arg) && !is_dir {
            out.push(crate::ingest::InputFile {
                path: arg.clone(),
                kind: InputKind::of(arg).unwrap_or(InputKind::Csv),
                bytes: 0,
                stream: false,
                remote: None,
            });
            continue;
        }
        let found = match crate::ingest::s3::is_s3(arg) {
            true => crate::ingest::s3::list(&arg.to_string_lossy(), None)?.files,
            false => crate::ingest::discover(std::slice::from_ref(arg), None)?.files,
        };
        let tables: Vec<_> = found
            .into_iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    InputKind::Parquet | InputKind::Csv | InputKind::CsvGz
                )
            })
            .collect();
        if tables.is_empty() {
            return Err(Error::Usage(format!(
                "--bill {}: no .parquet, .csv or .csv.gz file under it",
                arg.display()
            )));
        }
        out.extend(tables);
    }
    Ok(out)
}

/// Reads a bill file and hands its rows to `each`, in file order. Returns the dialect.
/// Rows are handed with the file's dialect.
pub fn read(
    file: &crate::ingest::InputFile,
    each: &mut dyn FnMut(Dialect, BillRow) -> Result<()>,
) -> Result<Dialect> {
    let path = file.path.as_path();
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".parquet") {
        return match &file.remote {
            Some(object) => read_parquet(path, crate::ingest::s3::ranged(object)?, each),
            None => {
                let f = std::fs::File::open(path).map_err(|e| Error::input(path, e))?;
                read_parquet(path, f, each)
            }
        };
    }
    let file: Box<dyn Read> = match &file.remote {
        Some(object) => Box::new(crate::ingest::s3::open(object)?),
        None => Box::new(std::fs::File::open(path).map_err(|e| Error::input(path, e))?),
    };
    let input: Box<dyn Read> = match name.ends_with(".gz") {
        true => Box::new(flate2::read::MultiGzDecoder::new(file)),
        false => Box::new(file),
    };
    read_csv(path, input, each)
}

fn read_csv(
    path: &Path,
    input: Box<dyn Read>,
    each: &mut dyn FnMut(Dialect, BillRow) -> Result<()>,
) -> Result<Dialect> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = reader.headers().map_err(|e| Error::input(path, e))?;
    let names: Vec<String> = header
        .iter()
        .map(|n| n.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let (dialect, positions) = dialect_of(path, &names)?;
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            Error::input_at(
                path,
                crate::error::Locus::Row {
                    row: row + 1,
                    column: None,
                },
                e.to_string(),
            )
        })?;
        if !more {
            break;
        }
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        row += 1;
        let mut bill = BillRow {
            row,
            ..BillRow::default()
        };
        for (f, p) in FIELDS.iter().zip(&positions) {
            let Some(v) = p.and_then(|p| record.get(p)) else {
                continue;
            };
            if *f == Field::Product {
                bill.product = std::sync::Arc::new(product_map(v));
            } else if !v.is_empty() {
                bill.values[*f as usize] = Some(v.to_string());
            }
        }
        each(dialect, bill)?;
    }
    Ok(dialect)
}

/// CUR 2.0 CSV writes the `product` map as JSON (`{"region":"us-east-1",...}`); Athena
/// and some tools print it as `{region=us-east-1, ...}`. Keys are lower-cased.
fn product_map(text: &str) -> BTreeMap<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return BTreeMap::new();
    }
    if let Ok(map) = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(text) {
        return map
            .into_iter()
            .filter_map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => return None,
                    other => other.to_string(),
                };
                Some((k.to_ascii_lowercase(), v))
            })
            .collect();
    }
    let inner = text.trim_start_matches('{').trim_end_matches('}');
    let mut out = BTreeMap::new();
    // `k=v, k2=v2`: a comma starts a new pair only when an `=` follows before the next
    // comma (values may hold commas).
    let mut pairs: Vec<String> = Vec::new();
    for piece in inner.split(", ") {
        match (piece.contains('='), pairs.last_mut()) {
            (false, Some(last)) => {
                last.push_str(", ");
                last.push_str(piece);
            }
            _ => pairs.push(piece.to_string()),
        }
    }
    for pair in pairs {
        if let Some((k, v)) = pair.split_once('=') {
            let v = v.trim().trim_matches('\'').to_string();
            out.insert(k.trim().to_ascii_lowercase(), v);
        }
    }
    out
}

fn read_parquet<R: parquet::file::reader::ChunkReader + 'static>(
    path: &Path,
    file: R,
    each: &mut dyn FnMut(Dialect, BillRow) -> Result<()>,
) -> Result<Dialect> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let fail = |e: &dyn std::fmt::Display| Error::input_msg(path, e.to_string());
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(&e))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let (dialect, positions) = dialect_of(path, &names)?;
    let wanted: Vec<usize> = positions.iter().flatten().copied().collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| fail(&e))?;
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| fail(&e))?;
        // The product map apart; every other field as text.
        let mut product: Option<Vec<std::sync::Arc<BTreeMap<String, String>>>> = None;
        let mut columns: Vec<(Field, Vec<Option<String>>)> = Vec::new();
        for (f, p) in FIELDS.iter().zip(&positions) {
            let Some(p) = p else { continue };
            let name = &names[*p];
            let Some(array) = batch.column_by_name(name) else {
                continue;
            };
            let named = |e: String| fail(&format!("column \"{name}\": {e}"));
            if *f == Field::Product {
                product = Some(shared(maps_of(array).map_err(named)?));
            } else {
                columns.push((*f, texts_of(array).map_err(named)?));
            }
        }
        for i in 0..batch.num_rows() {
            row += 1;
            let mut bill = BillRow {
                row,
                ..BillRow::default()
            };
            if let Some(maps) = &product {
                bill.product = maps[i].clone();
            }
            for (f, text) in &columns {
                bill.values[*f as usize] = text[i].clone().filter(|v| !v.is_empty());
            }
            each(dialect, bill)?;
        }
    }
    Ok(dialect)
}

/// A column's values as text: strings as they are, numbers in plain decimal (a DOUBLE
/// as its shortest round-trip decimal, never an exponent), timestamps as RFC 3339 UTC.
pub(super) fn texts_of(array: &ArrayRef) -> std::result::Result<Vec<Option<String>>, String> {
    let n = array.len();
    let each = |f: &dyn Fn(usize) -> String| -> Vec<Option<String>> {
        (0..n).map(|i| (!array.is_null(i)).then(|| f(i))).collect()
    };
    Ok(match array.data_type() {
        DataType::Utf8 => each(&|i| array.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => each(&|i| array.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => each(&|i| array.as_string_view().value(i).to_string()),
        DataType::Float64 => each(&|i| plain_float(array.as_primitive::<Float64Type>().value(i))),
        // A FLOAT's own shortest decimal, not the DOUBLE it widens to.
        DataType::Float32 => each(&|i| format!("{}", array.as_primitive::<Float32Type>().value(i))),
        DataType::Int64 => each(&|i| array.as_primitive::<Int64Type>().value(i).to_string()),
        DataType::Int32 => each(&|i| array.as_primitive::<Int32Type>().value(i).to_string()),
        DataType::Decimal128(_, scale) => {
            let scale = *scale;
            each(&|i| {
                let v = array.as_primitive::<Decimal128Type>().value(i);
                rust_decimal::Decimal::try_from_i128_with_scale(v, scale.max(0) as u32)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|_| "overflow".into())
            })
        }
        DataType::Timestamp(unit, _) => {
            let micros = |v: i64| match unit {
                TimeUnit::Second => v.saturating_mul(1_000_000),
                TimeUnit::Millisecond => v.saturating_mul(1_000),
                TimeUnit::Microsecond => v,
                TimeUnit::Nanosecond => v.div_euclid(1_000),
            };
            let values: Vec<i64> = match unit {
                TimeUnit::Second => (0..n)
                    .map(|i| array.as_primitive::<TimestampSecondType>().value(i))
                    .collect(),
                TimeUnit::Millisecond => (0..n)
                    .map(|i| array.as_primitive::<TimestampMillisecondType>().value(i))
                    .collect(),
                TimeUnit::Microsecond => (0..n)
                    .map(|i| array.as_primitive::<TimestampMicrosecondType>().value(i))
                    .collect(),
                TimeUnit::Nanosecond => (0..n)
                    .map(|i| array.as_primitive::<TimestampNanosecondType>().value(i))
                    .collect(),
            };
            // Bills repeat each hour's start over many rows: format each run once.
            let mut out: Vec<Option<String>> = Vec::with_capacity(n);
            for (i, v) in values.iter().enumerate() {
                let text = match (i.checked_sub(1), out.last()) {
                    (Some(j), Some(Some(last))) if values[j] == *v => last.clone(),
                    _ => crate::time::format_instant(micros(*v)),
                };
                out.push((!array.is_null(i)).then_some(text));
            }
            out
        }
        DataType::Date32 => each(&|i| {
            let days = array.as_primitive::<Date32Type>().value(i) as i64;
            crate::time::format_instant(days * 86_400_000_000)
        }),
        DataType::Null => vec![None; n],
        other => return Err(format!("type {other} is not one billrun reads here")),
    })
}

/// A DOUBLE of the bill (Data Exports writes CUR 2.0 amounts and costs as DOUBLE) in
/// plain decimal: Rust prints the shortest digits that read back as the same double,
/// without an exponent. The only binary float billrun touches: it becomes text here
/// and is parsed as an exact decimal; no arithmetic is ever done on it.
fn plain_float(v: f64 /* float-input: see above */) -> String {
    format!("{v}")
}

/// The maps, each run of equal maps sharing one allocation.
fn shared(maps: Vec<BTreeMap<String, String>>) -> Vec<std::sync::Arc<BTreeMap<String, String>>> {
    let mut out: Vec<std::sync::Arc<BTreeMap<String, String>>> = Vec::with_capacity(maps.len());
    for m in maps {
        match out.last() {
            Some(last) if **last == m => out.push(last.clone()),
            _ => out.push(std::sync::Arc::new(m)),
        }
    }
    out
}

/// A MAP<string, string> column (CUR 2.0 `product`), or a JSON string column.
fn maps_of(array: &ArrayRef) -> std::result::Result<Vec<BTreeMap<String, String>>, String> {
    let n = array.len();
    match array.data_type() {
        DataType::Map(_, _) => {
            let maps = array.as_map();
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                if maps.is_null(i) {
                    out.push(BTreeMap::new());
                    continue;
                }
                let entry = maps.value(i);
                let keys = texts_of(entry.column(0))?;
                let values = texts_of(entry.column(1))?;
                out.push(
                    keys.into_iter()
                        .zip(values)
                        .filter_map(|(k, v)| Some((k?.to_ascii_lowercase(), v?)))
                        .collect(),
                );
            }
            Ok(out)
        }
        _ => Ok(texts_of(array)?
            .into_iter()
            .map(|t| t.map(|t| product_map(&t)).unwrap_or_default())
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_maps_read_as_json_or_as_printed_by_athena() {
        let json = product_map(
            r#"{"product_name":"Claude Sonnet 4.6 (Amazon Bedrock Edition)","Region":"us-east-1"}"#,
        );
        assert_eq!(
            json["product_name"],
            "Claude Sonnet 4.6 (Amazon Bedrock Edition)"
        );
        assert_eq!(json["region"], "us-east-1");
        let printed = product_map(
            "{feature=On-demand Inference, provider=Anthropic, model=Claude Sonnet 4.6, product_name='Claude Sonnet 4.6 (Amazon Bedrock Edition)', region=us-east-1}",
        );
        assert_eq!(printed["model"], "Claude Sonnet 4.6");
        assert_eq!(
            printed["product_name"],
            "Claude Sonnet 4.6 (Amazon Bedrock Edition)"
        );
        assert_eq!(printed["region"], "us-east-1");
        assert!(product_map("").is_empty());
    }

    #[test]
    fn doubles_print_in_plain_decimal() {
        assert_eq!(plain_float(0.1), "0.1");
        assert_eq!(plain_float(1e-7), "0.0000001");
        assert_eq!(plain_float(4800000.0), "4800000");
    }
}
