//! Where reports land: a staging directory beside `--out`, swapped in whole when
//! the run succeeds, or, with `--partition-by`, Hive-style partitions under `--out`
//! replaced one file at a time.
//!
//! Partitioned layout: `<table>/date=YYYY-MM-DD/part-0.<ext>` (or `month=YYYY-MM`)
//! for summary, line items and FOCUS; the run's manifest and rejects in
//! `_runs/<first>..<last>/`. Each partition is one file, renamed over the old one, so
//! a reader sees a partition's old file or its new one, never a mix; a run killed
//! before its commit changes nothing.

use super::outdir::{self, OutDir};
use super::sink::{self, Format, TableSink};
use super::table::{Schema, Table, Values};
use crate::error::{Error, Result};
use crate::pricing::group::GroupKey;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Tables that are partitioned, in the order they are committed.
pub const PARTITIONED_TABLES: [&str; 3] = ["summary", "line_items", "focus"];
/// Where each partitioned run keeps its manifest and rejects.
pub const RUNS_DIR: &str = "_runs";

/// A directory beside `--out` that becomes `--out` only when the run succeeds.
pub struct Staging {
    tmp: PathBuf,
    out: PathBuf,
    /// Where the fallback commit parks the old reports for a moment.
    parked: PathBuf,
    committed: bool,
}

impl Staging {
    pub fn create(out: &OutDir) -> Result<Staging> {
        let tmp = out.sibling("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::output(&tmp, e))?;
        }
        std::fs::create_dir(&tmp).map_err(|e| Error::output(&tmp, e))?;
        Ok(Staging {
            tmp,
            out: out.path.clone(),
            parked: out.sibling("old"),
            committed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Swaps the finished reports into place: `--out` is replaced as a whole, in one
    /// atomic exchange; the previous reports are then removed, if they are still only
    /// billrun's (a file added to `--out` during the run is never removed).
    pub fn commit(mut self) -> Result<()> {
        let old = outdir::put_in_place(&self.tmp, &self.out, &self.parked)
            .map_err(|e| Error::output(&self.out, e))?;
        self.committed = true;
        let Some(old) = old else {
            return Ok(());
        };
        match outdir::inspect(&old) {
            Ok(_) => std::fs::remove_dir_all(&old).map_err(|e| Error::output(&old, e)),
            Err(why) => {
                eprintln!(
                    "billrun: warning: the previous reports of {} changed during the run ({why}); they are kept in {}",
                    self.out.display(),
                    old.display()
                );
                Ok(())
            }
        }
    }
}

impl Staging {
    /// Commits a partitioned run: the run's manifest and rejects move under
    /// `_runs/<run>/`, then the partitions go into `out` one file at a time (see
    /// `commit_partitions`), or, when `whole`, the staged tree replaces `out` at once.
    pub fn commit_partitioned(mut self, plan: &PartitionPlan, whole: bool) -> Result<()> {
        let run_dir = self.tmp.join(RUNS_DIR).join(&plan.run);
        std::fs::create_dir_all(&run_dir).map_err(|e| Error::output(&run_dir, e))?;
        for entry in std::fs::read_dir(&self.tmp).map_err(|e| Error::output(&self.tmp, e))? {
            let path = entry.map_err(|e| Error::output(&self.tmp, e))?.path();
            if path.is_file() {
                let name = path.file_name().unwrap_or_default();
                std::fs::rename(&path, run_dir.join(name)).map_err(|e| Error::output(&path, e))?;
            }
        }
        if whole {
            return self.commit();
        }
        commit_partitions(&self.tmp, &self.out, plan)?;
        self.committed = true;
        std::fs::remove_dir_all(&self.tmp).map_err(|e| Error::output(&self.tmp, e))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            std::fs::remove_dir_all(&self.tmp).ok();
        }
    }
}

/// `--partition-by day|month`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partitioning {
    /// `GroupKey::Day` or `GroupKey::Month`.
    pub key: GroupKey,
}

impl Partitioning {
    /// The Hive column: `date` for days, `month` for months.
    pub fn column(&self) -> &'static str {
        match self.key {
            GroupKey::Month => "month",
            _ => "date",
        }
    }

    /// The partition of the instant `at`.
    pub fn label(&self, at: i64) -> String {
        self.key.time_value(at).unwrap_or_default()
    }

    /// `<root>/<table>/<column>=<label>`; the label must be a date (digits and `-`),
    /// so no value can lead outside `root`.
    pub fn dir(&self, root: &Path, table: &str, label: &str) -> Result<PathBuf> {
        let len = if self.key == GroupKey::Month { 7 } else { 10 };
        let is_date = label.len() == len
            && label.bytes().all(|b| b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-');
        if !is_date {
            return Err(Error::output_msg(
                root,
                format!("refusing partition value \"{label}\": not a date"),
            ));
        }
        Ok(root.join(table).join(format!("{}={label}", self.column())))
    }

    /// Every partition `[from, to)` covers; both ends must fall on partition
    /// boundaries, or a run would replace whole partitions with part of their data.
    pub fn covered(&self, from: i64, to: i64) -> Result<Vec<String>> {
        let mut labels = Vec::new();
        let mut t = from;
        while t < to {
            labels.push(self.label(t));
            t = self.next_start(t);
        }
        let aligned = |x: i64| self.start(x) == x;
        if !aligned(from) || !aligned(to) {
            return Err(Error::Usage(format!(
                "--partition-by {}: --from and --to must fall on {} boundaries (UTC), so that every partition this run replaces is whole",
                self.key.column_name(),
                self.key.column_name()
            )));
        }
        Ok(labels)
    }

    fn start(&self, t: i64) -> i64 {
        match self.key {
            GroupKey::Month => crate::time::month_start(t),
            _ => t - t.rem_euclid(crate::time::MICROS_PER_DAY),
        }
    }

    fn next_start(&self, t: i64) -> i64 {
        match self.key {
            GroupKey::Month => crate::time::next_month_start(t),
            _ => self.start(t) + crate::time::MICROS_PER_DAY,
        }
    }
}

/// A report written as one file per partition, chosen by an instant column.
pub struct PartitionedSink {
    format: Format,
    root: PathBuf,
    table: &'static str,
    schema: Schema,
    partitioning: Partitioning,
    /// The instant column that picks a row's partition (none for the summary, whose
    /// parts are written by label).
    time_column: Option<usize>,
    sinks: BTreeMap<String, Box<dyn TableSink>>,
}

impl PartitionedSink {
    pub fn new(
        format: Format,
        root: &Path,
        table: &'static str,
        schema: Schema,
        partitioning: Partitioning,
        time_column: Option<&str>,
    ) -> Result<PartitionedSink> {
        let time_column = time_column.and_then(|c| schema.iter().position(|(n, _)| n == c));
        Ok(PartitionedSink {
            format,
            root: root.to_path_buf(),
            table,
            schema,
            partitioning,
            time_column,
            sinks: BTreeMap::new(),
        })
    }

    /// Writes `rows` to the partition each belongs to, by `label(row)`.
    pub fn write_labelled(&mut self, label: &str, rows: Table) -> Result<()> {
        if !self.sinks.contains_key(label) {
            let dir = self.partitioning.dir(&self.root, self.table, label)?;
            std::fs::create_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
            let sink = sink::open(self.format, &dir, "part-0", &self.schema)?;
            self.sinks.insert(label.to_string(), sink);
        }
        match self.sinks.get_mut(label) {
            Some(sink) => sink.write(rows),
            None => Ok(()),
        }
    }
}

impl TableSink for PartitionedSink {
    fn write(&mut self, rows: Table) -> Result<()> {
        let Some(Values::Instant(at)) = self.time_column.map(|c| &rows.columns[c]) else {
            return Err(Error::output_msg(
                &self.root,
                "partition column is not a time",
            ));
        };
        let labels: Vec<String> = at.iter().map(|t| self.partitioning.label(*t)).collect();
        for (label, part) in rows.split_rows(|i| labels[i].clone()) {
            self.write_labelled(&label, part)?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<u64> {
        let mut rows = 0;
        for sink in self.sinks.into_values() {
            rows += sink.finish()?;
        }
        Ok(rows)
    }
}

/// The partition files staged under `staged`: (table, partition dir name, file name).
fn staged_partitions(staged: &Path) -> Result<Vec<(String, String, String)>> {
    let mut found = Vec::new();
    for table in PARTITIONED_TABLES {
        let dir = staged.join(table);
        let Ok(parts) = std::fs::read_dir(&dir) else {
            continue;
        };
        for part in parts {
            let part = part.map_err(|e| Error::output(&dir, e))?.path();
            for file in std::fs::read_dir(&part).map_err(|e| Error::output(&part, e))? {
                let file = file.map_err(|e| Error::output(&part, e))?.path();
                let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
                if let (Some(p), Some(f)) = (name(&part), name(&file)) {
                    found.push((table.to_string(), p, f));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The partitions a staged run writes, by partition value: for naming the run.
pub fn staged_labels(staged: &Path) -> Result<BTreeSet<String>> {
    Ok(staged_partitions(staged)?
        .into_iter()
        .filter_map(|(_, part, _)| part.split_once('=').map(|(_, l)| l.to_string()))
        .collect())
}

/// What committing a staged partitioned run will do.
#[derive(Debug)]
pub struct PartitionPlan {
    /// `<first>..<last>` partition value: the run's directory under `_runs/`.
    pub run: String,
    /// `table/column=value` of every partition written.
    pub written: Vec<String>,
    /// `table/column=value` of partitions the run covers but has no rows for: their
    /// old files are removed (the usage they held is gone).
    pub removed: Vec<String>,
}

/// Plans the commit of `staged` into `out` (`None`: `out` is replaced whole, so
/// nothing of it is kept or removed). `covered`: the partitions the run is
/// responsible for (those of `--from`/`--to`, else those it wrote); `tables`: the
/// partitioned tables this run writes.
pub fn plan_partitions(
    staged: &Path,
    out: Option<&Path>,
    partitioning: &Partitioning,
    tables: &[&str],
    covered: Option<Vec<String>>,
) -> Result<PartitionPlan> {
    let files = staged_partitions(staged)?;
    let written: BTreeSet<String> = files.iter().map(|(t, p, _)| format!("{t}/{p}")).collect();
    let covered: BTreeSet<String> = match covered {
        Some(c) => c.into_iter().collect(),
        None => staged_labels(staged)?,
    };
    let mut removed = Vec::new();
    for table in tables {
        for label in &covered {
            let part = format!("{table}/{}={label}", partitioning.column());
            let exists = match out {
                Some(out) => partitioning.dir(out, table, label)?.exists(),
                None => false,
            };
            if exists && !written.contains(&part) {
                removed.push(part);
            }
        }
    }
    let run = match (covered.first(), covered.last()) {
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "empty".to_string(),
    };
    Ok(PartitionPlan {
        run,
        written: written.into_iter().collect(),
        removed,
    })
}

/// Moves a staged partitioned run into `out` as planned: each partition file renamed
/// over the old one, stale partitions removed, then the run's manifest and rejects
/// (staged under `_runs/<run>/`) put in place.
pub fn commit_partitions(staged: &Path, out: &Path, plan: &PartitionPlan) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::output(out, e))?;
    for (table, part, file) in staged_partitions(staged)? {
        let target = out.join(&table).join(&part);
        std::fs::create_dir_all(&target).map_err(|e| Error::output(&target, e))?;
        let from = staged.join(&table).join(&part).join(&file);
        std::fs::rename(&from, target.join(&file)).map_err(|e| Error::output(&target, e))?;
    }
    for part in &plan.removed {
        let dir = out.join(part);
        std::fs::remove_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
    }
    replace_dir(
        &staged.join(RUNS_DIR).join(&plan.run),
        &out.join(RUNS_DIR).join(&plan.run),
    )
}

/// Puts directory `new` at `target`, replacing what was there in one exchange; `new`
/// then holds the old directory and goes with the staging.
fn replace_dir(new: &Path, target: &Path) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::output(parent, e))?;
    // Parked inside the staging, which goes with the run if it is cut short.
    let parked = new.with_file_name(".parked");
    match outdir::put_in_place(new, target, &parked).map_err(|e| Error::output(target, e))? {
        Some(old) => std::fs::remove_dir_all(&old).map_err(|e| Error::output(&old, e)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;

    fn day() -> Partitioning {
        Partitioning { key: GroupKey::Day }
    }

    #[test]
    fn partition_values_must_be_dates() {
        let root = Path::new("/out");
        assert_eq!(
            day().dir(root, "summary", "2025-11-01").unwrap(),
            Path::new("/out/summary/date=2025-11-01")
        );
        for bad in ["../../etc", "2025-11-0/", "", "2025-11-01/..", "-025-11-01"] {
            assert!(day().dir(root, "summary", bad).is_err(), "{bad:?}");
        }
        let month = Partitioning {
            key: GroupKey::Month,
        };
        assert!(month.dir(root, "focus", "2025-11").is_ok());
        assert!(month.dir(root, "focus", "2025-11-01").is_err());
    }

    #[test]
    fn a_window_covers_whole_partitions_only() {
        let at = |s: &str| parse_instant(s).unwrap();
        assert_eq!(
            day().covered(at("2025-11-30"), at("2025-12-02")).unwrap(),
            vec!["2025-11-30".to_string(), "2025-12-01".to_string()]
        );
        assert!(
            day()
                .covered(at("2025-11-30T01:00:00Z"), at("2025-12-02"))
                .is_err()
        );
        let month = Partitioning {
            key: GroupKey::Month,
        };
        assert_eq!(
            month.covered(at("2025-11-01"), at("2026-01-01")).unwrap(),
            vec!["2025-11".to_string(), "2025-12".to_string()]
        );
        assert!(month.covered(at("2025-11-01"), at("2025-12-15")).is_err());
    }
}
