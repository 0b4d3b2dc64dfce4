//! Duplicates on disk in one pass: every row is rated as it is read while its
//! request id is spilled (as the first pass of two would spill it); once the spill
//! says which rows repeat an id, only the files holding those rows (or their first
//! copies) are read again, and each repeated row's contribution is taken back
//! exactly: its counts, its tallies (pricing is per row and sums are exact
//! integers), its imported-model invocations and its reject, replaced by a
//! `duplicate_conflict` line where its usage differs from the first copy's. The
//! rejects are held in a scratch file until then and written in the input's order.
//!
//! The result is the two-pass run's, byte for byte. Without duplicates nothing is
//! read twice; where they are spread over every file, every file is. It is chosen
//! where a first pass costs what the run costs: logs and CSV, whose records are
//! parsed whole to find an id (measured: 1M log records 7.3-7.8 s → 3.6-4.6 s, 2M CSV
//! rows 4.2-4.6 s → 2.3-2.6 s). A Parquet file's first pass decodes the id column
//! alone, which costs less than reading a file again to take its duplicates back
//! (5M rows with 1% duplicates spread: 1.65 s in two passes, 2.42 s in one), so
//! inputs that are mostly Parquet keep two passes. So do runs with line items
//! (written as rated) or `--split-capacity` (whose even split counts the centers
//! that used a model).

use super::merge::{FileIndex, reject_key};
use super::read::{Duplicates, RunState, unreadable_reject};
use crate::error::{Error, Result};
use crate::ingest::{self, Batch, InputFile, InputKind, Projection};
use crate::pricing::dedup::SeenIds;
use crate::pricing::dedup::spill::Listed;
use crate::pricing::rate::{RateCache, Reject, rate_slice_with};
use crate::report;
use crate::report::sink::TableSink;
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{Texts, UsageColumns};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Rows a scratch or partial file is read, and rejects are written, at a time (here
/// and in `merge`).
pub(super) const CHUNK: usize = 65_536;

/// A reject as the scratch file holds it: every field, so that taking back one of
/// two identical lines takes one.
type Line = (Arc<str>, i64, Option<String>, Reason, String);

/// What taking back found, to finish once every file was read again.
#[derive(Default)]
struct TakenBack {
    /// Lines of the held rejects that a repeated row wrote, with their count.
    lines: HashMap<Line, u64>,
    /// `duplicate_conflict` lines for repeated rows whose usage differs.
    conflicts: Vec<Reject>,
    /// Invocation instants repeated rows added, by model.
    invocations: HashMap<(String, String, String), Vec<i64>>,
}

fn line(r: &Reject) -> Line {
    (
        r.source.clone(),
        r.row,
        r.request_id.clone(),
        r.reason,
        r.message.clone(),
    )
}

impl RunState<'_> {
    /// Whether duplicates on disk are found in one pass over `files` (see the module).
    pub(super) fn once_allowed(&self, files: &[InputFile]) -> bool {
        let bytes = |parquet: bool| -> u64 {
            let of = |f: &&InputFile| (f.kind == InputKind::Parquet) == parquet;
            files.iter().filter(of).map(|f| f.bytes).sum()
        };
        !self.cfg.line_items && self.cfg.split.is_none() && bytes(true) <= bytes(false)
    }

    /// After the pass: the repeated rows found by the spill taken back (see the
    /// module), the held rejects written to `reports` (the run's rejects sink) in
    /// the input's order. `starts`: each file's first ordinal, then the end.
    pub(super) fn take_back_duplicates(
        &mut self,
        files: &[InputFile],
        starts: &[u64],
        scratch: &Path,
        reports: Box<dyn TableSink>,
    ) -> Result<()> {
        let memory = Duplicates::Memory(SeenIds::default());
        let Duplicates::Spilling(spill) = std::mem::replace(&mut self.duplicates, memory) else {
            return Err(Error::output_msg(scratch, "duplicates were not spilled"));
        };
        let listed = spill.duplicates()?;
        std::mem::replace(&mut self.rejects, reports).finish()?;
        // Rows to read again: the repeats and their first copies, whose usage the
        // repeats are compared with.
        let mut wanted: Vec<u64> = listed.iter().flat_map(|&(d, f)| [d, f]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let any_in = |from: u64, to: u64| {
            let at = wanted.partition_point(|&o| o < from);
            wanted.get(at).is_some_and(|&o| o < to)
        };
        let end = self.ordinal;
        self.duplicates = Duplicates::Listed(Listed::new(listed));
        let mut taken = TakenBack::default();
        for (i, file) in files.iter().enumerate() {
            if !any_in(starts[i], starts[i + 1]) {
                continue;
            }
            self.ordinal = starts[i];
            let source: Arc<str> = Arc::from(file.path.display().to_string());
            ingest::read_batches(file, self.cfg.batch_rows, |batch| {
                let total = (batch.frame.height() + batch.unreadable.len()) as u64;
                match any_in(self.ordinal, self.ordinal + total) {
                    true => self.take_back_batch(&batch, &source, &file.path, &mut taken),
                    false => {
                        self.ordinal += total;
                        Ok(())
                    }
                }
            })?;
        }
        self.ordinal = end;
        self.tallies = self.tallies.compacted();
        for (key, mut gone) in std::mem::take(&mut taken.invocations) {
            let Some(times) = self.invocations.get_mut(&key) else {
                continue;
            };
            times.sort_unstable();
            gone.sort_unstable();
            *times = multiset_minus(times, &gone);
            if times.is_empty() {
                self.invocations.remove(&key);
            }
        }
        self.write_held_rejects(files, &scratch.join("rejects.parquet"), taken)
    }

    /// After the second of two passes, which read Parquet files without their id
    /// column: the held rejects written to `reports` in order, each that names its
    /// row's id given it from that file's id column, read alone and only for files
    /// with such rejects. All but reader rejects name one (a Parquet reader's are
    /// `bad_value` rows, whose id is not text). Streams: a batch of ids and a chunk
    /// of rejects at a time.
    pub(super) fn fill_in_ids(
        &mut self,
        files: &[InputFile],
        scratch: &Path,
        reports: Box<dyn TableSink>,
    ) -> Result<()> {
        std::mem::replace(&mut self.rejects, reports).finish()?;
        let held_path = scratch.join("rejects.parquet");
        let mut held = Held::open(&held_path)?;
        let mut out: Vec<Reject> = Vec::new();
        let parquet: HashMap<String, &InputFile> = files
            .iter()
            .filter(|f| f.kind == InputKind::Parquet)
            .map(|f| (f.path.display().to_string(), f))
            .collect();
        let needs_id =
            |r: &Reject| r.reason != Reason::BadValue && parquet.contains_key(&*r.source);
        while let Some(r) = held.next()? {
            if !needs_id(&r) {
                self.push_reject(&mut out, r)?;
                continue;
            }
            let file = parquet[&*r.source];
            let source = r.source.clone();
            let mut pending = Some(r);
            // Parquet rows are numbered from 1 in file order.
            let mut first = 1i64;
            ingest::read_projected(file, self.cfg.batch_rows, Projection::RequestIds, |batch| {
                let err = |e| Error::input(&file.path, e);
                let ids = Texts::of(batch.frame.column("request_id").map_err(err)?).map_err(err)?;
                let end = first + ids.len() as i64;
                loop {
                    let r = match pending.take() {
                        Some(r) => r,
                        None => match held.peek()? {
                            Some(next) if next.source == source && next.row < end => {
                                held.next()?.expect("peeked")
                            }
                            _ => break,
                        },
                    };
                    if r.row >= end {
                        pending = Some(r);
                        break;
                    }
                    let mut r = r;
                    if needs_id(&r) {
                        r.request_id = ids.get((r.row - first) as usize).map(str::to_string);
                    }
                    self.push_reject(&mut out, r)?;
                }
                first = end;
                Ok(())
            })?;
            if let Some(r) = pending {
                self.push_reject(&mut out, r)?;
            }
        }
        self.write_table(&out)
    }

    /// Adds `r` to `out`, writing `out` to the reports when it is a chunk.
    pub(super) fn push_reject(&mut self, out: &mut Vec<Reject>, r: Reject) -> Result<()> {
        out.push(r);
        match out.len() >= CHUNK {
            true => self.write_table(&std::mem::take(out)),
            false => Ok(()),
        }
    }

    /// Takes back the repeated records of one batch read again.
    fn take_back_batch(
        &mut self,
        batch: &Batch,
        source: &Arc<str>,
        path: &Path,
        taken: &mut TakenBack,
    ) -> Result<()> {
        let cols = UsageColumns::from_frame(&batch.frame).map_err(|e| Error::input(path, e))?;
        // Counts the repeats as duplicates, as the second pass of two would.
        let (repeated, unreadable, conflicts) = self.mark_duplicates(&cols, &batch.unreadable)?;
        if repeated.iter().any(|r| *r) {
            // The repeated rows alone, rated as the pass rated them.
            let others: Vec<bool> = repeated.iter().map(|r| !r).collect();
            let mut cache = RateCache::default();
            let part = rate_slice_with(
                &self.context(),
                &mut cache,
                &cols,
                &others,
                0..cols.len,
                source,
            );
            self.counts.priced -= part.priced;
            self.counts.not_billable -= part.not_billable;
            self.counts.out_of_range -= part.out_of_range;
            self.counts.rejected -= part.rejects.len() as u64;
            for r in &part.rejects {
                self.uncount_reason(r.reason);
                *taken.lines.entry(line(r)).or_default() += 1;
            }
            self.tallies.take_back(&part.tallies);
            for (key, times) in part.invocations {
                taken.invocations.entry(key).or_default().extend(times);
            }
        }
        // A record its reader rejected whose id was claimed before: a duplicate.
        for (u, _) in batch
            .unreadable
            .iter()
            .zip(&unreadable)
            .filter(|(_, r)| **r)
        {
            self.counts.rejected -= 1;
            self.uncount_reason(u.reason);
            let r = unreadable_reject(source, u);
            *taken.lines.entry(line(&r)).or_default() += 1;
        }
        let conflicts = self.conflict_rejects(&cols, &conflicts, source);
        taken.conflicts.extend(conflicts);
        Ok(())
    }

    fn uncount_reason(&mut self, reason: Reason) {
        if let Some(n) = self.by_reason.get_mut(reason.code()) {
            *n -= 1;
            if *n == 0 {
                self.by_reason.remove(reason.code());
            }
        }
    }

    /// The held rejects, less the lines of repeated rows, with the conflict lines
    /// in their places (by file, row and content, as a batch orders them).
    fn write_held_rejects(
        &mut self,
        files: &[InputFile],
        held: &Path,
        taken: TakenBack,
    ) -> Result<()> {
        let index: FileIndex = Arc::new(
            files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.display().to_string(), i))
                .collect(),
        );
        let order = |r: &Reject| reject_key(&index, r);
        let mut lines = taken.lines;
        let mut conflicts = taken.conflicts;
        conflicts.sort_by_key(|r| order(r));
        let mut conflicts = conflicts.into_iter().peekable();
        let mut out: Vec<Reject> = Vec::new();
        let mut held = Held::open(held)?;
        while let Some(r) = held.next()? {
            if let Some(n) = lines.get_mut(&line(&r)).filter(|n| **n > 0) {
                *n -= 1;
                continue;
            }
            while let Some(c) = conflicts.next_if(|c| order(c) < order(&r)) {
                self.push_reject(&mut out, c)?;
            }
            self.push_reject(&mut out, r)?;
        }
        out.extend(conflicts);
        self.write_table(&out)
    }
}

/// A rejects file billrun wrote, read back in order a chunk at a time.
pub(super) struct Held {
    frames: Box<dyn Iterator<Item = Result<polars::prelude::DataFrame>>>,
    path: std::path::PathBuf,
    queue: std::collections::VecDeque<Reject>,
}

impl Held {
    pub(super) fn open(path: &Path) -> Result<Held> {
        Ok(Held {
            frames: Box::new(ingest::parquet_frames(path, CHUNK)?),
            path: path.to_path_buf(),
            queue: Default::default(),
        })
    }

    pub(super) fn peek(&mut self) -> Result<Option<&Reject>> {
        while self.queue.is_empty() {
            let Some(frame) = self.frames.next().transpose()? else {
                return Ok(None);
            };
            let rows = report::reject_rows(&frame).map_err(|e| Error::input(&self.path, e))?;
            self.queue.extend(rows);
        }
        Ok(self.queue.front())
    }

    pub(super) fn next(&mut self) -> Result<Option<Reject>> {
        self.peek()?;
        Ok(self.queue.pop_front())
    }
}

/// `all` without one occurrence of each of `gone` (both sorted; `gone` ⊆ `all`).
fn multiset_minus(all: &[i64], gone: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(all.len().saturating_sub(gone.len()));
    let mut g = gone.iter().peekable();
    for &t in all {
        if g.peek() == Some(&&t) {
            g.next();
            continue;
        }
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::multiset_minus;

    #[test]
    fn multiset_minus_takes_one_occurrence_each() {
        assert_eq!(multiset_minus(&[1, 2, 2, 3, 5], &[2, 5]), vec![1, 2, 3]);
        assert_eq!(multiset_minus(&[4, 4], &[4, 4]), Vec::<i64>::new());
        assert_eq!(multiset_minus(&[1, 3], &[]), vec![1, 3]);
    }
}
