//! Reading and rating: every input file through its reader, duplicates marked
//! (in memory, or listed by a first pass over the inputs with `--dedup disk`), each
//! batch rated in parallel slices into the run's tallies, rejects and line items.

use super::RunConfig;
use super::plan::Plan;
use crate::capacity::{CapacityModels, Invocations, Registry};
use crate::error::{Error, Result};
use crate::ingest::{self, Batch, InputFile, Unreadable};
use crate::pricing::dedup::spill::{Listed, Spill};
use crate::pricing::dedup::{Claim, Marks, SeenIds, in_claim_order, split_flags, usage_print};
use crate::pricing::group::{GroupKey, Tallies};
use crate::pricing::rate::{LineItem, RateCache, RateContext, Rated, Reject, rate_slice_with};
use crate::progress::Progress;
use crate::report;
use crate::report::manifest::{InputInfo, RowCounts};
use crate::report::output::PartitionedSink;
use crate::report::sink::{self, Background, Format, TableSink};
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{Ints, ROW_COLUMN, SliceMeters, Texts, UsageColumns};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Duplicate detection for the run.
pub(super) enum Duplicates {
    Memory(SeenIds),
    /// Found by a first pass over the inputs (or, in `once`, after the pass).
    Listed(Listed),
    /// One pass (`once`): ids spilled while every row is rated; the duplicates found
    /// after the pass are read again and taken back.
    Spilling(Spill),
}

/// Where a run's rejects and line items go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sinks {
    /// The reports: `--format`, line items partitioned with `--partition-by`.
    Reports,
    /// A partial (`reduce`): flat Parquet files.
    Partial,
}

/// Line items for the line-items writer: rated ones, or rows already in a table
/// (merged from partials).
pub(super) enum LineRows {
    Items(Vec<LineItem>),
    Table(crate::report::table::Table),
}

fn line_rows_table(rows: LineRows) -> crate::report::table::Table {
    match rows {
        LineRows::Items(items) => report::line_item_table(items),
        LineRows::Table(table) => table,
    }
}

/// Everything accumulated while reading.
pub(super) struct RunState<'c> {
    pub(super) cfg: &'c RunConfig,
    pub(super) duplicates: Duplicates,
    /// Rows handed to rating so far: the next batch's first ordinal.
    pub(super) ordinal: u64,
    pub(super) tallies: Tallies,
    pub(super) counts: RowCounts,
    /// Duplicates whose usage differs from the first copy's.
    pub(super) conflicts: u64,
    pub(super) by_reason: BTreeMap<&'static str, u64>,
    pub(super) rejects: Box<dyn TableSink>,
    /// Line items, turned into tables and written on their own thread.
    pub(super) line_items: Option<Background<LineRows>>,
    pub(super) registry: Registry,
    pub(super) capacity_models: CapacityModels,
    pub(super) invocations: Invocations,
    /// Tokens per (capacity model ARN, cost center), for `--split-capacity`.
    pub(super) shares: HashMap<(String, String), u128>,
    /// What usage is tallied by (`RunConfig::tally_keys`).
    pub(super) keys: Vec<GroupKey>,
    /// Each rating thread's lookups, kept across slices and batches.
    pub(super) caches: Vec<Mutex<RateCache>>,
    /// Parquet files are read without their id column (`once::fill_in_ids`).
    pub(super) ids_later: bool,
}

impl<'c> RunState<'c> {
    /// Reads and rates every usage file of the plan, after the first pass that lists
    /// duplicates when they are found on disk. The progress goes on through billing.
    pub(super) fn read_inputs(&mut self, plan: &Plan) -> Result<(Vec<InputInfo>, Progress)> {
        let scratch = plan.staging.path().join(".dedup");
        let once = plan.on_disk && self.once_allowed(&plan.files);
        // Two passes: the second needs no ids (the first listed the duplicates by
        // ordinal) but for line items and rejects; rejects get theirs after.
        self.ids_later = plan.on_disk && !once && !self.cfg.line_items;
        if once {
            self.duplicates = Duplicates::Spilling(Spill::create(&scratch.join("ids"))?);
        } else if plan.on_disk {
            let listed = find_duplicates(&plan.files, self.cfg, &scratch)?;
            self.duplicates = Duplicates::Listed(Listed::new(listed));
        }
        let mut reports_rejects = None;
        if once || self.ids_later {
            // Rejects are held until their duplicates or their ids are known.
            std::fs::create_dir_all(&scratch).map_err(|e| Error::output(&scratch, e))?;
            let schema = report::reject_schema();
            let held = sink::open(Format::Parquet, &scratch, "rejects", &schema)?;
            reports_rejects = Some(std::mem::replace(&mut self.rejects, held));
        }
        let progress = Progress::new(plan.bytes(), self.cfg.quiet);
        let mut inputs = Vec::new();
        // Each file's first ordinal, and the end.
        let mut starts = Vec::with_capacity(plan.files.len() + 1);
        for file in &plan.files {
            starts.push(self.ordinal);
            let (rows, problem) = self.read_file(file, &progress)?;
            progress.file_done(file.bytes);
            inputs.push(input_info(file, rows, problem));
        }
        starts.push(self.ordinal);
        match reports_rejects {
            Some(sink) if once => {
                self.take_back_duplicates(&plan.files, &starts, &scratch, sink)?
            }
            Some(sink) => self.fill_in_ids(&plan.files, &scratch, sink)?,
            None => {}
        }
        std::fs::remove_dir_all(&scratch).ok();
        Ok((inputs, progress))
    }

    pub(super) fn open(
        cfg: &'c RunConfig,
        dir: &Path,
        sinks: Sinks,
        registry: Registry,
        capacity_models: CapacityModels,
    ) -> Result<RunState<'c>> {
        let format = match sinks {
            Sinks::Reports => cfg.format,
            Sinks::Partial => Format::Parquet,
        };
        let partition = cfg.partition.as_ref().filter(|_| sinks == Sinks::Reports);
        let rejects = sink::open(format, dir, "rejects", &report::reject_schema())?;
        let schema = report::line_item_schema();
        let sink: Option<Box<dyn TableSink>> = match (cfg.line_items, partition) {
            (false, _) => None,
            (true, None) => Some(sink::open(format, dir, "line_items", &schema)?),
            (true, Some(p)) => Some(Box::new(PartitionedSink::new(
                cfg.format,
                dir,
                "line_items",
                schema,
                p.clone(),
                Some("timestamp"),
            )?)),
        };
        Ok(RunState {
            cfg,
            duplicates: Duplicates::Memory(SeenIds::default()),
            ordinal: 0,
            tallies: Tallies::new(cfg.tally_keys().len()),
            keys: cfg.tally_keys(),
            counts: RowCounts::default(),
            conflicts: 0,
            by_reason: BTreeMap::new(),
            rejects,
            line_items: sink.map(|s| Background::spawn("line_items", s, line_rows_table)),
            registry,
            capacity_models,
            invocations: Invocations::new(),
            shares: HashMap::new(),
            caches: (0..rayon::current_num_threads())
                .map(|_| Mutex::new(RateCache::default()))
                .collect(),
            ids_later: false,
        })
    }

    /// Reads and rates one file: its row count, and what damaged it, if anything.
    fn read_file(
        &mut self,
        file: &InputFile,
        progress: &Progress,
    ) -> Result<(u64, Option<String>)> {
        let source: Arc<str> = Arc::from(file.path.display().to_string());
        let mut rows = 0;
        let mut problem = None;
        let without_ids = self.ids_later && file.kind == ingest::InputKind::Parquet;
        let projection = match (self.reads_labels(), without_ids) {
            (true, true) => ingest::Projection::WithoutIds,
            (true, false) => ingest::Projection::Canonical,
            (false, without_ids) => ingest::Projection::Priced { ids: !without_ids },
        };
        ingest::read_projected(file, self.cfg.batch_rows, projection, |batch| {
            let damage = batch
                .unreadable
                .iter()
                .find(|u| u.reason == Reason::CorruptFile);
            problem = problem.take().or_else(|| damage.map(|u| u.message.clone()));
            let n = self.rate_batch(&batch, &source, &file.path)?;
            rows += n;
            progress.add_rows(n);
            progress.file_at(batch.consumed);
            Ok(())
        })?;
        Ok((rows, problem))
    }

    pub(super) fn rate_batch(
        &mut self,
        batch: &Batch,
        source: &Arc<str>,
        path: &Path,
    ) -> Result<u64> {
        let cols = UsageColumns::from_frame(&batch.frame).map_err(|e| Error::input(path, e))?;
        let (duplicate, repeated, conflicts) = self.mark_duplicates(&cols, &batch.unreadable)?;
        let ctx = self.context();
        let caches = &self.caches;
        let rated: Vec<Rated> = slices(cols.len, self.cfg.threads)
            .into_par_iter()
            .map(|range| {
                // The rating thread's own cache; a fresh one if it is somehow busy.
                let mut own = rayon::current_thread_index()
                    .and_then(|t| caches.get(t))
                    .and_then(|c| c.try_lock().ok());
                let mut fresh = RateCache::default();
                let cache = own.as_deref_mut().unwrap_or(&mut fresh);
                rate_slice_with(&ctx, cache, &cols, &duplicate, range, source)
            })
            .collect();
        let mut rejects = Vec::new();
        for part in rated {
            rejects.extend(self.absorb(part)?);
        }
        // A rejected record whose id was claimed before is a duplicate, not a reject.
        let unreadable = batch.unreadable.iter().zip(&repeated);
        let unreadable = unreadable
            .filter(|(_, r)| !**r)
            .map(|(u, _)| unreadable_reject(source, u));
        rejects.extend(self.absorb(Rated {
            rejects: unreadable.collect(),
            ..Rated::default()
        })?);
        rejects.extend(self.conflict_rejects(&cols, &conflicts, source));
        // In row order: the rows the reader refused, the rows rating refused and the
        // conflicting duplicates are each other's neighbours (each row is one of them
        // at most), so rejects read like the input whatever the batch size.
        // Rejects of one row (a line holding several records) by their content, so
        // that `merge` can order rejects from several buckets alike.
        rejects.sort_by(|a, b| (a.row, super::merge::tie(a)).cmp(&(b.row, super::merge::tie(b))));
        self.write_table(&rejects)?;
        let read = (cols.len + batch.unreadable.len()) as u64;
        self.counts.read += read;
        Ok(read)
    }

    /// Whether anything the run writes reads a row's account, principal or
    /// inference region (`ingest::LABEL_COLUMNS`): line items, cost centers (the
    /// allocation and the capacity split), imported-model windows (by account), and
    /// groups by account or principal.
    fn reads_labels(&self) -> bool {
        self.cfg.line_items
            || !self.cfg.allocation.is_empty()
            || self.cfg.split.is_some()
            || !self.capacity_models.is_empty()
            || self.keys.iter().any(|k| {
                matches!(
                    k,
                    GroupKey::AccountId | GroupKey::Principal | GroupKey::CostCenter
                )
            })
    }

    /// What rating a row depends on.
    pub(super) fn context(&self) -> RateContext<'_> {
        RateContext {
            catalog: &self.cfg.catalog,
            group_by: &self.keys,
            line_items: self.cfg.line_items,
            window: self.cfg.window,
            profiles: &self.cfg.profiles,
            capacity: &self.capacity_models,
            allocation: &self.cfg.allocation,
            split: self.cfg.split,
        }
    }

    /// Flags the batch's repeated request ids, for its readable rows and for the
    /// records its reader rejected, in the order they claim ids (`dedup::claims`);
    /// and the readable rows whose id was seen before with other usage.
    pub(super) fn mark_duplicates(
        &mut self,
        cols: &UsageColumns,
        unreadable: &[Unreadable],
    ) -> Result<(Vec<bool>, Vec<bool>, Vec<usize>)> {
        let total = cols.len + unreadable.len();
        let claims = in_claim_order(&cols.request_id, &cols.row, unreadable);
        // The readable row at claim position `k`, if it is one.
        let row_at = |k: usize| match &claims {
            None => Some(k),
            Some((order, _)) => match order[k] {
                Claim::Row(i) => Some(i),
                Claim::Unreadable(_) => None,
            },
        };
        // Every row is printed in memory: its meters are read at once for those.
        let meters = match self.duplicates {
            Duplicates::Memory(_) => SliceMeters::of(cols, 0..cols.len),
            _ => SliceMeters::by_row(),
        };
        let print = |k: usize| row_at(k).map_or(0, |i| usage_print(cols, &meters, i));
        let ids = claims.as_ref().map_or(&cols.request_id, |(_, ids)| ids);
        let marks = match &mut self.duplicates {
            Duplicates::Memory(seen) => seen.mark_printed(ids, print),
            // Only the rows the first pass listed are printed.
            Duplicates::Listed(listed) => listed.mark_printed(self.ordinal, total, print),
            Duplicates::Spilling(spill) => {
                spill.push_batch(ids, self.ordinal)?;
                Marks {
                    duplicate: vec![false; total],
                    conflict: vec![false; total],
                }
            }
        };
        let conflicts = (0..total)
            .filter(|&k| marks.conflict[k])
            .filter_map(row_at)
            .collect();
        let (readable, rejected) = match &claims {
            None => (marks.duplicate, Vec::new()),
            Some((order, _)) => split_flags(order, &marks.duplicate, cols.len),
        };
        self.ordinal += total as u64;
        let repeats = readable.iter().chain(&rejected).filter(|d| **d).count();
        self.counts.duplicate += repeats as u64;
        Ok((readable, rejected, conflicts))
    }

    /// A duplicate whose usage differs from the first copy's is still a duplicate
    /// (the first wins), but is reported: a `duplicate_conflict` line in rejects,
    /// not counted as a rejected row.
    pub(super) fn conflict_rejects(
        &mut self,
        cols: &UsageColumns,
        rows: &[usize],
        source: &Arc<str>,
    ) -> Vec<Reject> {
        let conflicts: Vec<Reject> = rows
            .iter()
            .map(|&i| Reject {
                source: source.clone(),
                row: cols.row.get(i).unwrap_or(0),
                request_id: cols.request_id.get(i).map(str::to_string),
                reason: Reason::DuplicateConflict,
                message: "this request id was read before with other usage (model, region, mode, tier, token or image counts); the first copy is billed, this one counted as a duplicate".into(),
            })
            .collect();
        self.conflicts += conflicts.len() as u64;
        self.count_reasons(&conflicts);
        conflicts
    }

    /// Adds a rated part to the run and writes its rejects.
    pub(super) fn merge(&mut self, part: Rated) -> Result<()> {
        let rejects = self.absorb(part)?;
        self.write_table(&rejects)
    }

    /// Adds a rated part's counts, tallies and line items to the run; its rejects
    /// are counted and handed back to be written.
    fn absorb(&mut self, part: Rated) -> Result<Vec<Reject>> {
        for (key, mut times) in part.invocations {
            self.invocations.entry(key).or_default().append(&mut times);
        }
        for (key, tokens) in part.shares {
            *self.shares.entry(key).or_default() += tokens;
        }
        self.counts.priced += part.priced;
        self.counts.not_billable += part.not_billable;
        self.counts.out_of_range += part.out_of_range;
        self.counts.rejected += part.rejects.len() as u64;
        self.count_reasons(&part.rejects);
        self.tallies.absorb(part.tallies);
        if let Some(sink) = self.line_items.as_mut() {
            sink.write(LineRows::Items(part.line_items))?;
        }
        Ok(part.rejects)
    }

    /// Adds rejects to the manifest's `rejects_by_reason`.
    pub(super) fn count_reasons(&mut self, rejects: &[Reject]) {
        for r in rejects {
            *self.by_reason.entry(r.reason.code()).or_default() += 1;
        }
    }

    pub(super) fn write_table(&mut self, rejects: &[Reject]) -> Result<()> {
        match rejects.is_empty() {
            true => Ok(()),
            false => self.rejects.write(report::reject_table(rejects)),
        }
    }

    /// Rejects that are not input rows (derived copy windows): written, not counted.
    pub(super) fn write_rejects(&mut self, rejects: Vec<Reject>) -> Result<()> {
        self.count_reasons(&rejects);
        self.write_table(&rejects)
    }
}

/// The first pass of `--dedup disk`: every request id with its row ordinal, spilled
/// by hash part, then the ordinals of repeated ids with their first copies' ordinals,
/// sorted. Reads the inputs exactly as the run will (same readers, same order), so
/// ordinals match row for row.
fn find_duplicates(files: &[InputFile], cfg: &RunConfig, dir: &Path) -> Result<Vec<(u64, u64)>> {
    let mut spill = Spill::create(dir)?;
    let mut ordinal = 0u64;
    let progress = Progress::new(files.iter().map(|f| f.bytes).sum(), cfg.quiet);
    for file in files {
        // The run's own reader (a reading thread overlaps the spilling), so ordinals
        // are the run's row for row; of Parquet only the id column is decoded.
        let ids_only = ingest::Projection::RequestIds;
        ingest::read_projected(file, cfg.batch_rows, ids_only, |batch| {
            let err = |e| Error::input(&file.path, e);
            let ids = Texts::of(batch.frame.column("request_id").map_err(err)?).map_err(err)?;
            let claimed = match batch.unreadable.is_empty() {
                true => None,
                // Readers that reject records also number rows.
                false => {
                    let rows = batch.frame.column(ROW_COLUMN).and_then(|c| c.i64());
                    in_claim_order(&ids, &Ints::of(rows.map_err(err)?), &batch.unreadable)
                }
            };
            let ids = claimed.map_or(ids, |(_, ids)| ids);
            spill.push_batch(&ids, ordinal)?;
            ordinal += ids.len() as u64;
            progress.file_at(batch.consumed);
            Ok(())
        })?;
        progress.file_done(file.bytes);
    }
    progress.finish();
    let duplicates = spill.duplicates();
    std::fs::remove_dir_all(dir).ok();
    duplicates
}

/// The reject line of a record its reader could not read.
pub(super) fn unreadable_reject(source: &Arc<str>, u: &Unreadable) -> Reject {
    Reject {
        source: source.clone(),
        row: u.row,
        request_id: u.request_id.clone(),
        reason: u.reason,
        message: u.message.clone(),
    }
}

/// What the manifest records of a usage file read: `rows` records, damaged by
/// `problem`, if anything.
pub(super) fn input_info(file: &InputFile, rows: u64, problem: Option<String>) -> InputInfo {
    InputInfo {
        path: file.path.display().to_string(),
        kind: file.kind.as_str().into(),
        bytes: file.bytes,
        rows,
        problem,
        etag: file.remote.as_ref().and_then(|o| o.etag.clone()),
    }
}

/// Row ranges for parallel rating: a few per thread, none tiny.
fn slices(len: usize, threads: usize) -> Vec<Range<usize>> {
    let size = len.div_ceil(threads.max(1) * 4).max(4096);
    (0..len)
        .step_by(size)
        .map(|start| start..(start + size).min(len))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::slices;

    #[test]
    fn slices_cover_every_row_once() {
        for (len, threads) in [(0, 2), (1, 1), (10_000, 2), (100_003, 8)] {
            let s = slices(len, threads);
            assert_eq!(s.iter().map(|r| r.len()).sum::<usize>(), len);
            assert!(s.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}
