//! Planning a run, before any usage is read: `--out` claimed (it must be billrun's
//! to replace), the inputs listed and sized, the capacity tables loaded (rating
//! invocations needs to know which models are imported or provisioned), the
//! staging directory made, and where duplicates will be found decided.

use super::{AUTO_DISK_BYTES, DedupMode, RunConfig};
use crate::capacity::{self, Billed, Biller, CapacityModels, Registry};
use crate::error::{Error, Result};
use crate::ingest::records::RecordTable;
use crate::ingest::{self, Discovered, InputFile, Skipped};
use crate::pricing::group::GroupKey;
use crate::report::outdir::{self, OutDir};
use crate::report::output::Staging;

/// What a run will read and where it will write.
pub(super) struct Plan<'c> {
    pub out_dir: OutDir,
    /// `--out` is replaced whole (not partitions merged into a previous run's).
    pub whole: bool,
    /// Usage files, in reading order.
    pub files: Vec<InputFile>,
    pub skipped: Vec<Skipped>,
    pub capacity: Capacity<'c>,
    pub staging: Staging,
    /// Duplicates found by a first pass over the inputs (`--dedup disk` or auto).
    pub on_disk: bool,
}

/// The capacity and customization tables, loaded before usage is read.
pub(super) struct Capacity<'c> {
    pub biller: Biller<'c>,
    /// Imported models (taken by the reading state) and their storage records.
    pub registry: Registry,
    pub registry_files: Vec<Billed>,
    /// Copy-activity tables, billed when the registry was loaded.
    pub copies: Vec<Billed>,
    pub provisioned: Vec<RecordTable>,
}

impl Capacity<'_> {
    /// The models billed by capacity whose invocations appear in usage.
    pub fn models(&self) -> CapacityModels {
        capacity::capacity_models(&self.registry, &self.provisioned)
    }
}

impl Plan<'_> {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

pub(super) fn plan(cfg: &RunConfig) -> Result<Plan<'_>> {
    let out_dir = outdir::claim(&cfg.out, &cfg.layout(), cfg.replace, &cfg.read_paths())?;
    let found = discover(&cfg.inputs, cfg.window, "manifest.json")?;
    plan_for(cfg, out_dir, found)
}

/// The usage files under `inputs` (S3 listings pruned to `window`), saying on stderr
/// how many files were skipped and where (`listed_in`) they all are.
pub(super) fn discover(
    inputs: &[std::path::PathBuf],
    window: (Option<i64>, Option<i64>),
    listed_in: &str,
) -> Result<Discovered> {
    let found = ingest::discover(inputs, prune_window(window))?;
    if let Some(first) = found.skipped.first() {
        eprintln!(
            "billrun: {} file(s) skipped, not read as usage (e.g. {}); all are listed in {listed_in}",
            found.skipped.len(),
            first.describe()
        );
    }
    Ok(found)
}

/// The plan of a run into the claimed `out_dir` over the usage files `found`.
pub(super) fn plan_for(cfg: &RunConfig, out_dir: OutDir, found: Discovered) -> Result<Plan<'_>> {
    let whole = out_dir.existing.as_ref() != Some(&cfg.layout());
    let Discovered { files, skipped } = found;
    let capacity = load_capacity(cfg)?;
    let staging = Staging::create(&out_dir)?;
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
    Ok(Plan {
        out_dir,
        whole,
        files,
        skipped,
        capacity,
        staging,
        on_disk,
    })
}

/// Loads the capacity tables: imported models and their copy activity first (rating
/// invocations needs to know which models are imported and whose copies are derived
/// from them), then the Provisioned Throughput records, read once: invocations of
/// provisioned models are recognised while rating, and the records billed after.
pub(super) fn load_capacity(cfg: &RunConfig) -> Result<Capacity<'_>> {
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
    let (mut registry, registry_files) =
        capacity::load_registry(&cfg.capacity.imported_models, &biller)?;
    let mut copies = Vec::new();
    for path in &cfg.capacity.copies {
        copies.push(capacity::bill_copies(&biller, &mut registry, path)?);
    }
    let provisioned = cfg
        .capacity
        .provisioned
        .iter()
        .map(|p| capacity::read_provisioned(p))
        .collect::<Result<Vec<_>>>()?;
    Ok(Capacity {
        biller,
        registry,
        registry_files,
        copies,
        provisioned,
    })
}

/// `--from`/`--to` as the span S3 listing prunes hour folders to (`None`: list all).
fn prune_window(window: (Option<i64>, Option<i64>)) -> Option<(i64, i64)> {
    match window {
        (None, None) => None,
        (from, to) => Some((from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX))),
    }
}
