//! `billrun merge`: the partials of every bucket added up exactly and written as
//! the reports a single `billrun run` over the same input would write: tallies and
//! counts summed, rejects in the input's order, capacity billed once (from the
//! merge's own capacity tables, with the invocations and shares of every bucket).

use super::once::{CHUNK, Held};
use super::plan::plan_for;
use super::read::LineRows;
use super::read::RunState;
use super::stage::{
    self, Cursor, INVOCATIONS, KeysOf, LINE_ITEMS, PARTIAL, Partial, REJECTS, TALLIES,
};
use super::{RunConfig, RunReport, write};
use crate::catalog::terms::UsageType;
use crate::error::{Error, Result};
use crate::ingest::Discovered;
use crate::pricing::group::{Charged, GroupKey, Tallies};
use crate::pricing::rate::{Reject, Tally};
use crate::report::manifest::InputInfo;
use crate::report::outdir;
use crate::report::table::Table;
use crate::vocab::money::{Money, Quantity};
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{Ints, Texts};
use polars::prelude::*;
use std::path::{Path, PathBuf};

pub fn merge(cfg: &RunConfig) -> Result<RunReport> {
    let started_at = chrono::Utc::now().to_rfc3339();
    let dirs = stage::dirs(&cfg.inputs, PARTIAL)?;
    let mut partials = Vec::new();
    for dir in &dirs {
        partials.push((dir.clone(), stage::read_json::<Partial>(dir, PARTIAL)?));
    }
    partials.sort_by_key(|(_, p)| p.bucket);
    check_complete(&partials)?;
    let keys: Vec<String> = cfg.tally_keys().iter().map(GroupKey::column_name).collect();
    let first = &partials[0].1;
    let out_dir = outdir::claim(&cfg.out, &cfg.layout(), cfg.replace, &cfg.read_paths())?;
    let found = Discovered {
        files: Vec::new(),
        skipped: first.skipped.clone(),
    };
    let mut plan = plan_for(cfg, out_dir, found)?;
    let models = plan.capacity.models();
    let fingerprint = stage::fingerprint(cfg, &models);
    for (dir, p) in &partials {
        let why = if p.catalog_sha256 != cfg.catalog.sha256 {
            Some("was priced with another catalog (--prices)")
        } else if p.tally_keys != keys {
            Some("tallies other keys (--group-by, --format focus, --partition-by, --allocation)")
        } else if p.fingerprint != fingerprint {
            Some(
                "was rated with other options (--from/--to, --profiles, --aliases, --allocation, --split-capacity or capacity tables)",
            )
        } else if p.inputs != first.inputs || p.skipped != first.skipped {
            Some("was reduced from another map")
        } else if cfg.line_items && !p.files.iter().any(|f| f == LINE_ITEMS) {
            Some("holds no line items (reduce it with --line-items)")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Error::Usage(format!(
                "partial {} {why} than this merge or the first partial; merge partials reduced with the same options",
                dir.display()
            )));
        }
    }
    let registry = std::mem::take(&mut plan.capacity.registry);
    let dir = plan.staging.path();
    let mut state = RunState::open(cfg, dir, super::read::Sinks::Reports, registry, models)?;
    for (dir, p) in &partials {
        absorb(&mut state, dir, p)?;
    }
    let dirs: Vec<&Path> = partials.iter().map(|(d, _)| d.as_path()).collect();
    let index: FileIndex = std::sync::Arc::new(
        first
            .inputs
            .iter()
            .map(|i| (i.info.path.clone(), i.index))
            .collect(),
    );
    merge_rejects(&mut state, &dirs, &index)?;
    if cfg.line_items {
        merge_line_items(&mut state, &dirs, &index)?;
    }
    let mut inputs: Vec<InputInfo> = first.inputs.iter().map(|i| i.info.clone()).collect();
    let derived_rejected = state.bill_capacity(&mut plan, &mut inputs)?;
    write::write(cfg, plan, state, inputs, derived_rejected, started_at)
}

/// How rejects of one row are ordered (a single run orders them alike).
pub(super) fn tie(r: &Reject) -> (&Option<String>, Reason, &str) {
    (&r.request_id, r.reason, &r.message)
}

/// Each usage file's number in reading order, by path as reports name it.
pub(super) type FileIndex = std::sync::Arc<std::collections::HashMap<String, usize>>;

/// The number of the file `source` names (unknown ones last).
pub(super) fn file_of(index: &FileIndex, source: Option<&str>) -> usize {
    source
        .and_then(|s| index.get(s).copied())
        .unwrap_or(usize::MAX)
}

/// Where a reject goes in the input's order: file, row, then content.
pub(super) type RejectKey = (usize, i64, Option<String>, Reason, String);

pub(super) fn reject_key(index: &FileIndex, r: &Reject) -> RejectKey {
    let (id, reason, message) = tie(r);
    let file = file_of(index, Some(&r.source));
    (file, r.row, id.clone(), reason, message.to_string())
}

/// Every bucket `0..buckets` exactly once.
fn check_complete(partials: &[(PathBuf, Partial)]) -> Result<()> {
    let buckets = partials[0].1.buckets;
    for (dir, p) in partials {
        if p.buckets != buckets {
            return Err(Error::Usage(format!(
                "partial {} is bucket {} of {}, others are of {buckets}: merge the partials of one map",
                dir.display(),
                p.bucket,
                p.buckets
            )));
        }
    }
    for pair in partials.windows(2) {
        if pair[0].1.bucket == pair[1].1.bucket {
            return Err(Error::Usage(format!(
                "bucket {} of {buckets} is given twice ({} and {}): each bucket's partial counts once",
                pair[0].1.bucket,
                pair[0].0.display(),
                pair[1].0.display()
            )));
        }
    }
    if let Some(missing) = (0..buckets).find(|b| !partials.iter().any(|(_, p)| p.bucket == *b)) {
        return Err(Error::Usage(format!(
            "bucket {missing} of {buckets} is missing: merge needs the partial of every bucket, or its usage would be left out"
        )));
    }
    Ok(())
}

/// Adds one partial's counts, tallies, invocations and shares to the merge.
fn absorb(state: &mut RunState, dir: &Path, p: &Partial) -> Result<()> {
    let c = &mut state.counts;
    c.read += p.rows.read;
    c.priced += p.rows.priced;
    c.rejected += p.rows.rejected;
    c.duplicate += p.rows.duplicate;
    c.not_billable += p.rows.not_billable;
    c.out_of_range += p.rows.out_of_range;
    state.conflicts += p.duplicate_conflicts;
    for (code, n) in &p.rejects_by_reason {
        let reason = Reason::from_code(code)
            .ok_or_else(|| Error::input_msg(dir, format!("unknown reject reason {code:?}")))?;
        *state.by_reason.entry(reason.code()).or_default() += n;
    }
    for (model, center, tokens) in &p.shares {
        let tokens: u128 = tokens
            .parse()
            .map_err(|_| Error::input_msg(dir, format!("share {tokens:?} is not an integer")))?;
        *state
            .shares
            .entry((model.clone(), center.clone()))
            .or_default() += tokens;
    }
    let path = dir.join(TALLIES);
    let frame = read(&path)?;
    let mut tallies = read_tallies(&frame, state.keys.len()).map_err(|e| Error::input(&path, e))?;
    tallies.overflowed |= p.overflowed;
    state.tallies.absorb(tallies);
    let path = dir.join(INVOCATIONS);
    let frame = read(&path)?;
    let mut read_invocations = || -> PolarsResult<()> {
        let [m, r, a] = ["model_arn", "region", "account_id"].map(|n| frame.column(n));
        let (m, r, a) = (Texts::of(m?)?, Texts::of(r?)?, Texts::of(a?)?);
        let at = Ints::of(frame.column("at")?.i64()?);
        for i in 0..frame.height() {
            let key = [&m, &r, &a].map(|c| c.get(i).unwrap_or_default().to_string());
            let [m, r, a] = key;
            state
                .invocations
                .entry((m, r, a))
                .or_default()
                .push(at.get(i).unwrap_or(0));
        }
        Ok(())
    };
    read_invocations().map_err(|e| Error::input(&path, e))
}

fn read(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::input(path, e))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input(path, e))
}

fn read_tallies(frame: &DataFrame, keys: usize) -> PolarsResult<Tallies> {
    let mut tallies = Tallies::new(keys);
    let values: Vec<Texts> = (0..keys)
        .map(|i| Texts::of(frame.column(&format!("key_{i}"))?))
        .collect::<PolarsResult<_>>()?;
    let row = Ints::of(frame.column("catalog_row")?.i64()?);
    let usage = Texts::of(frame.column("usage_type")?)?;
    let quantity = Texts::of(frame.column("quantity")?)?;
    let cost = Texts::of(frame.column("cost")?)?;
    let records = Ints::of(frame.column("records")?.i64()?);
    fn int<T: std::str::FromStr>(text: Option<&str>) -> PolarsResult<T> {
        let text = text.unwrap_or_default();
        text.parse()
            .map_err(|_| polars_err!(ComputeError: "{text:?} is not an integer"))
    }
    let mut codes = Vec::with_capacity(keys);
    for i in 0..frame.height() {
        codes.clear();
        for (d, v) in values.iter().enumerate() {
            codes.push(tallies.groups.dim(d).code(v.get(i).unwrap_or_default()));
        }
        let group = tallies.groups.id(&codes);
        let price = row.get(i).unwrap_or(0) as usize;
        let records = records.get(i).unwrap_or(0) as u64;
        match usage.get(i) {
            None => {
                let quantity = int(quantity.get(i))?;
                tallies.add(group, price, Tally { quantity, records });
            }
            Some(code) => {
                let usage = UsageType::parse(code)
                    .ok_or_else(|| polars_err!(ComputeError: "unknown usage type {code:?}"))?;
                let charged = Charged {
                    quantity: Quantity::from_unscaled(int(quantity.get(i))?),
                    cost: Money::from_unscaled(int(cost.get(i))?),
                    records,
                };
                tallies.charge(group, price, usage, charged);
            }
        }
    }
    Ok(tallies)
}

/// Every partial's rejects in the input's order, as a single run writes them: by
/// file, then row; rejects of one row (a line holding several records) by their
/// content, then bucket. Each partial's are in that order: a k-way merge, a chunk
/// per partial in memory.
fn merge_rejects(state: &mut RunState, dirs: &[&Path], index: &FileIndex) -> Result<()> {
    use std::cmp::Reverse;
    let key = |r: &Reject| reject_key(index, r);
    let mut held = Vec::new();
    let mut heap = std::collections::BinaryHeap::new();
    for (c, dir) in dirs.iter().enumerate() {
        let mut h = Held::open(&dir.join(REJECTS))?;
        if let Some(r) = h.peek()? {
            heap.push(Reverse((key(r), c)));
        }
        held.push(h);
    }
    let mut out = Vec::new();
    while let Some(Reverse((_, c))) = heap.pop() {
        let r = held[c].next()?.expect("peeked");
        if let Some(next) = held[c].peek()? {
            heap.push(Reverse((key(next), c)));
        }
        state.push_reject(&mut out, r)?;
    }
    state.write_table(&out)
}

/// Every partial's line items in the input's order (each partial's are, by file and
/// row), merged a run of rows at a time; rows of one record are in one bucket.
fn merge_line_items(state: &mut RunState, dirs: &[&Path], index: &FileIndex) -> Result<()> {
    let schema = crate::report::line_item_schema();
    let mut cursors = Vec::new();
    for dir in dirs {
        let index = index.clone();
        let keys: KeysOf<(usize, i64)> = Box::new(move |frame| {
            let source = Texts::of(frame.column("source")?)?;
            let row = Ints::of(frame.column("row")?.i64()?);
            Ok((0..frame.height())
                .map(|i| (file_of(&index, source.get(i)), row.get(i).unwrap_or(0)))
                .collect())
        });
        cursors.push(Cursor::open(&dir.join(LINE_ITEMS), CHUNK, keys)?);
    }
    loop {
        let mut order: Vec<((usize, i64), usize)> = (0..cursors.len())
            .filter_map(|c| Some((cursors[c].key()?, c)))
            .collect();
        order.sort();
        let Some(&(_, c)) = order.first() else {
            return Ok(());
        };
        // The first cursor's rows up to the next cursor's key (ties: bucket order).
        let bound = order.get(1).map(|&(k, _)| k);
        let rows = cursors[c].take_while(usize::MAX, |k| bound.is_none_or(|b| k <= b))?;
        let table =
            Table::from_frame(&rows, &schema).map_err(|e| Error::input(&cursors[c].path, e))?;
        if let Some(sink) = state.line_items.as_mut() {
            sink.write(LineRows::Table(table))?;
        }
    }
}
