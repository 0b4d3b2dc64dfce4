//! Writing: the summary (flat or one per partition), line items and rejects
//! finished, FOCUS, the manifest, then the staged directory committed in place of
//! `--out`.

use super::plan::Plan;
use super::read::RunState;
use super::{RunConfig, RunReport};
use crate::capacity::HourPolicy;
use crate::error::{Error, Result};
use crate::ingest;
use crate::pricing::group::GroupKey;
use crate::report::manifest::{FileInfo, InputInfo, Manifest, Options, RowCounts};
use crate::report::output::{self, PartitionedSink, Partitioning};
use crate::report::sink::{self, Format, TableSink};
use crate::report::{self, Summary, focus};
use crate::vocab::money::Money;
use std::collections::BTreeMap;
use std::path::Path;

/// The partitioned tables a run writes (and so may remove stale partitions of).
fn partitioned_tables(cfg: &RunConfig) -> Vec<&'static str> {
    let mut tables = vec!["summary"];
    if cfg.line_items {
        tables.push("line_items");
    }
    if cfg.focus.is_some() {
        tables.push("focus");
    }
    tables
}

/// Positions of `wanted` in `keys`.
pub(super) fn positions(keys: &[GroupKey], wanted: &[GroupKey]) -> Vec<usize> {
    wanted
        .iter()
        .filter_map(|w| keys.iter().position(|k| k == w))
        .collect()
}

/// Writes the reports of what `state` accumulated, the manifest, and commits them
/// in place of `--out`.
pub(super) fn write(
    cfg: &RunConfig,
    plan: Plan,
    mut state: RunState,
    inputs: Vec<InputInfo>,
    derived_rejected: u64,
    started_at: String,
) -> Result<RunReport> {
    refuse_silent_zero(&state.counts, &plan.skipped)?;
    let by_summary_keys = match cfg.tally_keys() == cfg.group_by {
        true => None,
        false => Some(
            state
                .tallies
                .project(&positions(&state.keys, &cfg.group_by)),
        ),
    };
    let summary_tallies = by_summary_keys.as_ref().unwrap_or(&state.tallies);
    let summary = report::summarize(summary_tallies, &cfg.catalog).ok_or_else(|| {
        Error::output_msg(
            &cfg.out,
            "a summary cost overflows DECIMAL(38, 12) or a quantity overflows Int64",
        )
    })?;
    let cost_centers = match cfg.allocation.is_empty() {
        true => BTreeMap::new(),
        false => cost_center_totals(&state, cfg)?,
    };
    let (counts, by_reason) = (state.counts, std::mem::take(&mut state.by_reason));
    let conflicts = state.conflicts;
    let written = state.finish(&summary, plan.staging.path())?;
    let totals = totals(&summary);
    let mut manifest = Manifest {
        billrun_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        finished_at: chrono::Utc::now().to_rfc3339(),
        catalog: crate::report::manifest::CatalogInfo {
            source: cfg.catalog.origin.clone(),
            sha256: cfg.catalog.sha256.clone(),
            rows: cfg.catalog.rows.len(),
        },
        options: options(cfg, plan.on_disk),
        inputs,
        skipped_files: plan.skipped,
        rows: counts,
        derived_windows_rejected: derived_rejected,
        duplicate_conflicts: conflicts,
        rejects_by_reason: by_reason.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        totals: totals
            .iter()
            .map(|(c, m)| (c.clone(), m.to_string()))
            .collect(),
        files: written,
        cost_centers,
        partitions_written: Vec::new(),
        partitions_removed: Vec::new(),
    };
    let partitions = match &cfg.partition {
        None => None,
        Some(p) => {
            let covered = match cfg.window {
                (Some(from), Some(to)) => Some(p.covered(from, to)?),
                _ => None,
            };
            let tables = partitioned_tables(cfg);
            Some(output::plan_partitions(
                plan.staging.path(),
                (!plan.whole).then_some(plan.out_dir.path.as_path()),
                p,
                &tables,
                covered,
            )?)
        }
    };
    if let Some(partitions) = &partitions {
        manifest.partitions_written = partitions.written.clone();
        manifest.partitions_removed = partitions.removed.clone();
    }
    write_manifest(&manifest, plan.staging.path())?;
    match partitions {
        None => plan.staging.commit()?,
        Some(partitions) => plan.staging.commit_partitioned(&partitions, plan.whole)?,
    }
    Ok(RunReport {
        rows: counts,
        totals,
        derived_rejected,
        duplicate_conflicts: conflicts,
    })
}

/// The options of the run as the manifest records them.
fn options(cfg: &RunConfig, on_disk: bool) -> Options {
    Options {
        format: cfg.format.extension().to_string(),
        group_by: cfg.group_by.iter().map(GroupKey::column_name).collect(),
        line_items: cfg.line_items,
        threads: cfg.threads,
        pt_hours: match cfg.pt_hours {
            HourPolicy::Started => "started".into(),
            HourPolicy::Exact => "exact".into(),
        },
        partition_by: cfg.partition.as_ref().map(|p| p.key.column_name()),
        dedup: if on_disk { "disk" } else { "memory" }.into(),
        from: cfg.window.0.map(crate::time::format_instant),
        to: cfg.window.1.map(crate::time::format_instant),
        focus_charge_period: cfg.focus.as_ref().map(GroupKey::column_name),
    }
}

/// A run that read no row at all while it skipped files has most likely missed its
/// usage (logs of an unknown extension, say): an error, not a $0 bill.
fn refuse_silent_zero(counts: &RowCounts, skipped: &[ingest::Skipped]) -> Result<()> {
    let Some(first) = skipped.first().filter(|_| counts.read == 0) else {
        return Ok(());
    };
    Err(Error::Usage(format!(
        "no usage row was read, and {} file(s) were skipped (e.g. {}): refusing to report a $0 bill. Name the usage files explicitly, or remove what is not usage",
        skipped.len(),
        first.describe()
    )))
}

/// Exact totals by cost center and currency.
fn cost_center_totals(
    state: &RunState,
    cfg: &RunConfig,
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let by_center = state
        .tallies
        .project(&positions(&state.keys, &[GroupKey::CostCenter]));
    let summary = report::summarize(&by_center, &cfg.catalog).ok_or_else(|| {
        Error::output_msg(&cfg.out, "a cost-center total overflows DECIMAL(38, 12)")
    })?;
    let mut totals: BTreeMap<String, BTreeMap<String, Money>> = BTreeMap::new();
    for ((group, _, currency), cell) in &summary {
        let t = totals
            .entry(group[0].clone())
            .or_default()
            .entry(currency.clone())
            .or_default();
        *t = t.checked_add(cell.cost).unwrap_or(*t);
    }
    Ok(totals
        .into_iter()
        .map(|(center, by_currency)| {
            let text = by_currency.into_iter().map(|(c, m)| (c, m.to_string()));
            (center, text.collect())
        })
        .collect())
}

fn totals(summary: &Summary) -> BTreeMap<String, Money> {
    let mut totals: BTreeMap<String, Money> = BTreeMap::new();
    for ((_, _, currency), cell) in summary {
        let t = totals.entry(currency.clone()).or_default();
        *t = t.checked_add(cell.cost).unwrap_or(*t);
    }
    totals
}

fn write_manifest(manifest: &Manifest, dir: &Path) -> Result<()> {
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(manifest).map_err(|e| Error::output(&path, e))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::output(&path, e))
}

impl RunState<'_> {
    pub(super) fn finish(self, summary: &Summary, dir: &Path) -> Result<Vec<FileInfo>> {
        let ext = self.cfg.format.extension();
        let group_columns: Vec<String> = self
            .cfg
            .group_by
            .iter()
            .map(GroupKey::column_name)
            .collect();
        let summary_schema = report::summary_schema(&group_columns);
        let files_of = |table: &str| match self.cfg.partition {
            Some(ref p) => format!("{table}/{}=*/part-0.{ext}", p.column()),
            None => format!("{table}.{ext}"),
        };
        let rows = match &self.cfg.partition {
            None => {
                let mut sink = sink::open(self.cfg.format, dir, "summary", &summary_schema)?;
                sink.write(report::summary_table(&group_columns, summary))?;
                sink.finish()?
            }
            Some(p) => self.write_partitioned_summary(p, &group_columns, dir)?,
        };
        let mut files = vec![FileInfo {
            name: files_of("summary"),
            rows,
        }];
        if let Some(sink) = self.line_items {
            files.push(FileInfo {
                name: files_of("line_items"),
                rows: sink.finish()?,
            });
        }
        if let Some(period) = &self.cfg.focus {
            let keys = focus::keys(period);
            let tallies = self.tallies.project(&positions(&self.keys, &keys));
            let allocated = !self.cfg.allocation.is_empty();
            let table =
                focus::table(&tallies, &self.cfg.catalog, period, allocated).ok_or_else(|| {
                    Error::output_msg(dir, "a FOCUS cost or quantity overflows DECIMAL(38, 12)")
                })?;
            let schema = focus::schema();
            let mut sink: Box<dyn TableSink> = match &self.cfg.partition {
                None => sink::open(Format::Parquet, dir, "focus", &schema)?,
                Some(p) => Box::new(PartitionedSink::new(
                    Format::Parquet,
                    dir,
                    "focus",
                    schema,
                    p.clone(),
                    Some("ChargePeriodStart"),
                )?),
            };
            sink.write(table)?;
            let name = match self.cfg.partition {
                Some(ref p) => format!("focus/{}=*/part-0.parquet", p.column()),
                None => "focus.parquet".into(),
            };
            files.push(FileInfo {
                name,
                rows: sink.finish()?,
            });
        }
        files.push(FileInfo {
            name: format!("rejects.{ext}"),
            rows: self.rejects.finish()?,
        });
        files.push(FileInfo {
            name: "manifest.json".into(),
            rows: 0,
        });
        Ok(files)
    }
}

impl RunState<'_> {
    /// One summary per partition: the tallies split by the partition key.
    fn write_partitioned_summary(
        &self,
        p: &Partitioning,
        group_columns: &[String],
        dir: &Path,
    ) -> Result<u64> {
        let schema = report::summary_schema(group_columns);
        let mut sink =
            PartitionedSink::new(self.cfg.format, dir, "summary", schema, p.clone(), None)?;
        let keep = positions(&self.keys, &self.cfg.group_by);
        let at = positions(&self.keys, std::slice::from_ref(&p.key))[0];
        for (label, part) in self.tallies.split(at, &keep) {
            let summary = report::summarize(&part, &self.cfg.catalog).ok_or_else(|| {
                Error::output_msg(dir, "a summary cost or quantity overflows DECIMAL(38, 12)")
            })?;
            sink.write_labelled(&label, report::summary_table(group_columns, &summary))?;
        }
        Box::new(sink).finish()
    }
}
