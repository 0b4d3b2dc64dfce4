//! Parquet usage tables read in batches of at most `--batch-rows` rows, whatever the
//! size of the file's row groups.
//!
//! polars decodes a row group whole, so a file written with 1M-row (pyarrow) or
//! 128 MB (Spark) row groups would hold that many rows at once. arrow-rs's reader
//! decodes page by page and keeps its decoders between batches, so a batch ends
//! anywhere inside a row group and each page is decompressed once. Each batch
//! crosses to polars through the Arrow C data interface: strings are asked for as
//! string views, the layout polars keeps, so the crossing copies no bytes.

use super::table::{canonical_named, check_required, check_types, ids_frame, set_aside_bad_text};
use super::{Batch, InputFile, Projection};
use crate::error::{Error, Result};
use crate::vocab::rows::{INT_COLUMNS, TEXT_COLUMNS};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field as ArrowRsField, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use polars::prelude::*;
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};

pub(super) fn parquet_batches(
    file: &InputFile,
    batch_rows: usize,
    projection: Projection,
    consumed: &AtomicU64,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> Result<()> {
    match &file.remote {
        Some(object) => {
            let reader = super::s3::ranged(object)?;
            batches_of(reader, file, batch_rows, projection, consumed, emit)
        }
        None => {
            let reader = File::open(&file.path).map_err(|e| Error::input(&file.path, e))?;
            batches_of(reader, file, batch_rows, projection, consumed, emit)
        }
    }
}

fn batches_of<R: parquet::file::reader::ChunkReader + 'static>(
    reader: R,
    file: &InputFile,
    batch_rows: usize,
    projection: Projection,
    consumed: &AtomicU64,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> Result<()> {
    let input = |e: &dyn std::fmt::Display| Error::input_msg(&file.path, e.to_string());
    let found =
        ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new()).map_err(|e| input(&e))?;
    let polars_schema = polars_fields(found.schema()).map_err(|e| input(&e))?;
    let names: Vec<String> = polars_schema.iter_names().map(|n| n.to_string()).collect();
    check_required(file, &names)?;
    check_types(file, &polars_schema)?;
    let views = as_views(found.schema());
    let binary: Vec<&str> = (views.fields().iter())
        .filter(|f| f.data_type() == &ArrowType::BinaryView)
        .map(|f| f.name().as_str())
        .collect();
    let canonical = |name: &str| TEXT_COLUMNS.contains(&name) || INT_COLUMNS.contains(&name);
    let wanted = |name: &str| match projection {
        Projection::RequestIds => name == "request_id",
        Projection::Canonical => canonical(name),
        Projection::WithoutIds => name != "request_id" && canonical(name),
        // A binary label is still read: a value that is not UTF-8 rejects its row
        // (set_aside_bad_text) whether or not the run reads the column.
        Projection::Priced { ids } => {
            let unread = super::LABEL_COLUMNS.contains(&name) && !binary.contains(&name);
            (ids || name != "request_id") && !unread && canonical(name)
        }
    };
    let options = ArrowReaderOptions::new().with_schema(views.clone());
    let metadata =
        ArrowReaderMetadata::try_new(found.metadata().clone(), options).map_err(|e| input(&e))?;
    let columns = metadata.schema().fields().iter().enumerate();
    let roots: Vec<usize> = columns
        .filter(|(_, f)| wanted(f.name()))
        .map(|(i, _)| i)
        .collect();
    let row_groups: Vec<(u64, u64)> = (metadata.metadata().row_groups().iter())
        .map(|rg| {
            (
                rg.num_rows().max(0) as u64,
                rg.compressed_size().max(0) as u64,
            )
        })
        .collect();
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, metadata);
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| input(&e))?;
    let mut start = 0usize;
    for batch in batches {
        let batch = batch.map_err(|e| input(&e))?;
        let height = batch.num_rows();
        let raw = to_polars(&batch).map_err(|e| input(&e))?;
        let (frame, unreadable) = match projection {
            Projection::RequestIds => (ids_frame(raw, height).map_err(|e| input(&e))?, Vec::new()),
            Projection::Canonical | Projection::WithoutIds | Projection::Priced { .. } => {
                let rows = (start as i64 + 1..=(start + height) as i64).collect();
                let (raw, rows, unreadable) =
                    set_aside_bad_text(raw, rows).map_err(|e| input(&e))?;
                let frame =
                    canonical_named(raw, rows).map_err(|e| Error::input_msg(&file.path, e))?;
                (frame, unreadable)
            }
        };
        start += height;
        consumed.store(stored_bytes_before(&row_groups, start), Ordering::Relaxed);
        if !emit(Batch::new(frame, unreadable)) {
            break;
        }
    }
    Ok(())
}

/// A Parquet file billrun wrote (a stage or scratch file) as frames of at most
/// `batch_rows` rows, every column as stored, strings as views.
pub(crate) fn frames(
    path: &std::path::Path,
    batch_rows: usize,
) -> Result<impl Iterator<Item = Result<DataFrame>> + use<>> {
    let input = |e: &dyn std::fmt::Display| Error::input_msg(path, e.to_string());
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    let found =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| input(&e))?;
    let options = ArrowReaderOptions::new().with_schema(as_views(found.schema()));
    let metadata =
        ArrowReaderMetadata::try_new(found.metadata().clone(), options).map_err(|e| input(&e))?;
    let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| input(&e))?;
    let path = path.to_path_buf();
    Ok(batches.map(move |batch| {
        let input = |e: &dyn std::fmt::Display| Error::input_msg(&path, e.to_string());
        to_polars(&batch.map_err(|e| input(&e))?).map_err(|e| input(&e))
    }))
}

/// The file's schema with every string and binary column (plain or dictionary
/// encoded) read as views, the layout polars keeps.
fn as_views(schema: &Schema) -> Arc<Schema> {
    let fields = schema.fields().iter().map(|f| {
        let view = match f.data_type() {
            ArrowType::Utf8 | ArrowType::LargeUtf8 => Some(ArrowType::Utf8View),
            ArrowType::Binary | ArrowType::LargeBinary => Some(ArrowType::BinaryView),
            ArrowType::Dictionary(_, v) => match v.as_ref() {
                ArrowType::Utf8 | ArrowType::LargeUtf8 => Some(ArrowType::Utf8View),
                ArrowType::Binary | ArrowType::LargeBinary => Some(ArrowType::BinaryView),
                _ => None,
            },
            _ => None,
        };
        match view {
            Some(dtype) => Arc::new(ArrowRsField::clone(f).with_data_type(dtype)),
            None => f.clone(),
        }
    });
    Arc::new(Schema::new_with_metadata(
        fields.collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}

/// The schema as polars sees it: each field crosses the C data interface.
fn polars_fields(schema: &Schema) -> std::result::Result<ArrowSchema, String> {
    let mut out = ArrowSchema::default();
    for field in schema.fields() {
        let c = arrow_schema::ffi::FFI_ArrowSchema::try_from(field.as_ref())
            .map_err(|e| e.to_string())?;
        let field = import_field(&c)?;
        out.insert(field.name.clone(), field);
    }
    Ok(out)
}

/// An arrow-rs C schema read by polars.
fn import_field(
    c: &arrow_schema::ffi::FFI_ArrowSchema,
) -> std::result::Result<polars_arrow::datatypes::Field, String> {
    // SAFETY: both types are the C data interface's `ArrowSchema` (#[repr(C)], the
    // same fields); polars only reads it, and arrow-rs releases it when `c` drops.
    let c = unsafe { &*(c as *const _ as *const polars_arrow::ffi::ArrowSchema) };
    unsafe { polars_arrow::ffi::import_field_from_c(c) }.map_err(|e| e.to_string())
}

/// One arrow-rs batch as a polars frame, column by column through the C data
/// interface (buffers are shared, not copied).
fn to_polars(batch: &RecordBatch) -> std::result::Result<DataFrame, String> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let (c_array, c_schema) =
            arrow_array::ffi::to_ffi(&array.to_data()).map_err(|e| e.to_string())?;
        let dtype = import_field(&c_schema)?.dtype;
        // SAFETY: `ArrowArray` is the C data interface's struct on both sides; the
        // array moves into polars, which calls its release callback when the last
        // buffer is dropped.
        let c_array: polars_arrow::ffi::ArrowArray = unsafe { std::mem::transmute(c_array) };
        let imported = unsafe { polars_arrow::ffi::import_array_from_c(c_array, dtype) }
            .map_err(|e| e.to_string())?;
        let series = Series::from_arrow(field.name().as_str().into(), imported)
            .map_err(|e| e.to_string())?;
        columns.push(series.into_column());
    }
    DataFrame::new(batch.num_rows(), columns).map_err(|e| e.to_string())
}

/// How far into the file row `rows` is, in stored (compressed) bytes, from each row
/// group's (rows, bytes): the groups before it whole, and the share of its own group
/// that precedes it.
fn stored_bytes_before(row_groups: &[(u64, u64)], rows: usize) -> u64 {
    let mut seen = 0u64;
    let mut bytes = 0u64;
    let rows = rows as u64;
    for &(n, size) in row_groups {
        if seen + n > rows {
            let part = rows - seen;
            return bytes + (size as u128 * part as u128 / n.max(1) as u128) as u64;
        }
        seen += n;
        bytes += size;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_moves_within_a_row_group() {
        let groups = [(100, 1000), (100, 3000)];
        let at = |rows| stored_bytes_before(&groups, rows);
        assert_eq!(
            [at(0), at(50), at(100), at(150), at(200), at(500)],
            [0, 500, 1000, 2500, 4000, 4000]
        );
        assert_eq!(stored_bytes_before(&[(0, 10)], 0), 10);
    }

    /// A file of one 1,000-row group, read with `batch_rows`: each batch's height,
    /// the ids read in order, and the progress after each batch.
    fn read(batch_rows: usize, projection: Projection) -> (Vec<usize>, Vec<String>, Vec<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one-group.parquet");
        let n = 1000;
        let mut df = df!(
            "timestamp" => vec!["2025-11-01T00:00:00Z"; n],
            "region" => vec!["us-east-1"; n],
            "model_id" => vec!["m"; n],
            "request_id" => (0..n).map(|i| format!("id-{i:04}")).collect::<Vec<_>>(),
            "input_tokens" => (0..n as i64).collect::<Vec<_>>(),
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .with_row_group_size(Some(n))
            .finish(&mut df)
            .unwrap();
        let bytes = std::fs::metadata(&path).unwrap().len();
        let file = InputFile {
            path,
            kind: super::super::InputKind::Parquet,
            bytes,
            stream: false,
            remote: None,
        };
        let consumed = AtomicU64::new(0);
        let (mut heights, mut ids, mut progress) = (vec![], vec![], vec![]);
        parquet_batches(&file, batch_rows, projection, &consumed, &mut |b| {
            heights.push(b.frame.height());
            let col = b.frame.column("request_id").unwrap().str().unwrap().clone();
            ids.extend(col.iter().map(|v| v.unwrap().to_string()));
            progress.push(consumed.load(Ordering::Relaxed));
            true
        })
        .unwrap();
        (heights, ids, progress)
    }

    #[test]
    fn a_priced_read_leaves_text_labels_and_ids_undecoded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.parquet");
        let mut df = df!(
            "timestamp" => ["2025-11-01T00:00:00Z"],
            "region" => ["us-east-1"],
            "model_id" => ["m"],
            "request_id" => ["id-1"],
            "account_id" => ["111122223333"],
            "principal" => ["arn:aws:iam::111122223333:user/a"],
            "inference_region" => [b"us-west-2".as_slice()],
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let file = InputFile {
            bytes: std::fs::metadata(&path).unwrap().len(),
            path,
            kind: super::super::InputKind::Parquet,
            stream: false,
            remote: None,
        };
        let nulls = |projection| {
            let mut frame = None;
            parquet_batches(&file, 10, projection, &AtomicU64::new(0), &mut |b| {
                frame = Some(b.frame);
                true
            })
            .unwrap();
            let frame = frame.unwrap();
            [
                "request_id",
                "account_id",
                "principal",
                "inference_region",
                "model_id",
            ]
            .map(|c| frame.column(c).unwrap().null_count())
        };
        assert_eq!(nulls(Projection::Canonical), [0, 0, 0, 0, 0]);
        // The binary label is read: its values are checked to be UTF-8.
        assert_eq!(nulls(Projection::Priced { ids: true }), [0, 1, 1, 0, 0]);
        assert_eq!(nulls(Projection::Priced { ids: false }), [1, 1, 1, 0, 0]);
    }

    #[test]
    fn batches_never_exceed_batch_rows_within_one_row_group() {
        let all: Vec<String> = (0..1000).map(|i| format!("id-{i:04}")).collect();
        for projection in [Projection::Canonical, Projection::RequestIds] {
            for batch_rows in [1, 64, 999, 1000, 5000] {
                let (heights, ids, progress) = read(batch_rows, projection);
                assert!(
                    heights.iter().all(|&h| h <= batch_rows && h > 0),
                    "{heights:?}"
                );
                assert_eq!(heights.len(), 1000usize.div_ceil(batch_rows));
                assert_eq!(ids, all);
                assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
            }
        }
    }
}
