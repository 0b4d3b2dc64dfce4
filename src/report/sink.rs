//! Writers for report tables: CSV and Parquet behind one small trait.
//!
//! Rows arrive in batches of any size; the Parquet sink re-cuts them into row groups
//! of a fixed size, so the bytes of a file never depend on how input was batched or
//! how many threads ran.

use super::table::{Schema, Table};
use crate::error::{Error, Result};
use polars::prelude::{ParquetCompression, ParquetWriter, StatisticsOptions};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 131_072;

/// Output format of the reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

/// A report being written.
pub trait TableSink {
    fn write(&mut self, rows: Table) -> Result<()>;
    /// Flushes and closes; returns the number of rows written.
    fn finish(self: Box<Self>) -> Result<u64>;
}

/// Opens `<dir>/<stem>.<ext>` for writing.
pub fn open(format: Format, dir: &Path, stem: &str, schema: &Schema) -> Result<Box<dyn TableSink>> {
    let path = dir.join(format!("{stem}.{}", format.extension()));
    let file = File::create(&path).map_err(|e| Error::output(&path, e))?;
    Ok(match format {
        Format::Csv => Box::new(CsvSink::new(path, file, schema)?),
        Format::Parquet => Box::new(ParquetSink::new(path, file, schema)?),
    })
}

struct CsvSink {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    rows: u64,
}

impl CsvSink {
    fn new(path: PathBuf, file: File, schema: &Schema) -> Result<CsvSink> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(BufWriter::new(file));
        writer
            .write_record(schema.iter().map(|(n, _)| n))
            .map_err(|e| Error::output(&path, e))?;
        Ok(CsvSink {
            path,
            writer,
            rows: 0,
        })
    }
}

impl TableSink for CsvSink {
    fn write(&mut self, rows: Table) -> Result<()> {
        for i in 0..rows.len() {
            let record = rows.columns.iter().map(|c| c.text_at(i));
            self.writer
                .write_record(record)
                .map_err(|e| Error::output(&self.path, e))?;
        }
        self.rows += rows.len() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64> {
        self.writer
            .flush()
            .map_err(|e| Error::output(&self.path, e))?;
        Ok(self.rows)
    }
}

struct ParquetSink {
    path: PathBuf,
    writer: polars::io::parquet::write::BatchedWriter<SharedFile>,
    /// The buffered file, shared with the writer so `finish` can flush it and see
    /// the error (a flush on drop would lose a disk-full error).
    file: SharedFile,
    pending: Table,
    rows: u64,
}

impl ParquetSink {
    fn new(path: PathBuf, file: File, schema: &Schema) -> Result<ParquetSink> {
        let err = |e| Error::output(&path, e);
        let polars_schema = Table::polars_schema(schema).map_err(err)?;
        let file = SharedFile(Arc::new(Mutex::new(BufWriter::new(file))));
        let writer = ParquetWriter::new(file.clone())
            .with_compression(ParquetCompression::Snappy)
            .with_statistics(StatisticsOptions::default())
            .batched(&polars_schema)
            .map_err(err)?;
        Ok(ParquetSink {
            pending: Table::new(schema),
            path,
            writer,
            file,
            rows: 0,
        })
    }

    fn flush_group(&mut self, rows: usize) -> Result<()> {
        let group = self.pending.take_front(rows);
        let df = group.to_frame().map_err(|e| Error::output(&self.path, e))?;
        self.writer
            .write_batch(&df)
            .map_err(|e| Error::output(&self.path, e))?;
        self.rows += rows as u64;
        Ok(())
    }
}

impl TableSink for ParquetSink {
    fn write(&mut self, rows: Table) -> Result<()> {
        self.pending.append(rows);
        while self.pending.len() >= ROW_GROUP_ROWS {
            self.flush_group(ROW_GROUP_ROWS)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64> {
        if !self.pending.is_empty() {
            self.flush_group(self.pending.len())?;
        }
        self.writer
            .finish()
            .map_err(|e| Error::output(&self.path, e))?;
        self.file
            .flush()
            .map_err(|e| Error::output(&self.path, e))?;
        Ok(self.rows)
    }
}

/// A buffered file that several owners can write and flush.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

impl SharedFile {
    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, BufWriter<File>>> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("report writer poisoned"))
    }
}

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.lock()?.flush()
    }
}
