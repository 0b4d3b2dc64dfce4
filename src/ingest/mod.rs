//! Finding input files and reading them as batches of canonical usage columns.
//!
//! Each file is read by a reader thread (`table` for CSV and Parquet, `logs` for
//! invocation logs) that hands normalised batches over a bounded channel, so reading
//! overlaps rating and memory holds a few batches, never a file.

pub mod logs;
pub mod records;
pub mod table;

use crate::error::{Error, Result};
use crate::pricing::reasons::Reason;
use polars::prelude::DataFrame;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};

/// A batch of canonical rows, with the records of the same stretch of input that
/// could not be read as rows at all (they become rejects).
pub struct Batch {
    pub frame: DataFrame,
    pub unreadable: Vec<Unreadable>,
}

/// An input record that could not be read: its 1-based row (or line) number and why.
pub struct Unreadable {
    pub row: i64,
    pub reason: Reason,
    pub request_id: Option<String>,
    pub message: String,
}

impl Unreadable {
    pub fn new(row: i64, reason: Reason, message: String) -> Unreadable {
        Unreadable {
            row,
            reason,
            request_id: None,
            message,
        }
    }
}

/// The formats billrun reads, by file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Csv,
    CsvGz,
    Parquet,
    /// Bedrock model-invocation log (JSON, maybe gzipped).
    Log,
}

impl InputKind {
    pub fn of(path: &Path) -> Option<InputKind> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".csv.gz") {
            Some(InputKind::CsvGz)
        } else if name.ends_with(".csv") {
            Some(InputKind::Csv)
        } else if name.ends_with(".parquet") {
            Some(InputKind::Parquet)
        } else if [".json", ".jsonl", ".json.gz", ".jsonl.gz", ".gz"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            Some(InputKind::Log)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Csv => "csv",
            InputKind::CsvGz => "csv.gz",
            InputKind::Parquet => "parquet",
            InputKind::Log => "log",
        }
    }
}

/// One input file.
#[derive(Clone, Debug)]
pub struct InputFile {
    pub path: PathBuf,
    pub kind: InputKind,
    pub bytes: u64,
}

/// Every input file under the given paths, sorted by path so that the order (and so
/// which duplicate wins) does not depend on argument order or directory listing order.
/// Skipped and returned: files of other kinds inside directories (such as the
/// `amazon-bedrock-logs-permission-check` object), and logs under a `data/` folder
/// below a directory argument (Bedrock's large-body objects, not records). A file
/// named explicitly must be of a known kind.
pub fn discover(inputs: &[PathBuf]) -> Result<(Vec<InputFile>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::input(input, e))?;
        if meta.is_dir() {
            walk(input, false, &mut files, &mut skipped)?;
        } else {
            let kind = InputKind::of(input).ok_or_else(|| {
                Error::Usage(format!(
                    "{}: unknown input kind (expected .csv, .csv.gz, .parquet, or a log: .json, .jsonl, .json.gz, .jsonl.gz, .gz)",
                    input.display()
                ))
            })?;
            files.push(InputFile {
                path: input.clone(),
                kind,
                bytes: meta.len(),
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    skipped.sort();
    Ok((files, skipped))
}

fn walk(
    dir: &Path,
    in_data: bool,
    files: &mut Vec<InputFile>,
    skipped: &mut Vec<PathBuf>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::input(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::input(dir, e))?.path();
        let meta = std::fs::metadata(&path).map_err(|e| Error::input(&path, e))?;
        if meta.is_dir() {
            let data = in_data || path.file_name().is_some_and(|n| n == "data");
            walk(&path, data, files, skipped)?;
        } else if let Some(kind) =
            InputKind::of(&path).filter(|k| !(in_data && *k == InputKind::Log))
        {
            files.push(InputFile {
                path,
                kind,
                bytes: meta.len(),
            });
        } else {
            skipped.push(path);
        }
    }
    Ok(())
}

/// What a read yields: the canonical columns, or (for the first pass of
/// `--dedup disk`) Parquet's `request_id` column alone; text inputs are always read
/// whole, so their rows are the same either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    Canonical,
    RequestIds,
}

/// Reads `file` in batches of about `batch_rows` rows and calls `on_batch` with each,
/// in file order.
pub fn read_batches(
    file: &InputFile,
    batch_rows: usize,
    on_batch: impl FnMut(Batch) -> Result<()>,
) -> Result<()> {
    read_projected(file, batch_rows, Projection::Canonical, on_batch)
}

/// `read_batches` with a choice of columns.
pub fn read_projected(
    file: &InputFile,
    batch_rows: usize,
    projection: Projection,
    mut on_batch: impl FnMut(Batch) -> Result<()>,
) -> Result<()> {
    let (send, recv) = sync_channel::<Result<Batch>>(1);
    let owned = file.clone();
    let reader = std::thread::spawn(move || produce(&owned, batch_rows.max(1), projection, &send));
    let mut outcome = Ok(());
    for batch in recv.iter() {
        outcome = batch.and_then(&mut on_batch);
        if outcome.is_err() {
            break;
        }
    }
    // Closing the channel tells the reader to stop early after a failure.
    drop(recv);
    let produced = reader
        .join()
        .unwrap_or_else(|_| Err(Error::input(&file.path, "reader thread panicked")));
    outcome.and(produced)
}

/// Hands batches to `send` until the file ends or the receiver hangs up.
fn produce(
    file: &InputFile,
    batch_rows: usize,
    projection: Projection,
    send: &SyncSender<Result<Batch>>,
) -> Result<()> {
    let open = || File::open(&file.path).map_err(|e| Error::input(&file.path, e));
    // One chunk per column: the rating reads single Arrow arrays in place.
    let mut emit = |mut batch: Batch| {
        batch.frame.rechunk_mut_par();
        send.send(Ok(batch)).is_ok()
    };
    let result = match file.kind {
        InputKind::Parquet => table::parquet_batches(file, batch_rows, projection, &mut emit),
        InputKind::Csv => table::csv_batches(file, BufReader::new(open()?), batch_rows, &mut emit),
        InputKind::CsvGz => {
            let gz = flate2::read::MultiGzDecoder::new(BufReader::new(open()?));
            table::csv_batches(file, BufReader::new(gz), batch_rows, &mut emit)
        }
        InputKind::Log => logs::log_batches(file, batch_rows, &mut emit),
    };
    if let Err(e) = result {
        send.send(Err(e)).ok();
    }
    Ok(())
}
