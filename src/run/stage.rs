//! The files the staged commands hand each other (format version 1, documented in
//! docs/stages.md): a `map` shard (usage rows bucketed by request id) and a `reduce`
//! partial (one bucket's exact tallies, counts and rejects). Each is a directory
//! holding `stage.json` and the Parquet files it lists, written and replaced like
//! reports (`Layout::Stage`).

use super::RunConfig;
use crate::capacity::CapacityModels;
use crate::error::{Error, Result};
use crate::pricing::group::GroupKey;
use crate::report::manifest::{InputInfo, RowCounts};
use crate::report::outdir::STAGE_FILE;
use crate::vocab::Skipped;
use polars::prelude::{DataFrame, PolarsResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The version of the stage files this billrun writes and reads.
pub const VERSION: u32 = 1;

/// Columns the map stage adds to the canonical usage columns.
pub const FILE_COLUMN: &str = "__file";
pub const SEQ_COLUMN: &str = "__seq";
/// Set (to a reject code) on records their reader could not read.
pub const REASON_COLUMN: &str = "__reason";
pub const MESSAGE_COLUMN: &str = "__message";

/// One usage file of the whole input, numbered in reading order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageInput {
    pub index: usize,
    #[serde(flatten)]
    pub info: InputInfo,
}

/// `stage.json` of a map shard.
#[derive(Debug, Serialize, Deserialize)]
pub struct MapShard {
    pub billrun_stage: String,
    pub version: u32,
    pub billrun_version: String,
    pub shard: u32,
    pub shards: u32,
    pub buckets: u32,
    /// Usage files the listing found (every shard's): indices run `0..listed`.
    pub listed: usize,
    /// The `--from`/`--to` the listing was pruned to (UTC microseconds).
    pub window: (Option<i64>, Option<i64>),
    /// This shard's files.
    pub inputs: Vec<StageInput>,
    pub skipped: Vec<Skipped>,
    /// The bucket files: `bucket-<B>.<n>.parquet`, one per bucket and column types.
    pub files: Vec<String>,
}

/// `stage.json` of a reduce partial.
#[derive(Debug, Serialize, Deserialize)]
pub struct Partial {
    pub billrun_stage: String,
    pub version: u32,
    pub billrun_version: String,
    pub bucket: u32,
    pub buckets: u32,
    pub catalog_sha256: String,
    /// What rating depended on besides the catalog (`fingerprint`).
    pub fingerprint: String,
    /// The dimensions of `tallies.parquet`'s `key_<i>` columns.
    pub tally_keys: Vec<String>,
    pub rows: RowCounts,
    pub duplicate_conflicts: u64,
    pub rejects_by_reason: BTreeMap<String, u64>,
    /// Tokens per (capacity model ARN, cost center), exact integers as text.
    pub shares: Vec<(String, String, String)>,
    /// A summed quantity overflowed.
    pub overflowed: bool,
    /// Every usage file of the input (all shards'), in reading order.
    pub inputs: Vec<StageInput>,
    pub skipped: Vec<Skipped>,
    pub files: Vec<String>,
}

pub const MAP: &str = "map";
pub const PARTIAL: &str = "partial";
pub const TALLIES: &str = "tallies.parquet";
pub const INVOCATIONS: &str = "invocations.parquet";
pub const REJECTS: &str = "rejects.parquet";
pub const LINE_ITEMS: &str = "line_items.parquet";

/// The name of bucket `b`'s file for the `n`th set of column types.
pub fn bucket_file(bucket: u32, n: usize) -> String {
    format!("bucket-{bucket:05}.{n}.parquet")
}

/// Whether `name` is one of bucket `b`'s files.
pub fn is_bucket_file(name: &str, bucket: u32) -> bool {
    name.starts_with(&format!("bucket-{bucket:05}."))
}

pub fn write_json<T: Serialize>(value: &T, dir: &Path) -> Result<()> {
    let path = dir.join(STAGE_FILE);
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::output(&path, e))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::output(&path, e))
}

/// Reads `dir/stage.json` as a `stage` output of this format version.
pub fn read_json<T: for<'de> Deserialize<'de>>(dir: &Path, stage: &str) -> Result<T> {
    let path = dir.join(STAGE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::input_msg(
            dir,
            format!("not a billrun {stage} output (no readable {STAGE_FILE}: {e})"),
        )
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::input(&path, e))?;
    let found = value["billrun_stage"].as_str().unwrap_or_default();
    if found != stage {
        return Err(Error::input_msg(
            dir,
            format!("this is a billrun {found:?} output, not a {stage} output"),
        ));
    }
    if value["version"].as_u64() != Some(u64::from(VERSION)) {
        return Err(Error::input_msg(
            dir,
            format!(
                "stage format version {} is not {VERSION}, the one this billrun reads; rerun the stage with this billrun",
                value["version"]
            ),
        ));
    }
    serde_json::from_value(value).map_err(|e| Error::input(&path, e))
}

/// What rating depends on besides the catalog and the usage: the tally dimensions,
/// the window, inference profiles, aliases, allocation rules, the capacity split and
/// the capacity models (from the capacity tables). A reduce and the merge of its
/// partial must agree on it, or the partial's tallies mean something else.
pub fn fingerprint(cfg: &RunConfig, models: &CapacityModels) -> String {
    use sha2::Digest;
    let keys: Vec<String> = cfg.tally_keys().iter().map(GroupKey::column_name).collect();
    let profiles: BTreeMap<_, _> = cfg.profiles.iter().collect();
    let models: BTreeMap<_, _> = models.iter().map(|(k, m)| (k, format!("{m:?}"))).collect();
    let text = format!(
        "{keys:?}\n{:?}\n{profiles:?}\n{}\n{:?}\n{:?}\n{models:?}",
        cfg.window,
        cfg.catalog.aliases.digest(),
        cfg.allocation,
        cfg.split,
    );
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

/// The stage directories named, each once, in a stable order.
pub fn dirs(paths: &[PathBuf], stage: &str) -> Result<Vec<PathBuf>> {
    if paths.is_empty() {
        return Err(Error::Usage(format!(
            "name the {stage} directories to read"
        )));
    }
    let mut dirs: Vec<PathBuf> = paths.to_vec();
    dirs.sort();
    dirs.dedup();
    Ok(dirs)
}

/// Keys of a batch's rows, in row order.
pub type KeysOf<K> = Box<dyn Fn(&DataFrame) -> PolarsResult<Vec<K>>>;

/// A Parquet file billrun wrote (a bucket file, a partial's line items) read in
/// batches, with a key for each row: the stages merge such files run by run.
pub struct Cursor<K> {
    pub path: PathBuf,
    frames: Box<dyn Iterator<Item = Result<DataFrame>>>,
    frame: Option<(DataFrame, Vec<K>)>,
    at: usize,
    keys: KeysOf<K>,
}

impl<K: Copy + PartialEq> Cursor<K> {
    pub fn open(path: &Path, batch_rows: usize, keys: KeysOf<K>) -> Result<Cursor<K>> {
        let mut c = Cursor {
            path: path.to_path_buf(),
            frames: Box::new(crate::ingest::parquet_frames(path, batch_rows)?),
            frame: None,
            at: 0,
            keys,
        };
        c.fill()?;
        Ok(c)
    }

    /// Moves to the next batch holding a row, if the current one is done.
    fn fill(&mut self) -> Result<()> {
        while self.frame.as_ref().is_none_or(|(_, k)| self.at >= k.len()) {
            let Some(frame) = self.frames.next().transpose()? else {
                self.frame = None;
                return Ok(());
            };
            let keys = (self.keys)(&frame).map_err(|e| Error::input(&self.path, e))?;
            self.frame = Some((frame, keys));
            self.at = 0;
        }
        Ok(())
    }

    /// The key of the next row (`None`: none left).
    pub fn key(&self) -> Option<K> {
        self.frame.as_ref().map(|(_, k)| k[self.at])
    }

    /// The next rows of the current batch while `keep(key)` holds, at most `most`
    /// (at least the next row).
    pub fn take_while(&mut self, most: usize, keep: impl Fn(K) -> bool) -> Result<DataFrame> {
        let (frame, keys) = self.frame.as_ref().expect("a row is left");
        let last = keys.len().min(self.at.saturating_add(most.max(1)));
        let end = (self.at + 1..last)
            .find(|&i| !keep(keys[i]))
            .unwrap_or(last);
        let slice = frame.slice(self.at as i64, end - self.at);
        self.at = end;
        self.fill()?;
        Ok(slice)
    }
}
