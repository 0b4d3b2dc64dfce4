//! `billrun run`: inputs → rated batches → reports, written atomically.
//!
//! Files are read in sorted path order and batches in file order; duplicates are
//! marked sequentially (first occurrence wins), then each batch is rated in parallel
//! slices whose results are merged in slice order. Sums are exact integers, so the
//! result is the same for any thread count or batch size.

use crate::capacity::{
    self, Billed, Biller, CapacityFiles, CapacityModels, Charge, HourPolicy, Invocations, Registry,
};
use crate::catalog::PriceCatalog;
use crate::catalog::terms::UsageType;
use crate::error::{Error, Result};
use crate::ingest::{self, Batch, InputFile, Unreadable};
use crate::pricing::allocate::{Allocation, CapacitySplit, split_exact};
use crate::pricing::dedup::spill::{Listed, Spill};
use crate::pricing::dedup::{Claim, SeenIds, in_claim_order, split_flags, usage_print};
use crate::pricing::group::{Charged, GroupKey, Tallies};
use crate::pricing::rate::{LineItem, RateCache, RateContext, Rated, Reject, rate_slice_with};
use crate::progress::Progress;
use crate::report::manifest::{FileInfo, InputInfo, Manifest, RowCounts};
use crate::report::outdir::{self, Layout};
use crate::report::output::{self, PartitionedSink, Partitioning, Staging};
use crate::report::sink::{self, Background, Format, TableSink};
use crate::report::{self, Summary, focus};
use crate::vocab::money::{Money, Quantity};
use crate::vocab::reasons::Reason;
use crate::vocab::rows::UsageColumns;
use crate::vocab::rows::{Ints, ROW_COLUMN, Texts};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A validated `run` request.
pub struct RunConfig {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub format: Format,
    pub group_by: Vec<GroupKey>,
    pub line_items: bool,
    pub threads: usize,
    pub quiet: bool,
    pub catalog: PriceCatalog,
    /// Rows per batch read from a file.
    pub batch_rows: usize,
    /// `--from` (inclusive) / `--to` (exclusive), UTC microseconds.
    pub window: (Option<i64>, Option<i64>),
    /// Application-inference-profile ARN → model id.
    pub profiles: HashMap<String, String>,
    /// Capacity and customization tables (`--provisioned`, `--copies`, ...).
    pub capacity: CapacityFiles,
    pub pt_hours: HourPolicy,
    /// `--format focus`: also write focus.parquet with this charge period (hour, day).
    pub focus: Option<GroupKey>,
    /// `--partition-by day|month`: Hive-style partitions under `--out`.
    pub partition: Option<Partitioning>,
    /// `--allocation` rules (empty without the flag).
    pub allocation: Allocation,
    /// `--split-capacity`.
    pub split: Option<CapacitySplit>,
    /// `--dedup`: where request ids are kept.
    pub dedup: DedupMode,
    /// `--replace`: a previous run of another layout in `--out` may be replaced whole.
    pub replace: bool,
}

/// How duplicates are found (`--dedup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupMode {
    /// Every id in memory (fast; memory grows with distinct ids).
    Memory,
    /// A first pass spills ids to disk by hash part (memory bounded).
    Disk,
    /// Disk when the inputs exceed `AUTO_DISK_BYTES`, else memory.
    Auto,
}

/// Above this much input, `--dedup auto` finds duplicates on disk: about 3M rows of
/// Parquet or 2M gzip log records, ~100 MB of ids in memory.
pub const AUTO_DISK_BYTES: u64 = 256 << 20;

/// Duplicate detection for the run.
enum Duplicates {
    Memory(SeenIds),
    Listed(Listed),
}

impl RunConfig {
    /// How this run lays out its reports under `--out`.
    pub fn layout(&self) -> Layout {
        let ext = self.format.extension().to_string();
        match &self.partition {
            None => Layout::Flat { ext },
            Some(p) => Layout::Partitioned {
                column: p.column().to_string(),
                ext,
            },
        }
    }

    /// Every file or directory the run reads usage or capacity from.
    pub fn read_paths(&self) -> Vec<PathBuf> {
        let c = &self.capacity;
        let tables = [
            &c.provisioned,
            &c.copies,
            &c.imported_models,
            &c.customization,
        ];
        self.inputs
            .iter()
            .chain(tables.into_iter().flatten())
            .cloned()
            .collect()
    }

    /// The dimensions usage is tallied by: the summary's keys, then whatever the
    /// FOCUS dataset needs besides; each report is a projection of these.
    pub fn tally_keys(&self) -> Vec<GroupKey> {
        let mut keys = self.group_by.clone();
        let partition = self.partition.iter().map(|p| p.key.clone());
        let center = (!self.allocation.is_empty()).then_some(GroupKey::CostCenter);
        let focus = self.focus.iter().flat_map(focus::keys);
        for k in focus.chain(partition).chain(center) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
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
fn positions(keys: &[GroupKey], wanted: &[GroupKey]) -> Vec<usize> {
    wanted
        .iter()
        .filter_map(|w| keys.iter().position(|k| k == w))
        .collect()
}

/// What a finished run tells its caller.
#[derive(Debug)]
pub struct RunReport {
    pub rows: RowCounts,
    pub totals: BTreeMap<String, Money>,
    /// Copy windows derived from invocations that could not be priced (not input rows).
    pub derived_rejected: u64,
    /// Duplicates whose usage differs from the first copy's (counted as duplicates).
    pub duplicate_conflicts: u64,
}

pub fn run(cfg: &RunConfig) -> Result<RunReport> {
    let started_at = chrono::Utc::now().to_rfc3339();
    // Before anything is read: `--out` must be billrun's to replace.
    let layout = cfg.layout();
    let out_dir = outdir::claim(&cfg.out, &layout, cfg.replace, &cfg.read_paths())?;
    let whole = out_dir.existing.as_ref() != Some(&layout);
    let ingest::Discovered { files, skipped } =
        ingest::discover(&cfg.inputs, prune_window(cfg.window))?;
    if !skipped.is_empty() {
        eprintln!(
            "billrun: {} file(s) skipped, not read as usage (e.g. {}); all are listed in manifest.json",
            skipped.len(),
            skipped[0].describe()
        );
    }
    let biller = Biller {
        catalog: &cfg.catalog,
        window: cfg.window,
        cut: cfg
            .tally_keys()
            .iter()
            .filter(|k| **k != GroupKey::Month)
            .filter_map(GroupKey::time_bucket)
            .min(),
        hours: cfg.pt_hours,
    };
    // Imported models and their copy activity come first: rating invocations needs
    // to know which models are imported and whose copies are derived from them.
    let (mut registry, mut registry_files) =
        capacity::load_registry(&cfg.capacity.imported_models, &biller)?;
    let mut copies = Vec::new();
    for path in &cfg.capacity.copies {
        copies.push(capacity::bill_copies(&biller, &mut registry, path)?);
    }
    let staging = Staging::create(&out_dir)?;
    // Read once: invocations of provisioned models are recognised while rating, and
    // the records are billed after.
    let provisioned = cfg
        .capacity
        .provisioned
        .iter()
        .map(|p| capacity::read_provisioned(p))
        .collect::<Result<Vec<_>>>()?;
    let capacity_models = capacity::capacity_models(&registry, &provisioned);
    let mut state = RunState::open(cfg, staging.path(), registry, capacity_models)?;
    let bytes: u64 = files.iter().map(|f| f.bytes).sum();
    let streams = files.iter().any(|f| f.stream);
    let on_disk = match cfg.dedup {
        DedupMode::Disk if streams => {
            return Err(Error::Usage(
                "--dedup disk reads the inputs twice, and a FIFO can be read only once; use --dedup memory".into(),
            ));
        }
        DedupMode::Disk => true,
        DedupMode::Memory => false,
        DedupMode::Auto => bytes > AUTO_DISK_BYTES && !streams,
    };
    if on_disk {
        let spill = staging.path().join(".dedup");
        let listed = find_duplicates(&files, cfg, &spill)?;
        state.duplicates = Duplicates::Listed(Listed::new(listed));
    }
    let progress = Progress::new(bytes, cfg.quiet);
    let mut inputs = Vec::new();
    for file in &files {
        let (rows, problem) = state.read_file(file, &progress)?;
        progress.file_done(file.bytes);
        inputs.push(InputInfo {
            path: file.path.display().to_string(),
            kind: file.kind.as_str().into(),
            bytes: file.bytes,
            rows,
            problem,
            etag: file.remote.as_ref().and_then(|o| o.etag.clone()),
        });
    }
    let mut billed = Vec::new();
    for table in &provisioned {
        billed.push(capacity::bill_provisioned(&biller, table)?);
    }
    capacity::bill_storage(&biller, &state.registry, &mut registry_files);
    billed.extend(registry_files);
    billed.extend(copies);
    for path in &cfg.capacity.customization {
        billed.push(capacity::bill_customization(&biller, path)?);
    }
    for b in billed {
        inputs.push(state.absorb_billed(b)?);
    }
    let invocations = std::mem::take(&mut state.invocations);
    let (derived, derived_rejects) = capacity::bill_derived(&biller, &state.registry, invocations);
    state.absorb_charges(derived)?;
    let derived_rejected = derived_rejects.len() as u64;
    state.write_rejects(derived_rejects)?;
    progress.finish();
    refuse_silent_zero(&state.counts, &skipped)?;
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
    let written = state.finish(&summary, staging.path())?;
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
        options: crate::report::manifest::Options {
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
        },
        inputs,
        skipped_files: skipped,
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
    let plan = match &cfg.partition {
        None => None,
        Some(p) => {
            let covered = match cfg.window {
                (Some(from), Some(to)) => Some(p.covered(from, to)?),
                _ => None,
            };
            let tables = partitioned_tables(cfg);
            Some(output::plan_partitions(
                staging.path(),
                (!whole).then_some(out_dir.path.as_path()),
                p,
                &tables,
                covered,
            )?)
        }
    };
    if let Some(plan) = &plan {
        manifest.partitions_written = plan.written.clone();
        manifest.partitions_removed = plan.removed.clone();
    }
    write_manifest(&manifest, staging.path())?;
    match plan {
        None => staging.commit()?,
        Some(plan) => staging.commit_partitioned(&plan, whole)?,
    }
    Ok(RunReport {
        rows: counts,
        totals,
        derived_rejected,
        duplicate_conflicts: conflicts,
    })
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

/// Everything accumulated while reading.
struct RunState<'c> {
    cfg: &'c RunConfig,
    duplicates: Duplicates,
    /// Rows handed to rating so far: the next batch's first ordinal.
    ordinal: u64,
    tallies: Tallies,
    counts: RowCounts,
    /// Duplicates whose usage differs from the first copy's.
    conflicts: u64,
    by_reason: BTreeMap<&'static str, u64>,
    rejects: Box<dyn TableSink>,
    /// Line items, turned into tables and written on their own thread.
    line_items: Option<Background<Vec<LineItem>>>,
    registry: Registry,
    capacity_models: CapacityModels,
    invocations: Invocations,
    /// Tokens per (capacity model ARN, cost center), for `--split-capacity`.
    shares: HashMap<(String, String), u128>,
    /// What usage is tallied by (`RunConfig::tally_keys`).
    keys: Vec<GroupKey>,
    /// Each rating thread's lookups, kept across slices and batches.
    caches: Vec<Mutex<RateCache>>,
}

impl<'c> RunState<'c> {
    fn open(
        cfg: &'c RunConfig,
        dir: &Path,
        registry: Registry,
        capacity_models: CapacityModels,
    ) -> Result<RunState<'c>> {
        let rejects = sink::open(cfg.format, dir, "rejects", &report::reject_schema())?;
        let schema = report::line_item_schema();
        let sink: Option<Box<dyn TableSink>> = match (cfg.line_items, &cfg.partition) {
            (false, _) => None,
            (true, None) => Some(sink::open(cfg.format, dir, "line_items", &schema)?),
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
            line_items: sink.map(|s| Background::spawn("line_items", s, report::line_item_table)),
            registry,
            capacity_models,
            invocations: Invocations::new(),
            shares: HashMap::new(),
            caches: (0..rayon::current_num_threads())
                .map(|_| Mutex::new(RateCache::default()))
                .collect(),
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
        ingest::read_batches(file, self.cfg.batch_rows, |batch| {
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

    fn rate_batch(&mut self, batch: &Batch, source: &Arc<str>, path: &Path) -> Result<u64> {
        let cols = UsageColumns::from_frame(&batch.frame).map_err(|e| Error::input(path, e))?;
        let (duplicate, repeated, conflicts) = self.mark_duplicates(&cols, &batch.unreadable);
        let ctx = RateContext {
            catalog: &self.cfg.catalog,
            group_by: &self.keys,
            line_items: self.cfg.line_items,
            window: self.cfg.window,
            profiles: &self.cfg.profiles,
            capacity: &self.capacity_models,
            allocation: &self.cfg.allocation,
            split: self.cfg.split,
        };
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
        for part in rated {
            self.merge(part)?;
        }
        // A rejected record whose id was claimed before is a duplicate, not a reject.
        let unreadable = batch.unreadable.iter().zip(&repeated);
        let unreadable = unreadable.filter(|(_, r)| !**r).map(|(u, _)| Reject {
            source: source.clone(),
            row: u.row,
            request_id: u.request_id.clone(),
            reason: u.reason,
            message: u.message.clone(),
        });
        self.merge(Rated {
            rejects: unreadable.collect(),
            ..Rated::default()
        })?;
        self.report_conflicts(&cols, &conflicts, source)?;
        let read = (cols.len + batch.unreadable.len()) as u64;
        self.counts.read += read;
        Ok(read)
    }

    /// Flags the batch's repeated request ids, for its readable rows and for the
    /// records its reader rejected, in the order they claim ids (`dedup::claims`);
    /// and the readable rows whose id was seen before with other usage.
    fn mark_duplicates(
        &mut self,
        cols: &UsageColumns,
        unreadable: &[Unreadable],
    ) -> (Vec<bool>, Vec<bool>, Vec<usize>) {
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
        let print = |k: usize| row_at(k).map_or(0, |i| usage_print(cols, i));
        let ids = claims.as_ref().map_or(&cols.request_id, |(_, ids)| ids);
        let marks = match &mut self.duplicates {
            Duplicates::Memory(seen) => seen.mark_printed(ids, print),
            // Only the rows the first pass listed are printed.
            Duplicates::Listed(listed) => listed.mark_printed(self.ordinal, total, print),
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
        (readable, rejected, conflicts)
    }

    /// A duplicate whose usage differs from the first copy's is still a duplicate
    /// (the first wins), but is reported: a `duplicate_conflict` line in rejects,
    /// not counted as a rejected row.
    fn report_conflicts(
        &mut self,
        cols: &UsageColumns,
        rows: &[usize],
        source: &Arc<str>,
    ) -> Result<()> {
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
        self.write_rejects(conflicts)
    }

    fn merge(&mut self, part: Rated) -> Result<()> {
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
        for r in &part.rejects {
            *self.by_reason.entry(r.reason.code()).or_default() += 1;
        }
        self.tallies.absorb(part.tallies);
        if !part.rejects.is_empty() {
            self.rejects.write(report::reject_table(&part.rejects))?;
        }
        if let Some(sink) = self.line_items.as_mut() {
            sink.write(part.line_items)?;
        }
        Ok(())
    }

    /// Counts a capacity table's records, writes its rejects, adds its charges.
    fn absorb_billed(&mut self, billed: Billed) -> Result<InputInfo> {
        self.counts.read += billed.rows;
        self.counts.priced += billed.priced;
        self.counts.out_of_range += billed.out_of_range;
        self.merge(Rated {
            rejects: billed.rejects,
            ..Rated::default()
        })?;
        self.absorb_charges(billed.charges)?;
        Ok(InputInfo {
            path: billed.input.display().to_string(),
            kind: billed.kind.to_string(),
            bytes: billed.bytes,
            rows: billed.rows,
            problem: None,
            etag: None,
        })
    }

    /// Adds capacity charges to the tallies (grouped like usage) and line items. With
    /// `--allocation`, a charge goes to its account's cost center, or, with
    /// `--split-capacity`, is split exactly among the centers that used the model.
    fn absorb_charges(&mut self, charges: Vec<Charge>) -> Result<()> {
        let mut codes = Vec::with_capacity(self.keys.len());
        let mut items = Vec::new();
        for c in &charges {
            for (center, quantity, cost) in self.allocate(c) {
                codes.clear();
                for (d, key) in self.keys.iter().enumerate() {
                    let value = capacity_group_value(key, c, &center);
                    codes.push(self.tallies.groups.dim(d).code(&value));
                }
                let group = self.tallies.groups.id(&codes);
                let charged = Charged {
                    quantity,
                    cost,
                    records: 1,
                };
                self.tallies.charge(group, c.price, c.usage_type, charged);
                if self.line_items.is_some() {
                    let mut item = c.line_item(&self.cfg.catalog);
                    (item.quantity, item.cost) = (quantity, cost);
                    item.cost_center = (!self.cfg.allocation.is_empty()).then_some(center);
                    items.push(item);
                }
            }
        }
        if let Some(sink) = self.line_items.as_mut() {
            sink.write(items)?;
        }
        Ok(())
    }

    /// A charge's (cost center, quantity, cost) parts: exact splits that add up to it.
    fn allocate(&self, c: &Charge) -> Vec<(String, Quantity, Money)> {
        let by_rule = || {
            let center = self.cfg.allocation.cost_center(&c.account_id, "", None);
            vec![(center.to_string(), c.quantity, c.cost)]
        };
        let Some(split) = self.cfg.split else {
            return by_rule();
        };
        // Shares are kept per model ARN: a provisioned model's id, an imported model's.
        let model = match c.usage_type {
            UsageType::MuHours => &c.resource,
            _ => &c.model_id,
        };
        let users: Vec<(&String, u128)> = self
            .shares
            .iter()
            .filter(|((m, _), _)| m == model)
            .map(|((_, center), tokens)| (center, *tokens))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        if users.is_empty() {
            return by_rule();
        }
        let weights: Vec<u128> = match split {
            CapacitySplit::Tokens => users.iter().map(|(_, t)| *t).collect(),
            CapacitySplit::Even => vec![1; users.len()],
        };
        let costs = split_exact(c.cost.unscaled(), &weights);
        let quantities = split_exact(c.quantity.unscaled(), &weights);
        users
            .iter()
            .zip(costs.into_iter().zip(quantities))
            .map(|((center, _), (cost, quantity))| {
                (
                    center.to_string(),
                    Quantity::from_unscaled(quantity),
                    Money::from_unscaled(cost),
                )
            })
            .collect()
    }

    /// Rejects that are not input rows (derived copy windows): written, not counted.
    fn write_rejects(&mut self, rejects: Vec<Reject>) -> Result<()> {
        for r in &rejects {
            *self.by_reason.entry(r.reason.code()).or_default() += 1;
        }
        if !rejects.is_empty() {
            self.rejects.write(report::reject_table(&rejects))?;
        }
        Ok(())
    }

    fn finish(self, summary: &Summary, dir: &Path) -> Result<Vec<FileInfo>> {
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

/// A capacity charge's value for a report dimension: it has no principal, tags or
/// service tier, and is always served in its own region.
fn capacity_group_value(key: &GroupKey, c: &Charge, center: &str) -> String {
    match key {
        GroupKey::ModelId => c.model_id.clone(),
        GroupKey::Mode => c.mode().to_string(),
        GroupKey::Region => c.region.clone(),
        GroupKey::Scope => crate::resolve::Scope::InRegion.to_string(),
        GroupKey::AccountId => c.account_id.clone(),
        GroupKey::Hour | GroupKey::Day | GroupKey::Month => {
            key.time_value(c.at).unwrap_or_default()
        }
        GroupKey::Resource => c.resource.clone(),
        GroupKey::CostCenter => center.to_string(),
        GroupKey::ServiceTier | GroupKey::Principal | GroupKey::Tag(_) | GroupKey::Tags => {
            String::new()
        }
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

/// `--from`/`--to` as the span S3 listing prunes hour folders to (`None`: list all).
fn prune_window(window: (Option<i64>, Option<i64>)) -> Option<(i64, i64)> {
    match window {
        (None, None) => None,
        (from, to) => Some((from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX))),
    }
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
