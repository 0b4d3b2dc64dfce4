//! `billrun map`: one shard of the input files read with the run's own readers, every
//! record (readable or not) written to the bucket of its request id, so that all
//! copies of an id meet in one `reduce`. Records keep their file's number in the
//! whole input and their position in it (`__seq`, the order they claim ids), so a
//! reduce can replay them in the order a single run reads them.

use super::plan::discover;
use super::stage::{
    self, FILE_COLUMN, MAP, MESSAGE_COLUMN, MapShard, REASON_COLUMN, SEQ_COLUMN, StageInput,
};
use crate::error::{Error, Result};
use crate::ingest::{self, Batch, Discovered, InputFile};
use crate::pricing::dedup::{Claim, Key, in_claim_order, significant};
use crate::progress::Progress;
use crate::report::outdir::{self, Layout};
use crate::report::output::Staging;
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{Ints, ROW_COLUMN, Texts};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A validated `map` request.
pub struct MapConfig {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub buckets: u32,
    /// This shard (`shard` of `shards`): files `i` with `i % shards == shard`.
    pub shard: u32,
    pub shards: u32,
    pub window: (Option<i64>, Option<i64>),
    pub batch_rows: usize,
    pub quiet: bool,
    pub replace: bool,
}

/// What a map shard read.
pub struct MapReport {
    pub files: usize,
    pub rows: u64,
}

pub fn map(cfg: &MapConfig) -> Result<MapReport> {
    let layout = Layout::Stage {
        stage: MAP.to_string(),
    };
    let out_dir = outdir::claim(&cfg.out, &layout, cfg.replace, &cfg.inputs)?;
    let Discovered { files, skipped } = discover(&cfg.inputs, cfg.window, "stage.json")?;
    let staging = Staging::create(&out_dir)?;
    let mine: Vec<(usize, &InputFile)> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| *i as u64 % u64::from(cfg.shards) == u64::from(cfg.shard))
        .collect();
    let progress = Progress::new(mine.iter().map(|(_, f)| f.bytes).sum(), cfg.quiet);
    let mut writers = Writers::new(staging.path(), cfg.buckets);
    let mut inputs = Vec::new();
    let mut total = 0;
    for (index, file) in mine {
        let (mut rows, mut problem) = (0u64, None);
        ingest::read_batches(file, cfg.batch_rows, |batch| {
            let damage = batch
                .unreadable
                .iter()
                .find(|u| u.reason == Reason::CorruptFile);
            problem = problem.take().or_else(|| damage.map(|u| u.message.clone()));
            let n = writers
                .write(index, rows, &batch)
                .map_err(|e| Error::input(&file.path, e))?;
            rows += n;
            progress.add_rows(n);
            progress.file_at(batch.consumed);
            Ok(())
        })?;
        progress.file_done(file.bytes);
        total += rows;
        inputs.push(StageInput {
            index,
            info: super::read::input_info(file, rows, problem),
        });
    }
    progress.finish();
    let written = writers.finish()?;
    stage::write_json(
        &MapShard {
            billrun_stage: MAP.into(),
            version: stage::VERSION,
            billrun_version: env!("CARGO_PKG_VERSION").into(),
            shard: cfg.shard,
            shards: cfg.shards,
            buckets: cfg.buckets,
            listed: files.len(),
            window: cfg.window,
            inputs: inputs.clone(),
            skipped,
            files: written,
        },
        staging.path(),
    )?;
    staging.commit()?;
    Ok(MapReport {
        files: inputs.len(),
        rows: total,
    })
}

/// The bucket of a record: by its request id, so every copy lands in the same one;
/// a record without an id (never a duplicate) by its place in the input.
pub fn bucket_of(id: Option<&str>, file: usize, seq: u64, buckets: u32) -> u32 {
    let spread = match significant(id) {
        Some(id) => Key::of(id).spread(),
        None => ((file as u64) << 40 ^ seq).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    };
    ((spread >> 32) % u64::from(buckets)) as u32
}

/// One Parquet writer per (bucket, column types): a shard's files may be typed
/// differently (a Parquet export's timestamp, a CSV's text), each file alike.
struct Writers {
    dir: PathBuf,
    buckets: u32,
    /// Column types seen, by their description, numbered in order of appearance.
    schemas: BTreeMap<String, usize>,
    open: BTreeMap<(u32, usize), polars::io::parquet::write::BatchedWriter<std::fs::File>>,
}

impl Writers {
    fn new(dir: &Path, buckets: u32) -> Writers {
        Writers {
            dir: dir.to_path_buf(),
            buckets,
            schemas: BTreeMap::new(),
            open: BTreeMap::new(),
        }
    }

    /// Writes a batch of file `index`'s records, the first at position `seq`; returns
    /// how many it held.
    fn write(&mut self, index: usize, seq: u64, batch: &Batch) -> PolarsResult<u64> {
        let frame = &batch.frame;
        let ids = Texts::of(frame.column("request_id")?)?;
        let rows = Ints::of(frame.column(ROW_COLUMN)?.i64()?);
        let readable = frame.height();
        let total = readable + batch.unreadable.len();
        // The records in claim order, as slots of `all` (readable rows, then the
        // unreadable records): each bucket's are written in that order, so that a
        // reduce may cut a bucket file into batches anywhere.
        let order: Vec<usize> = match in_claim_order(&ids, &rows, &batch.unreadable) {
            None => (0..total).collect(),
            Some((order, _)) => order
                .iter()
                .map(|c| match *c {
                    Claim::Row(i) => i,
                    Claim::Unreadable(j) => readable + j,
                })
                .collect(),
        };
        let mut seqs = vec![0i64; total];
        for (k, &slot) in order.iter().enumerate() {
            seqs[slot] = (seq + k as u64) as i64;
        }
        let mut rows_of: BTreeMap<u32, Vec<IdxSize>> = BTreeMap::new();
        for &slot in &order {
            let id = match slot < readable {
                true => ids.get(slot),
                false => batch.unreadable[slot - readable].request_id.as_deref(),
            };
            let b = bucket_of(id, index, seqs[slot] as u64, self.buckets);
            rows_of.entry(b).or_default().push(slot as IdxSize);
        }
        let mut all = frame.clone();
        all.vstack_mut(&unreadable_frame(frame.schema(), batch)?)?;
        let reasons: Vec<Option<&str>> = (0..total)
            .map(|k| (k >= readable).then(|| batch.unreadable[k - readable].reason.code()))
            .collect();
        let messages: Vec<Option<&str>> = (0..total)
            .map(|k| (k >= readable).then(|| batch.unreadable[k - readable].message.as_str()))
            .collect();
        all.with_column(Column::new(FILE_COLUMN.into(), vec![index as i64; total]))?;
        all.with_column(Column::new(SEQ_COLUMN.into(), seqs))?;
        all.with_column(Column::new(REASON_COLUMN.into(), reasons))?;
        all.with_column(Column::new(MESSAGE_COLUMN.into(), messages))?;
        // One chunk per column: the writer cuts row groups chunk by chunk.
        all.rechunk_mut_par();
        let types = format!("{:?}", all.schema());
        let next = self.schemas.len();
        let n = *self.schemas.entry(types).or_insert(next);
        for (b, rows) in rows_of {
            let part = all.take(&IdxCa::from_vec("rows".into(), rows))?;
            let writer = match self.open.entry((b, n)) {
                std::collections::btree_map::Entry::Occupied(w) => w.into_mut(),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    let path = self.dir.join(stage::bucket_file(b, n));
                    let file = std::fs::File::create(&path)?;
                    let w = ParquetWriter::new(file)
                        .with_compression(ParquetCompression::Snappy)
                        .batched(part.schema())?;
                    slot.insert(w)
                }
            };
            writer.write_batch(&part)?;
        }
        Ok(total as u64)
    }

    /// Closes every file; their names, sorted.
    fn finish(self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for ((b, n), w) in self.open {
            let name = stage::bucket_file(b, n);
            w.finish()
                .map_err(|e| Error::output(self.dir.join(&name), e))?;
            names.push(name);
        }
        Ok(names)
    }
}

/// The batch's unreadable records as rows of its frame's columns: their row number
/// and request id, every other column null.
fn unreadable_frame(schema: &Schema, batch: &Batch) -> PolarsResult<DataFrame> {
    let u = &batch.unreadable;
    let columns: Vec<Column> = schema
        .iter()
        .map(|(name, dtype)| match name.as_str() {
            ROW_COLUMN => Column::new(name.clone(), u.iter().map(|r| r.row).collect::<Vec<_>>()),
            "request_id" => Column::new(
                name.clone(),
                u.iter()
                    .map(|r| r.request_id.as_deref())
                    .collect::<Vec<_>>(),
            ),
            _ => Column::full_null(name.clone(), u.len(), dtype),
        })
        .collect();
    DataFrame::new(u.len(), columns)
}
