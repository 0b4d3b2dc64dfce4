//! What `--out` may be, and how it is replaced: billrun writes and replaces only what
//! it wrote.
//!
//! Before a run reads anything it claims `--out`: the directory must be missing,
//! empty, or hold a previous billrun run (a manifest and nothing billrun did not
//! write) of the same layout; it may not be, contain or lie inside an input. The
//! claim holds a lock beside `--out` (`.NAME.billrun-lock`) for the whole run, so two
//! runs on one `--out` fail clearly instead of racing, and clears the staging that
//! dead runs left. The commit swaps the staged directory in with one atomic exchange
//! (`renameat2(RENAME_EXCHANGE)`), so no instant exists without `--out`.

use crate::error::{Error, Result};
pub use crate::replace::{exchange, hidden_sibling, put_in_place};
use std::fs::File;
use std::path::{Path, PathBuf};

/// How a run's reports are laid out under `--out`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `summary.<ext>`, `rejects.<ext>`, ... and `manifest.json` at the top.
    Flat { ext: String },
    /// `<table>/<column>=<value>/part-0.<ext>` and `_runs/<run>/`.
    Partitioned { column: String, ext: String },
    /// A staged command's output (`map` shard, `reduce` partial): `stage.json`
    /// naming the stage and listing every other file.
    Stage { stage: String },
}

/// The file that marks a staged command's output and lists its files.
pub const STAGE_FILE: &str = "stage.json";

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layout::Flat { ext } => write!(f, "single {ext} reports"),
            Layout::Partitioned { column, ext } => {
                let by = if column == "month" { "month" } else { "day" };
                write!(f, "{ext} reports partitioned by {by}")
            }
            Layout::Stage { stage } => write!(f, "a billrun {stage} stage output"),
        }
    }
}

/// Files a flat run (or a reconciliation) writes besides the manifest.
const FLAT_STEMS: [&str; 7] = [
    "summary",
    "line_items",
    "rejects",
    "focus",
    RECONCILE_STEMS[0],
    RECONCILE_STEMS[1],
    RECONCILE_STEMS[2],
];
/// Report files `billrun reconcile` writes (besides its manifest).
pub const RECONCILE_STEMS: [&str; 3] = ["reconcile", "unmapped", "trueup"];
const TABLES: [&str; 3] = super::output::PARTITIONED_TABLES;
const RUNS: &str = super::output::RUNS_DIR;

/// `--out`, claimed for one run.
pub struct OutDir {
    /// `--out` with its parent made canonical.
    pub path: PathBuf,
    /// What is there now (`None`: missing or empty).
    pub existing: Option<Layout>,
    /// Held until the run ends; the OS drops the lock if the process dies.
    lock: Option<(File, PathBuf)>,
}

impl Drop for OutDir {
    /// The lock file goes while it is still locked; a run that opened it meanwhile
    /// sees that the path no longer names the file it locked, and tries again.
    fn drop(&mut self) {
        if let Some((file, path)) = self.lock.take() {
            std::fs::remove_file(&path).ok();
            drop(file);
        }
    }
}

impl OutDir {
    /// A hidden sibling of `--out`: `.NAME.billrun-<what>-<pid>`.
    pub fn sibling(&self, what: &str) -> PathBuf {
        hidden_sibling(&self.path, what)
    }
}

/// Claims `out` for a run of `layout` that reads `inputs`: checks, locks, clears dead
/// staging. `replace`: a previous billrun run of another layout may be replaced whole.
pub fn claim(out: &Path, layout: &Layout, replace: bool, inputs: &[PathBuf]) -> Result<OutDir> {
    let path = absolute_out(out)?;
    refuse_inputs(out, &path, inputs)?;
    let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let lock_path = parent.join(format!(".{name}.billrun-lock"));
    let lock = lock(&lock_path, out)?;
    clear_dead_staging(&parent, &name, &path)?;
    let existing = inspect(&path).map_err(|why| refusal(out, &why))?;
    if let Some(found) = existing.as_ref().filter(|found| *found != layout)
        && !replace
    {
        return Err(Error::Usage(format!(
            "--out {} holds {found}; this run writes {layout}. Pass --replace to replace it whole, or choose another --out",
            out.display()
        )));
    }
    Ok(OutDir {
        path,
        existing,
        lock: Some((lock, lock_path)),
    })
}

fn refusal(out: &Path, why: &str) -> Error {
    Error::Usage(format!(
        "--out {}: {why}; billrun replaces only a directory that is empty or holds its own reports. Choose a new or empty directory",
        out.display()
    ))
}

/// `out` with its parent canonical (created if missing); `out` itself may not be a
/// symbolic link, a file, or have no name.
fn absolute_out(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .ok_or_else(|| {
            Error::Usage(format!(
                "--out {} has no directory name; name a directory such as out/report",
                out.display()
            ))
        })?;
    if let Ok(meta) = std::fs::symlink_metadata(out) {
        if meta.file_type().is_symlink() {
            return Err(Error::Usage(format!(
                "--out {} is a symbolic link; name the directory it points to",
                out.display()
            )));
        }
        if !meta.is_dir() {
            return Err(Error::Usage(format!(
                "--out {} is a file; it must be a directory",
                out.display()
            )));
        }
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::output(parent, e))?;
    let parent = parent
        .canonicalize()
        .map_err(|e| Error::output(parent, e))?;
    Ok(parent.join(name))
}

/// `--out` may not be an input, hold one, or lie inside an input directory (the next
/// run would read the reports as usage).
fn refuse_inputs(out: &Path, path: &Path, inputs: &[PathBuf]) -> Result<()> {
    for input in inputs {
        let Ok(input_path) = input.canonicalize() else {
            continue; // a missing input is reported when it is read
        };
        let what = if input_path == path {
            "is an input"
        } else if input_path.starts_with(path) {
            "holds an input"
        } else if path.starts_with(&input_path) {
            "is inside an input directory"
        } else {
            continue;
        };
        return Err(Error::Usage(format!(
            "--out {} {what} ({}); billrun never writes over its inputs. Choose a directory outside them",
            out.display(),
            input.display()
        )));
    }
    Ok(())
}

fn lock(lock_path: &Path, out: &Path) -> Result<File> {
    use std::os::unix::fs::MetadataExt;
    let busy = || {
        Error::Usage(format!(
            "--out {} is being written by another billrun run (lock {}); wait for it, or choose another --out",
            out.display(),
            lock_path.display()
        ))
    };
    for _ in 0..10 {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path)
            .map_err(|e| Error::output(lock_path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(busy()),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::output(lock_path, e)),
        }
        // Locked: but if the finishing run removed the file in between, this lock
        // is on a file no one else can find; open the path again.
        let held = file.metadata().map_err(|e| Error::output(lock_path, e))?;
        let named = std::fs::metadata(lock_path).ok();
        if named.is_some_and(|m| (m.dev(), m.ino()) == (held.dev(), held.ino())) {
            return Ok(file);
        }
    }
    Err(busy())
}

/// Staging (`-tmp-PID`) and swapped-out reports (`-old-PID`) of runs that died: with
/// the lock held, no live run owns them, and a process whose PID is alive is left
/// alone all the same. A dead run's old reports are put back if `--out` is missing
/// (the non-atomic fallback commit was cut between its two renames).
fn clear_dead_staging(parent: &Path, name: &str, out: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    let prefix = format!(".{name}.billrun-");
    let mut found: Vec<(PathBuf, String, u32)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let rest = file.strip_prefix(&prefix)?;
            let (what, pid) = rest.rsplit_once('-')?;
            let pid: u32 = pid.parse().ok()?;
            ["tmp", "old"]
                .contains(&what)
                .then(|| (e.path(), what.to_string(), pid))
        })
        .filter(|(_, _, pid)| *pid == std::process::id() || !process_alive(*pid))
        .collect();
    found.sort();
    for (path, what, _) in found {
        if what == "old" && !out.exists() {
            std::fs::rename(&path, out).map_err(|e| Error::output(out, e))?;
        } else {
            std::fs::remove_dir_all(&path).map_err(|e| Error::output(&path, e))?;
        }
    }
    Ok(())
}

fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists() || !Path::new("/proc/self").exists()
}

/// What `dir` holds: nothing, or a billrun run of some layout; `Err` says why it is
/// not billrun's.
pub fn inspect(dir: &Path) -> std::result::Result<Option<Layout>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot list it: {e}")),
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list it: {e}"))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    if names.is_empty() {
        return Ok(None);
    }
    if names.iter().any(|n| n == "manifest.json") {
        return inspect_flat(dir, &names).map(Some);
    }
    if names.iter().any(|n| n == STAGE_FILE) {
        return inspect_stage(dir, &names).map(Some);
    }
    inspect_partitioned(dir, &names).map(Some)
}

fn foreign(path: &Path) -> String {
    format!("it holds {}, which billrun did not write", path.display())
}

/// A flat run: the manifest lists every other file.
fn inspect_flat(dir: &Path, names: &[String]) -> std::result::Result<Layout, String> {
    let manifest = read_manifest(&dir.join("manifest.json"))?;
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .map(|files| files.iter().filter_map(|f| f["name"].as_str()).collect())
        .unwrap_or_default();
    for name in names {
        let path = dir.join(name);
        let ours = name == "manifest.json"
            || (listed.contains(&name.as_str()) && is_report_file(name, &FLAT_STEMS));
        if !ours || !path.is_file() || is_symlink(&path) {
            return Err(foreign(&path));
        }
    }
    let ext = manifest["options"]["format"]
        .as_str()
        .unwrap_or("parquet")
        .to_string();
    Ok(Layout::Flat { ext })
}

/// A stage output: `stage.json` lists every other file, all Parquet.
fn inspect_stage(dir: &Path, names: &[String]) -> std::result::Result<Layout, String> {
    let path = dir.join(STAGE_FILE);
    let not_ours = || format!("{} is not a billrun stage file", path.display());
    let text = std::fs::read_to_string(&path).map_err(|_| not_ours())?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| not_ours())?;
    let stage = value["billrun_stage"].as_str().ok_or_else(not_ours)?;
    let listed: Vec<&str> = value["files"]
        .as_array()
        .map(|files| files.iter().filter_map(|f| f.as_str()).collect())
        .unwrap_or_default();
    for name in names {
        let path = dir.join(name);
        let ours =
            name == STAGE_FILE || (listed.contains(&name.as_str()) && name.ends_with(".parquet"));
        if !ours || !path.is_file() || is_symlink(&path) {
            return Err(foreign(&path));
        }
    }
    Ok(Layout::Stage {
        stage: stage.to_string(),
    })
}

/// `stem.csv` or `stem.parquet` for one of `stems`.
fn is_report_file(name: &str, stems: &[&str]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| stems.contains(&stem) && matches!(ext, "csv" | "parquet"))
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn read_manifest(path: &Path) -> std::result::Result<serde_json::Value, String> {
    let not_ours = || format!("{} is not a billrun manifest", path.display());
    let text = std::fs::read_to_string(path).map_err(|_| not_ours())?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| not_ours())?;
    value
        .get("billrun_version")
        .is_some()
        .then_some(value)
        .ok_or_else(not_ours)
}

/// A partitioned history: table folders of `column=value/part-0.<ext>` and `_runs/`
/// of manifests and rejects, one partition column and one summary format throughout.
fn inspect_partitioned(dir: &Path, names: &[String]) -> std::result::Result<Layout, String> {
    let mut columns = std::collections::BTreeSet::new();
    let mut exts = std::collections::BTreeSet::new();
    let mut manifests = 0;
    for name in names {
        let path = dir.join(name);
        if !path.is_dir() || is_symlink(&path) {
            return Err(foreign(&path));
        }
        if name == RUNS {
            manifests += inspect_runs(&path, &mut exts)?;
        } else if TABLES.contains(&name.as_str()) {
            inspect_table(&path, name == "focus", &mut columns, &mut exts)?;
        } else {
            return Err(foreign(&path));
        }
    }
    if manifests == 0 {
        return Err(format!(
            "it has no billrun manifest (no manifest.json, no {RUNS}/*/manifest.json)"
        ));
    }
    let one = |set: &std::collections::BTreeSet<String>, what: &str| match set.len() {
        1 => Ok(set.iter().next().cloned().unwrap_or_default()),
        0 => Ok(String::new()),
        _ => Err(format!(
            "it mixes {what}s ({}); pass --replace to replace it whole",
            set.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
    };
    let column = one(&columns, "partition column")?;
    let ext = one(&exts, "report format")?;
    Ok(Layout::Partitioned {
        column: if column.is_empty() {
            "date".into()
        } else {
            column
        },
        ext: if ext.is_empty() {
            "parquet".into()
        } else {
            ext
        },
    })
}

/// `_runs/<run>/`: each holds `manifest.json` and `rejects.<ext>`; the manifests.
fn inspect_runs(
    runs: &Path,
    exts: &mut std::collections::BTreeSet<String>,
) -> std::result::Result<usize, String> {
    let mut manifests = 0;
    for run in std::fs::read_dir(runs).map_err(|e| e.to_string())? {
        let run = run.map_err(|e| e.to_string())?.path();
        if !run.is_dir() || is_symlink(&run) {
            return Err(foreign(&run));
        }
        for file in std::fs::read_dir(&run).map_err(|e| e.to_string())? {
            let file = file.map_err(|e| e.to_string())?.path();
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            if name == "manifest.json" {
                read_manifest(&file)?;
                manifests += 1;
            } else if is_report_file(&name, &["rejects"]) && file.is_file() {
                exts.insert(name.rsplit_once('.').unwrap_or_default().1.to_string());
            } else {
                return Err(foreign(&file));
            }
        }
    }
    Ok(manifests)
}

/// `<table>/<column>=<value>/part-0.<ext>`; FOCUS partitions are always Parquet.
fn inspect_table(
    table: &Path,
    focus: bool,
    columns: &mut std::collections::BTreeSet<String>,
    exts: &mut std::collections::BTreeSet<String>,
) -> std::result::Result<(), String> {
    for part in std::fs::read_dir(table).map_err(|e| e.to_string())? {
        let part = part.map_err(|e| e.to_string())?.path();
        let name = part.file_name().unwrap_or_default().to_string_lossy();
        let column = match name.split_once('=') {
            Some(("date", v)) if v.len() == 10 => "date",
            Some(("month", v)) if v.len() == 7 => "month",
            _ => return Err(foreign(&part)),
        };
        if !part.is_dir() || is_symlink(&part) {
            return Err(foreign(&part));
        }
        columns.insert(column.to_string());
        for file in std::fs::read_dir(&part).map_err(|e| e.to_string())? {
            let file = file.map_err(|e| e.to_string())?.path();
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            if !is_report_file(&name, &["part-0"]) || !file.is_file() || is_symlink(&file) {
                return Err(foreign(&file));
            }
            if !focus {
                exts.insert(name.rsplit_once('.').unwrap_or_default().1.to_string());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const MANIFEST: &str = r#"{"billrun_version":"0.1.0","options":{"format":"csv"},
        "files":[{"name":"summary.csv"},{"name":"rejects.csv"},{"name":"manifest.json"}]}"#;

    #[test]
    fn a_flat_run_is_recognised_by_its_manifest_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        assert_eq!(inspect(&out), Ok(None));
        std::fs::create_dir(&out).unwrap();
        assert_eq!(inspect(&out), Ok(None));
        write(&out.join("manifest.json"), MANIFEST);
        write(&out.join("summary.csv"), "");
        let csv = Layout::Flat { ext: "csv".into() };
        assert_eq!(inspect(&out), Ok(Some(csv)));
        write(&out.join("line_items.csv"), ""); // not in this run's manifest
        assert!(inspect(&out).unwrap_err().contains("line_items.csv"));
    }

    #[test]
    fn a_directory_without_a_manifest_is_not_billrun_s() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("notes.txt"), "mine");
        assert!(inspect(dir.path()).unwrap_err().contains("notes.txt"));
        let fake = dir.path().join("fake");
        write(&fake.join("manifest.json"), "{}");
        assert!(
            inspect(&fake)
                .unwrap_err()
                .contains("not a billrun manifest")
        );
    }

    #[test]
    fn a_partitioned_history_has_one_column_and_one_format() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        write(&out.join("_runs/a..b/manifest.json"), MANIFEST);
        write(&out.join("_runs/a..b/rejects.csv"), "");
        write(&out.join("summary/date=2025-11-01/part-0.csv"), "");
        write(&out.join("focus/date=2025-11-01/part-0.parquet"), "");
        let day = Layout::Partitioned {
            column: "date".into(),
            ext: "csv".into(),
        };
        assert_eq!(inspect(out), Ok(Some(day)));
        write(&out.join("summary/month=2025-11/part-0.csv"), "");
        assert!(
            inspect(out)
                .unwrap_err()
                .contains("mixes partition columns")
        );
        std::fs::remove_dir_all(out.join("summary/month=2025-11")).unwrap();
        write(&out.join("summary/date=2025-11-01/notes.txt"), "");
        assert!(inspect(out).unwrap_err().contains("notes.txt"));
    }

    #[test]
    fn exchange_swaps_two_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(&a.join("new"), "");
        write(&b.join("old"), "");
        let old = exchange(&a, &b, &dir.path().join("parked")).unwrap();
        assert!(b.join("new").exists());
        assert!(old.join("old").exists());
    }
}
