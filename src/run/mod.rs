//! `billrun run`, in stages within one process: `plan` (claim `--out`, list and
//! size the inputs, load the capacity tables) → `read` (read, find duplicates, rate
//! every batch into exact tallies, rejects and line items) → `charges` (capacity
//! and customization billed into the same tallies) → `write` (summary, FOCUS,
//! partitions, manifest; committed atomically).
//!
//! Files are read in sorted path order and batches in file order; duplicates are
//! marked sequentially (first occurrence wins), then each batch is rated in parallel
//! slices whose results are merged in slice order. Sums are exact integers, so the
//! result is the same for any thread count or batch size.

mod charges;
mod map;
mod merge;
mod once;
mod plan;
mod read;
mod reduce;
mod stage;
mod write;

pub use map::{MapConfig, MapReport, bucket_of, map};
pub use merge::merge;
pub use reduce::reduce;
pub use stage::Partial;

use crate::capacity::{CapacityFiles, HourPolicy};
use crate::catalog::PriceCatalog;
use crate::error::Result;
use crate::pricing::allocate::{Allocation, CapacitySplit};
use crate::pricing::group::GroupKey;
use crate::report::focus;
use crate::report::manifest::RowCounts;
use crate::report::outdir::Layout;
use crate::report::output::Partitioning;
use crate::report::sink::Format;
use crate::vocab::money::Money;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

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
    let mut plan = plan::plan(cfg)?;
    let models = plan.capacity.models();
    let registry = std::mem::take(&mut plan.capacity.registry);
    let dir = plan.staging.path();
    let mut state = read::RunState::open(cfg, dir, read::Sinks::Reports, registry, models)?;
    let (mut inputs, progress) = state.read_inputs(&plan)?;
    let derived_rejected = state.bill_capacity(&mut plan, &mut inputs)?;
    progress.finish();
    write::write(cfg, plan, state, inputs, derived_rejected, started_at)
}
