//! Writers for report tables: CSV and Parquet behind one small trait.
//!
//! Rows arrive in batches of any size; the Parquet sink re-cuts them into row groups
//! of a fixed size, so the bytes of a file never depend on how input was batched or
//! how many threads ran.

use super::table::{Schema, Table};
use crate::error::{Error, Result};
use polars::io::parquet::write::KeyValueMetadata;
use polars::prelude::{
    CompatLevel, ParquetCompression, ParquetWriter, SchemaExt, StatisticsOptions,
};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

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
pub trait TableSink: Send {
    fn write(&mut self, rows: Table) -> Result<()>;
    /// Flushes and closes; returns the number of rows written.
    fn finish(self: Box<Self>) -> Result<u64>;
}

/// A sink written on its own thread: `write` hands rows over (at most `WAITING`
/// batches queued, so memory stays bounded) and returns, so turning them into a table
/// and encoding it overlap the rating; batches are written in the order given.
pub struct Background<T: Send + 'static> {
    name: String,
    send: Option<SyncSender<T>>,
    thread: Option<JoinHandle<Result<u64>>>,
}

const WAITING: usize = 4;

impl<T: Send + 'static> Background<T> {
    pub fn spawn(name: &str, mut sink: Box<dyn TableSink>, to_table: fn(T) -> Table) -> Self {
        let (send, recv) = sync_channel::<T>(WAITING);
        let work = move || {
            for rows in recv {
                sink.write(to_table(rows))?;
            }
            sink.finish()
        };
        let thread = std::thread::Builder::new()
            .name(format!("{name}-writer"))
            .spawn(work)
            .expect("spawn a report writer thread");
        Background {
            name: name.to_string(),
            send: Some(send),
            thread: Some(thread),
        }
    }

    pub fn write(&mut self, rows: T) -> Result<()> {
        match self.send.as_ref().map(|s| s.send(rows)) {
            Some(Ok(())) => Ok(()),
            // The writer stopped early: its error.
            _ => match self.join() {
                Err(e) => Err(e),
                Ok(_) => Err(Error::output_msg(
                    Path::new(&self.name),
                    "report writer stopped",
                )),
            },
        }
    }

    /// Waits for everything handed over to be written; the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        drop(self.send.take());
        self.join()
    }

    fn join(&mut self) -> Result<u64> {
        let panicked = || Error::output_msg(Path::new(&self.name), "report writer panicked");
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| Err(panicked())),
            None => Err(Error::output_msg(
                Path::new(&self.name),
                "report writer stopped",
            )),
        }
    }
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
            .with_key_value_metadata(Some(plain_arrow_schema(&polars_schema)))
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

/// The Arrow schema a Parquet file carries for Arrow readers, at polars' oldest
/// compatibility level: text as plain (large) strings, not string views, which
/// pyarrow before 15 cannot open ("Unrecognized type: 24"). polars 0.55's writer
/// always declares views, but keeps an `ARROW:schema` key given to it; the column
/// data is the same either way (Parquet BYTE_ARRAY, UTF-8).
fn plain_arrow_schema(schema: &polars::prelude::Schema) -> KeyValueMetadata {
    let arrow = schema.to_arrow(CompatLevel::oldest());
    let kv = polars_parquet::write::schema_to_metadata_key(&arrow);
    KeyValueMetadata::from_static(vec![(kv.key, kv.value.unwrap_or_default())])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::table::Values;

    /// Records the row count of each table; fails on the `fail_at`-th write.
    struct Recording {
        seen: Arc<Mutex<Vec<usize>>>,
        fail_at: Option<usize>,
    }

    impl TableSink for Recording {
        fn write(&mut self, rows: Table) -> Result<()> {
            let mut seen = self.seen.lock().unwrap();
            if Some(seen.len()) == self.fail_at {
                return Err(Error::output_msg(Path::new("x"), "disk full"));
            }
            seen.push(rows.len());
            Ok(())
        }

        fn finish(self: Box<Self>) -> Result<u64> {
            Ok(self.seen.lock().unwrap().iter().sum::<usize>() as u64)
        }
    }

    fn rows(n: usize) -> Table {
        Table {
            names: vec!["n".into()],
            columns: vec![Values::Int(vec![Some(1); n])],
        }
    }

    #[test]
    fn a_background_sink_writes_in_order_and_reports_the_writers_error() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Box::new(Recording {
            seen: seen.clone(),
            fail_at: None,
        });
        let mut background = Background::spawn("t", sink, rows);
        for n in 1..=20 {
            background.write(n).unwrap();
        }
        assert_eq!(background.finish().unwrap(), 210);
        assert_eq!(*seen.lock().unwrap(), (1..=20).collect::<Vec<_>>());

        let failing = Box::new(Recording {
            seen: Arc::new(Mutex::new(Vec::new())),
            fail_at: Some(3),
        });
        let mut background = Background::spawn("t", failing, rows);
        // The failure surfaces on a later write (once the queue backs up) or at finish.
        let written: Result<()> = (1..=20).try_for_each(|n| background.write(n));
        let outcome = written.and_then(|()| background.finish().map(|_| ()));
        let message = outcome.unwrap_err().to_string();
        assert!(message.contains("disk full"), "{message}");
    }
}
