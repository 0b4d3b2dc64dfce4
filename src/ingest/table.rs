//! Canonical usage tables (CSV, gzipped CSV, Parquet) read with polars' streaming
//! engine: only the canonical columns are projected, dtypes are normalised in the
//! plan, and batches are handed over in file order through a bounded channel, so
//! memory holds a few batches, never the file.

use super::{InputFile, InputKind};
use crate::error::{Error, Result};
use crate::pricing::rows::{INT_COLUMNS, ROW_COLUMN, TEXT_COLUMNS};
use polars::prelude::*;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

/// Columns a usage table must have.
pub const REQUIRED: [&str; 3] = ["timestamp", "region", "model_id"];

/// Reads `file` in batches of about `batch_rows` rows and calls `on_batch` with each,
/// in order. A gzipped CSV is first inflated into `scratch` (every gzip member).
pub fn read_batches(
    file: &InputFile,
    scratch: &Path,
    batch_rows: usize,
    mut on_batch: impl FnMut(DataFrame) -> Result<()>,
) -> Result<()> {
    let inflated = match file.kind {
        InputKind::CsvGz => Some(inflate(&file.path, scratch)?),
        _ => None,
    };
    let source = inflated.as_deref().unwrap_or(&file.path);
    let plan = canonical_plan(file, source)?;
    let (send, recv) = sync_channel::<DataFrame>(2);
    let chunk = NonZeroUsize::new(batch_rows.max(1));
    let callback = PlanCallback::new(move |df: DataFrame| Ok(send.send(df).is_err()));
    let plan = plan
        .sink_batches(callback, true, chunk)
        .map_err(|e| Error::input(&file.path, e))?;
    let runner =
        std::thread::spawn(move || plan.collect_with_engine(Engine::Streaming).map(|_| ()));
    let mut outcome = Ok(());
    for df in recv.iter() {
        outcome = on_batch(df);
        if outcome.is_err() {
            break;
        }
    }
    // Closing the channel tells the reader to stop early after a failure.
    drop(recv);
    let read = runner
        .join()
        .unwrap_or_else(|_| Err(polars_err!(ComputeError: "reader thread panicked")));
    if let Some(path) = inflated {
        std::fs::remove_file(path).ok();
    }
    outcome?;
    read.map_err(|e| Error::input(&file.path, e))
}

/// scan → check required columns → project the canonical columns with normalised dtypes.
fn canonical_plan(file: &InputFile, source: &Path) -> Result<LazyFrame> {
    let err = |e: PolarsError| Error::input(&file.path, e);
    let path = PlRefPath::new(source.to_string_lossy().as_ref());
    let mut lf = match file.kind {
        InputKind::Parquet => {
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            LazyFrame::scan_parquet(path, args).map_err(err)?
        }
        InputKind::Csv | InputKind::CsvGz => LazyCsvReader::new(path)
            .with_has_header(true)
            .with_glob(false)
            .with_infer_schema_length(Some(0))
            .finish()
            .map_err(err)?,
    };
    let schema = lf.collect_schema().map_err(err)?;
    for column in REQUIRED {
        if schema.get(column).is_none() {
            let found = schema
                .iter_names()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::MissingColumn {
                path: file.path.clone(),
                column: column.to_string(),
                found,
            });
        }
    }
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
    Ok(lf.with_row_index(ROW_COLUMN, Some(1)).select(exprs))
}

/// Inflates every member of a (possibly multi-member) gzip file into `scratch`.
fn inflate(path: &Path, scratch: &Path) -> Result<PathBuf> {
    let input = std::fs::File::open(path).map_err(|e| Error::input(path, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = scratch.join(format!("inflated-{}-{name}.csv", std::process::id()));
    let mut output = std::fs::File::create(&target).map_err(|e| Error::output(&target, e))?;
    let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(input));
    std::io::copy(&mut decoder, &mut output)
        .map_err(|e| Error::input(path, format!("gzip: {e}")))?;
    Ok(target)
}
