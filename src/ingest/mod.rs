//! Finding input files and reading them as batches of canonical usage columns.
//!
//! Each file is read by a reader thread (`table` for CSV, `parquet`, `logs` for
//! invocation logs) that hands normalised batches over a bounded channel, so reading
//! overlaps rating and memory holds a few batches, never a file.

pub mod logs;
mod parquet;
pub(crate) use parquet::frames as parquet_frames;
pub mod records;
pub mod s3;
pub mod table;

use crate::error::{Error, Result};
pub use crate::vocab::{Skipped, Unreadable};
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
    /// Bytes of the file read so far, as stored (compressed), when the batch was cut:
    /// the progress bar moves within a file.
    pub consumed: u64,
}

impl Batch {
    /// A batch as a reader cuts it (`consumed` is set when it is handed over).
    pub fn new(frame: DataFrame, unreadable: Vec<Unreadable>) -> Batch {
        Batch {
            frame,
            unreadable,
            consumed: 0,
        }
    }
}

/// A reader that counts the bytes read through it into a shared counter.
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
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
        } else if [".json", ".jsonl", ".ndjson", ".gz"]
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
    /// A FIFO named on the command line: read once, as a stream.
    pub stream: bool,
    /// An S3 object (`path` is then its `s3://` URL).
    pub remote: Option<std::sync::Arc<s3::Object>>,
}

/// What `discover` found.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<InputFile>,
    pub skipped: Vec<Skipped>,
}

/// Every input file under the given paths, sorted by path so that the order (and so
/// which duplicate wins) does not depend on argument order or directory listing order.
/// A file reached twice (named twice, or through a symbolic link) is read once.
/// Skipped and returned: files of other kinds inside directories (such as the
/// `amazon-bedrock-logs-permission-check` object), Bedrock's large-body objects
/// (`.../BedrockModelInvocationLogs/.../HH/data/`), and anything that is not a regular
/// file (FIFOs, sockets, devices). A file named explicitly must be of a known kind;
/// a directory argument must hold at least one usage file.
///
/// `s3://bucket/prefix` inputs are listed (`ingest::s3`); `window` (`--from`, `--to`,
/// micros) prunes the Bedrock layout's hour folders there.
pub fn discover(inputs: &[PathBuf], window: Option<(i64, i64)>) -> Result<Discovered> {
    let mut walk = Walk::default();
    for input in inputs {
        if s3::is_s3(input) {
            let listed = s3::list(&input.to_string_lossy(), window)?;
            walk.usable += listed.files.len();
            walk.found.files.extend(listed.files);
            walk.found.skipped.extend(listed.skipped);
            continue;
        }
        let meta = std::fs::metadata(input).map_err(|e| Error::input(input, e))?;
        if meta.is_dir() {
            let (before, skipped_before) = (walk.usable, walk.found.skipped.len());
            let canonical = input.canonicalize().map_err(|e| Error::input(input, e))?;
            walk.dir(input, &meta, &canonical)?;
            if walk.usable == before {
                return Err(nothing_readable(
                    input,
                    &walk.found.skipped[skipped_before..],
                ));
            }
        } else {
            walk.named_file(input, &meta)?;
        }
    }
    let mut found = walk.found;
    found.files.sort_by(|a, b| a.path.cmp(&b.path));
    found.skipped.sort();
    // The S3 objects read as streams, in reading order, for the prefetcher (Parquet
    // objects are read by ranges instead).
    let streamed = found.files.iter().filter(|f| f.kind != InputKind::Parquet);
    s3::announce(
        streamed
            .filter_map(|f| f.remote.as_deref().cloned())
            .collect(),
    );
    Ok(found)
}

fn nothing_readable(dir: &Path, skipped: &[Skipped]) -> Error {
    let examples: Vec<String> = skipped.iter().take(3).map(Skipped::describe).collect();
    let detail = match skipped.len() {
        0 => "it is empty".to_string(),
        n => format!("{n} files skipped, e.g. {}", examples.join("; ")),
    };
    Error::Usage(format!(
        "{}: no usage file found ({detail}). billrun reads {}; name other files explicitly only if they are of these kinds",
        dir.display(),
        KNOWN_KINDS
    ))
}

const KNOWN_KINDS: &str =
    ".csv, .csv.gz, .parquet, and logs: .json, .jsonl, .ndjson (each maybe .gz), .gz";

/// Directory traversal state: what was found, and every file and directory already
/// reached (by device and inode), so links and repeated arguments read nothing twice
/// and a link loop ends.
#[derive(Default)]
struct Walk {
    found: Discovered,
    seen: std::collections::HashMap<(u64, u64), PathBuf>,
    /// Usage files and directories reached, including those already read: a
    /// directory argument that reaches none holds nothing readable.
    usable: usize,
}

impl Walk {
    fn named_file(&mut self, input: &Path, meta: &std::fs::Metadata) -> Result<()> {
        use std::os::unix::fs::FileTypeExt;
        let kind = InputKind::of(input).ok_or_else(|| {
            Error::Usage(format!(
                "{}: unknown input kind (expected {KNOWN_KINDS})",
                crate::error::clip(&input.display().to_string())
            ))
        })?;
        let fifo = meta.file_type().is_fifo();
        if !meta.is_file() && !fifo {
            return Err(Error::Usage(format!(
                "{}: not a regular file; billrun reads files, directories and FIFOs",
                input.display()
            )));
        }
        if fifo && kind == InputKind::Parquet {
            return Err(Error::Usage(format!(
                "{}: a FIFO cannot be read as Parquet (Parquet needs a seekable file)",
                input.display()
            )));
        }
        self.add(input, kind, meta, fifo);
        Ok(())
    }

    /// A usage file, read unless it was reached before (then listed as skipped).
    fn add(&mut self, path: &Path, kind: InputKind, meta: &std::fs::Metadata, stream: bool) {
        self.usable += 1;
        if self.first_visit(path, meta) {
            self.found.files.push(InputFile {
                path: path.to_path_buf(),
                kind,
                bytes: if stream { 0 } else { meta.len() },
                stream,
                remote: None,
            });
        }
    }

    /// True the first time this file or directory is reached; later visits are
    /// listed as skipped.
    fn first_visit(&mut self, path: &Path, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        match self.seen.get(&(meta.dev(), meta.ino())) {
            None => {
                self.seen
                    .insert((meta.dev(), meta.ino()), path.to_path_buf());
                true
            }
            Some(first) => {
                let reason = format!("same file as {}", first.display());
                self.skip(path, reason);
                false
            }
        }
    }

    fn skip(&mut self, path: &Path, reason: impl Into<String>) {
        self.found.skipped.push(Skipped {
            path: path.display().to_string(),
            reason: reason.into(),
        });
    }

    /// `dir` as named, its metadata, and its canonical path (for recognising
    /// Bedrock's layout). A directory already read counts as usable.
    fn dir(&mut self, dir: &Path, meta: &std::fs::Metadata, canonical: &Path) -> Result<()> {
        if !self.first_visit(dir, meta) {
            self.usable += 1;
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(|e| Error::input(dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            paths.push(entry.map_err(|e| Error::input(dir, e))?.file_name());
        }
        paths.sort();
        for name in paths {
            let (path, real) = (dir.join(&name), canonical.join(&name));
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.skip(&path, format!("cannot be read: {e}"));
                    continue;
                }
            };
            if meta.is_dir() {
                if is_large_body_folder(&real) {
                    self.skip(&path, "Bedrock large-body objects (data/), not log records");
                    continue;
                }
                let real = std::fs::canonicalize(&path).unwrap_or(real);
                self.dir(&path, &meta, &real)?;
            } else if !meta.is_file() {
                self.skip(&path, "not a regular file");
            } else if let Some(kind) = InputKind::of(&path) {
                self.add(&path, kind, &meta, false);
            } else {
                self.skip(&path, "not a usage file kind");
            }
        }
        Ok(())
    }
}

/// Bedrock puts large request and response bodies in `data/` under an hour folder
/// of its S3 layout: `.../BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/data/`.
/// Any other folder named `data` is read as usual.
fn is_large_body_folder(path: &Path) -> bool {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    let n = parts.len();
    let two_digits = |s: &std::ffi::OsStr| {
        s.len() == 2
            && s.to_str()
                .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
    };
    n >= 7
        && parts[n - 1] == "data"
        && two_digits(parts[n - 2])
        && parts[..n - 2]
            .iter()
            .any(|p| *p == "BedrockModelInvocationLogs")
}

/// How long a FIFO named as input may wait for its writer: 10 s, or
/// `BILLRUN_FIFO_WAIT_SECS`.
fn fifo_wait() -> std::time::Duration {
    let secs = std::env::var("BILLRUN_FIFO_WAIT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    std::time::Duration::from_secs(secs)
}

/// Opens an input for reading. A FIFO's open blocks until a writer opens it; billrun
/// waits `fifo_wait()` for one, then opens the write end itself (which releases the
/// blocked open) and fails, instead of hanging forever.
pub fn open_input(file: &InputFile) -> Result<Box<dyn std::io::Read + Send>> {
    if let Some(object) = &file.remote {
        return Ok(Box::new(s3::open(object)?));
    }
    if !file.stream {
        let f = File::open(&file.path).map_err(|e| Error::input(&file.path, e))?;
        return Ok(Box::new(f));
    }
    let (send, recv) = std::sync::mpsc::channel();
    let path = file.path.clone();
    std::thread::spawn(move || send.send(File::open(&path)).ok());
    let wait = fifo_wait();
    match recv.recv_timeout(wait) {
        Ok(opened) => opened
            .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)
            .map_err(|e| Error::input(&file.path, e)),
        Err(_) => {
            use std::os::unix::fs::OpenOptionsExt;
            let release = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&file.path);
            drop(release);
            Err(Error::input_msg(
                &file.path,
                format!(
                    "a FIFO with no writer after {} s; start the program that writes it first",
                    wait.as_secs()
                ),
            ))
        }
    }
}

/// What a read yields: the canonical columns, or (for the first pass of
/// `--dedup disk`) Parquet's `request_id` column alone; text inputs are always read
/// whole, so their rows are the same either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    Canonical,
    RequestIds,
    /// The canonical columns but `request_id` (null): of Parquet, the id column is
    /// not decoded; other readers read it anyway.
    WithoutIds,
    /// What pricing reads when no report names an account, principal or inference
    /// region (no line items, cost centers, capacity models, or groups by them):
    /// of Parquet, those columns are not decoded (null, as when a file lacks them),
    /// nor `request_id` unless `ids`; other readers read them anyway.
    Priced {
        ids: bool,
    },
}

/// Columns only line items, cost centers, imported-model windows and groups by
/// account or principal read.
pub const LABEL_COLUMNS: [&str; 3] = ["account_id", "principal", "inference_region"];

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
        .unwrap_or_else(|_| Err(Error::input_msg(&file.path, "reader thread panicked")));
    outcome.and(produced)
}

/// Hands batches to `send` until the file ends or the receiver hangs up.
fn produce(
    file: &InputFile,
    batch_rows: usize,
    projection: Projection,
    send: &SyncSender<Result<Batch>>,
) -> Result<()> {
    let consumed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let open = || {
        open_input(file).map(|f| Counting {
            inner: f,
            count: consumed.clone(),
        })
    };
    // One chunk per column: the rating reads single Arrow arrays in place.
    let mut emit = |mut batch: Batch| {
        batch.frame.rechunk_mut_par();
        batch.consumed = consumed.load(std::sync::atomic::Ordering::Relaxed);
        send.send(Ok(batch)).is_ok()
    };
    let result = match file.kind {
        InputKind::Parquet => {
            parquet::parquet_batches(file, batch_rows, projection, &consumed, &mut emit)
        }
        // gzip by content, as for logs: the extension only says what to expect.
        InputKind::Csv | InputKind::CsvGz => match gunzipped(BufReader::new(open()?)) {
            Ok(gz) => table::csv_batches(file, BufReader::new(gz), batch_rows, &mut emit),
            Err(plain) => table::csv_batches(file, plain, batch_rows, &mut emit),
        },
        InputKind::Log => logs::log_batches(open()?, batch_rows, &mut emit),
    };
    if let Err(e) = result {
        send.send(Err(e)).ok();
    }
    Ok(())
}

/// `input` decompressed when it starts like gzip (`Err` hands it back as it is).
pub(crate) fn gunzipped<R: std::io::BufRead>(
    mut input: R,
) -> std::result::Result<flate2::read::MultiGzDecoder<R>, R> {
    match input
        .fill_buf()
        .is_ok_and(|head| head.starts_with(&[0x1f, 0x8b]))
    {
        true => Ok(flate2::read::MultiGzDecoder::new(input)),
        false => Err(input),
    }
}
