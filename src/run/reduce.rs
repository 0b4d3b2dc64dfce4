//! `billrun reduce`: one bucket of every map shard, replayed in the order a single
//! run reads it (file, then position), duplicates found in memory (every copy of an
//! id is in this bucket) and each record rated as `run` rates it; written as a
//! partial: exact tallies, counts, rejects, imported-model invocations and capacity
//! shares, which `billrun merge` adds up.

use super::RunConfig;
use super::plan::load_capacity;
use super::read::{RunState, Sinks};
use super::stage::{
    self, Cursor, FILE_COLUMN, INVOCATIONS, KeysOf, LINE_ITEMS, MAP, MESSAGE_COLUMN, MapShard,
    PARTIAL, Partial, REASON_COLUMN, REJECTS, SEQ_COLUMN, StageInput, TALLIES,
};
use crate::error::{Error, Result};
use crate::ingest::Batch;
use crate::pricing::group::GroupKey;
use crate::report::outdir::{self, Layout};
use crate::report::output::Staging;
use crate::report::sink::{self, Format};
use crate::report::table::{Kind, Schema, Table, Values};
use crate::vocab::Unreadable;
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{Ints, ROW_COLUMN, Texts};
use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn reduce(cfg: &RunConfig, bucket: u32) -> Result<Partial> {
    let dirs = stage::dirs(&cfg.inputs, MAP)?;
    let shards = read_shards(&dirs, cfg)?;
    let buckets = shards[0].1.buckets;
    if bucket >= buckets {
        return Err(Error::Usage(format!(
            "--bucket {bucket}: the map shards have buckets 0 to {}",
            buckets - 1
        )));
    }
    let mut inputs: Vec<StageInput> = shards
        .iter()
        .flat_map(|(_, s)| s.inputs.iter().cloned())
        .collect();
    inputs.sort_by_key(|i| i.index);
    let layout = Layout::Stage {
        stage: PARTIAL.to_string(),
    };
    let out_dir = outdir::claim(&cfg.out, &layout, cfg.replace, &cfg.read_paths())?;
    let mut capacity = load_capacity(cfg)?;
    let models = capacity.models();
    let fingerprint = stage::fingerprint(cfg, &models);
    let staging = Staging::create(&out_dir)?;
    let registry = std::mem::take(&mut capacity.registry);
    let mut state = RunState::open(cfg, staging.path(), Sinks::Partial, registry, models)?;
    // Every map file of this bucket, read in batches: each is in (file, position)
    // order as map wrote it, and a usage file's records are all in one of them (one
    // shard, one set of column types), so replaying the file with the smallest number
    // next, run by run, is the single run's order; memory holds a batch per file.
    let mut cursors = Vec::new();
    for (dir, shard) in &shards {
        let names = shard
            .files
            .iter()
            .filter(|n| stage::is_bucket_file(n, bucket));
        for name in names {
            let files: KeysOf<i64> = Box::new(|frame| {
                let files = frame.column(FILE_COLUMN)?.i64()?;
                Ok(files.iter().map(|v| v.unwrap_or(-1)).collect())
            });
            cursors.push(Cursor::open(&dir.join(name), cfg.batch_rows, files)?);
        }
    }
    let mut last: Option<i64> = None;
    while let Some((index, c)) = (0..cursors.len())
        .filter_map(|c| Some((cursors[c].key()?, c)))
        .min()
    {
        let slice = cursors[c].take_while(cfg.batch_rows, |file| file == index)?;
        if last > Some(index) {
            return Err(Error::input_msg(
                &cursors[c].path,
                "the bucket file is not in input order: the map shards disagree",
            ));
        }
        last = Some(index);
        let info = usize::try_from(index)
            .ok()
            .and_then(|i| inputs.binary_search_by_key(&i, |x| x.index).ok())
            .map(|at| &inputs[at])
            .ok_or_else(|| {
                Error::input_msg(
                    &cursors[c].path,
                    format!("records of input file {index}, which no shard lists"),
                )
            })?;
        let path = PathBuf::from(&info.info.path);
        let source: Arc<str> = Arc::from(info.info.path.as_str());
        let batch = replay(&slice).map_err(|e| Error::input(&path, e))?;
        state.rate_batch(&batch, &source, &path)?;
    }
    let partial = Partial {
        billrun_stage: PARTIAL.into(),
        version: stage::VERSION,
        billrun_version: env!("CARGO_PKG_VERSION").into(),
        bucket,
        buckets,
        catalog_sha256: cfg.catalog.sha256.clone(),
        fingerprint,
        tally_keys: state.keys.iter().map(GroupKey::column_name).collect(),
        rows: state.counts,
        duplicate_conflicts: state.conflicts,
        rejects_by_reason: state
            .by_reason
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        shares: {
            let mut s: Vec<(String, String, String)> = state
                .shares
                .iter()
                .map(|((m, c), t)| (m.clone(), c.clone(), t.to_string()))
                .collect();
            s.sort();
            s
        },
        overflowed: state.tallies.overflowed,
        inputs,
        skipped: shards[0].1.skipped.clone(),
        files: [REJECTS, TALLIES, INVOCATIONS]
            .into_iter()
            .chain(cfg.line_items.then_some(LINE_ITEMS))
            .map(String::from)
            .collect(),
    };
    write_tallies(&state, staging.path())?;
    write_invocations(&state, staging.path())?;
    state.rejects.finish()?;
    if let Some(items) = state.line_items {
        items.finish()?;
    }
    stage::write_json(&partial, staging.path())?;
    staging.commit()?;
    Ok(partial)
}

/// The map shards in `dirs`, checked to be one complete map of the same input.
fn read_shards(dirs: &[PathBuf], cfg: &RunConfig) -> Result<Vec<(PathBuf, MapShard)>> {
    let mut shards = Vec::new();
    for dir in dirs {
        shards.push((dir.clone(), stage::read_json::<MapShard>(dir, MAP)?));
    }
    let first = &shards[0].1;
    let (count, buckets, listed) = (first.shards, first.buckets, first.listed);
    let mut seen = vec![false; count as usize];
    for (dir, s) in &shards {
        if (s.shards, s.buckets, s.listed) != (count, buckets, listed) || s.skipped != first.skipped
        {
            return Err(Error::Usage(format!(
                "{} is shard {} of {} with {} buckets over {} files, {} shard {} of {count} with {buckets} buckets over {listed}: name the shards of one map",
                dir.display(),
                s.shard,
                s.shards,
                s.buckets,
                s.listed,
                shards[0].0.display(),
                first.shard
            )));
        }
        if s.window != cfg.window {
            return Err(Error::Usage(format!(
                "{} was mapped with another --from/--to than this reduce's; give both the same window",
                dir.display()
            )));
        }
        match seen.get_mut(s.shard as usize) {
            Some(slot) if !*slot => *slot = true,
            _ => {
                return Err(Error::Usage(format!(
                    "map shard {} of {count} is named twice ({})",
                    s.shard,
                    dir.display()
                )));
            }
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(Error::Usage(format!(
            "map shard {missing} of {count} is missing: a reduce reads every shard of the map, or duplicates across shards would be missed"
        )));
    }
    Ok(shards)
}

/// A slice of a bucket file (one usage file's records in claim order) as the batch
/// its reader had cut: readable rows in a frame, the rest as unreadable records.
fn replay(slice: &DataFrame) -> PolarsResult<Batch> {
    let reasons = Texts::of(slice.column(REASON_COLUMN)?)?;
    let unreadable_mask: BooleanChunked = (0..slice.height())
        .map(|i| reasons.get(i).is_some())
        .collect();
    let extra = [FILE_COLUMN, SEQ_COLUMN, REASON_COLUMN, MESSAGE_COLUMN];
    let readable = slice.filter(&!&unreadable_mask)?.drop_many(extra);
    let rejected = slice.filter(&unreadable_mask)?;
    let rows = Ints::of(rejected.column(ROW_COLUMN)?.i64()?);
    let ids = Texts::of(rejected.column("request_id")?)?;
    let reasons = Texts::of(rejected.column(REASON_COLUMN)?)?;
    let messages = Texts::of(rejected.column(MESSAGE_COLUMN)?)?;
    let mut unreadable = Vec::with_capacity(rejected.height());
    for i in 0..rejected.height() {
        let code = reasons.get(i).unwrap_or_default();
        let reason = Reason::from_code(code).ok_or_else(
            || polars_err!(ComputeError: "unknown reject reason {code:?} in a bucket file"),
        )?;
        unreadable.push(Unreadable {
            row: rows.get(i).unwrap_or(0),
            reason,
            request_id: ids.get(i).map(str::to_string),
            message: messages.get(i).unwrap_or_default().to_string(),
        });
    }
    let mut readable = readable;
    readable.rechunk_mut_par();
    Ok(Batch::new(readable, unreadable))
}

/// `tallies.parquet`: one row per (group, catalog row), the group's values as
/// `key_<i>` text; a per-row charge (imported-model tokens) also per usage type,
/// with its cost. Quantities are exact integers as text: token counts, or for a
/// charge the unscaled DECIMAL(38, 12) quantity and cost.
fn write_tallies(state: &RunState, dir: &Path) -> Result<()> {
    type Entry = (
        Vec<String>,
        usize,
        Option<&'static str>,
        String,
        Option<String>,
        u64,
    );
    let t = &state.tallies;
    let mut entries: Vec<Entry> = t
        .by_price
        .iter()
        .map(|(&(g, p), tally)| {
            let q = tally.quantity.to_string();
            (t.groups.values(g), p, None, q, None, tally.records)
        })
        .collect();
    entries.extend(t.charged.iter().map(|(&(g, p, usage), c)| {
        let (q, cost) = (
            c.quantity.unscaled().to_string(),
            c.cost.unscaled().to_string(),
        );
        (
            t.groups.values(g),
            p,
            Some(usage.as_str()),
            q,
            Some(cost),
            c.records,
        )
    }));
    entries.sort();
    let keys = state.keys.len();
    let mut schema: Schema = (0..keys)
        .map(|i| (format!("key_{i}"), Kind::Text))
        .collect();
    schema.extend(
        [
            ("catalog_row", Kind::Int),
            ("usage_type", Kind::Text),
            ("quantity", Kind::Text),
            ("cost", Kind::Text),
            ("records", Kind::Int),
        ]
        .map(|(n, k)| (n.to_string(), k)),
    );
    let mut columns: Vec<Values> = (0..keys)
        .map(|i| Values::Text(entries.iter().map(|e| Some(e.0[i].clone())).collect()))
        .collect();
    columns.push(Values::Int(
        entries.iter().map(|e| Some(e.1 as i64)).collect(),
    ));
    columns.push(Values::Text(
        entries.iter().map(|e| e.2.map(str::to_string)).collect(),
    ));
    columns.push(Values::Text(
        entries.iter().map(|e| Some(e.3.clone())).collect(),
    ));
    columns.push(Values::Text(entries.iter().map(|e| e.4.clone()).collect()));
    columns.push(Values::Int(
        entries.iter().map(|e| Some(e.5 as i64)).collect(),
    ));
    write_table(dir, "tallies", &schema, columns)
}

/// `invocations.parquet`: successful invocations of imported models whose copy
/// windows are derived from them, by (model ARN, region, account), sorted.
fn write_invocations(state: &RunState, dir: &Path) -> Result<()> {
    let mut rows: Vec<(&String, &String, &String, i64)> = state
        .invocations
        .iter()
        .flat_map(|((m, r, a), times)| times.iter().map(move |t| (m, r, a, *t)))
        .collect();
    rows.sort();
    let schema: Schema = [
        ("model_arn", Kind::Text),
        ("region", Kind::Text),
        ("account_id", Kind::Text),
        ("at", Kind::Int),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_string(), k))
    .collect();
    let columns = vec![
        Values::Text(rows.iter().map(|r| Some(r.0.clone())).collect()),
        Values::Text(rows.iter().map(|r| Some(r.1.clone())).collect()),
        Values::Text(rows.iter().map(|r| Some(r.2.clone())).collect()),
        Values::Int(rows.iter().map(|r| Some(r.3)).collect()),
    ];
    write_table(dir, "invocations", &schema, columns)
}

fn write_table(dir: &Path, stem: &str, schema: &Schema, columns: Vec<Values>) -> Result<()> {
    let mut sink = sink::open(Format::Parquet, dir, stem, schema)?;
    sink.write(Table {
        names: schema.iter().map(|(n, _)| n.clone()).collect(),
        columns,
    })?;
    sink.finish().map(|_| ())
}
