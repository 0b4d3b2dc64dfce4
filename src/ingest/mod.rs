//! Finding input files and reading them as batches of canonical usage columns.

pub mod table;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The formats billrun reads, by file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Csv,
    CsvGz,
    Parquet,
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
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Csv => "csv",
            InputKind::CsvGz => "csv.gz",
            InputKind::Parquet => "parquet",
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
/// Files of other kinds inside directories are skipped and returned; a file named
/// explicitly must be of a known kind.
pub fn discover(inputs: &[PathBuf]) -> Result<(Vec<InputFile>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::input(input, e))?;
        if meta.is_dir() {
            walk(input, &mut files, &mut skipped)?;
        } else {
            let kind = InputKind::of(input).ok_or_else(|| {
                Error::Usage(format!(
                    "{}: unknown input kind (expected .csv, .csv.gz or .parquet)",
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

fn walk(dir: &Path, files: &mut Vec<InputFile>, skipped: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::input(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::input(dir, e))?.path();
        let meta = std::fs::metadata(&path).map_err(|e| Error::input(&path, e))?;
        if meta.is_dir() {
            walk(&path, files, skipped)?;
        } else if let Some(kind) = InputKind::of(&path) {
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
