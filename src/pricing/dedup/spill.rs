//! Exact duplicate detection in bounded memory, for inputs too large to keep every
//! request id: a first pass writes each id with its row's ordinal (its position in
//! reading order) to one of `PARTS` files by id hash; each file is then sorted on its
//! own, and every occurrence after the first of an id is a duplicate. Memory holds one
//! part at a time; the run then skips the listed ordinals, exactly as the in-memory
//! set would.

use super::{Key, Marks, PackedUuid, Seen, compare, significant};
use crate::error::{Error, Result};
use crate::vocab::rows::Texts;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Spill files: each holds about 1/PARTS of the ids (100M ids: ~390k a part).
const PARTS: usize = 256;
/// About how many UUIDs of a part are looked up together when it is read back (a
/// map of 4096 fits in a core's L2 cache), and at most how many groups: the hash
/// bits under a part's eight (`part_of`).
const GROUP: usize = 4096;
const MAX_GROUPS: usize = 256;
/// The length of a UUID's record: its ordinal and its value.
const UUID_RECORD: usize = 8 + 16;
/// The ordinal's top bit marks a record of an id that is not a canonical UUID
/// (ordinals count rows: they never reach it).
const OTHER: u64 = 1 << 63;
/// The longest id text kept (ids are compared on at most this many bytes).
const MAX_LEN: usize = u32::MAX as usize - 1;

/// Ids being spilled, by part.
pub struct Spill {
    dir: PathBuf,
    parts: Vec<BufWriter<File>>,
}

impl Spill {
    pub fn create(dir: &Path) -> Result<Spill> {
        std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
        let parts = (0..PARTS)
            .map(|p| {
                let path = dir.join(format!("ids-{p:02}"));
                File::create(&path)
                    .map(|f| BufWriter::with_capacity(1 << 14, f))
                    .map_err(|e| Error::output(&path, e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Spill {
            dir: dir.to_path_buf(),
            parts,
        })
    }

    /// Records that row `ordinal` has request id `id` (already trimmed, not empty).
    #[cfg(test)]
    pub fn push(&mut self, id: &str, ordinal: u64) -> Result<()> {
        let key = Key::of(id);
        let mut record = vec![0; record_len(&key)];
        encode(&mut record, &key, ordinal);
        self.write(part_of(&key), &record)
    }

    /// Records a batch of ids, row `first + i` for `ids[i]` (trimmed; empty ones are
    /// not ids): encoded in parallel chunks, each into one buffer sorted by part,
    /// then written chunk by chunk, so each part file stays in ordinal order.
    pub fn push_batch(&mut self, ids: &Texts, first: u64) -> Result<()> {
        use rayon::prelude::*;
        let len = ids.len();
        let chunk = len.div_ceil(rayon::current_num_threads() * 4).max(4096);
        let chunks: Vec<ByPart> = (0..len.div_ceil(chunk))
            .into_par_iter()
            .map(|c| ByPart::encode(ids, c * chunk..((c + 1) * chunk).min(len), first))
            .collect();
        for chunk in chunks {
            for (part, bytes) in chunk.parts().enumerate() {
                self.write(part, bytes)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, part: usize, record: &[u8]) -> Result<()> {
        self.parts[part]
            .write_all(record)
            .map_err(|e| Error::output(&self.dir, e))
    }

    /// Every occurrence of an id after its first, as (its ordinal, the first's
    /// ordinal), sorted; removes the spill files. Parts are read in parallel (memory
    /// holds a part per thread); a part's records are in ordinal order, so a map of
    /// the ids seen so far finds them.
    pub fn duplicates(self) -> Result<Vec<(u64, u64)>> {
        use rayon::prelude::*;
        for mut w in self.parts {
            w.flush().map_err(|e| Error::output(&self.dir, e))?;
        }
        let dir = self.dir;
        let parts: Vec<Vec<(u64, u64)>> = (0..PARTS)
            .into_par_iter()
            .map(|p| {
                let path = dir.join(format!("ids-{p:02}"));
                let bytes = std::fs::read(&path).map_err(|e| Error::output(&path, e))?;
                let repeats = repeats(&bytes).ok_or_else(|| {
                    let e = std::io::Error::other("truncated id spill file");
                    Error::output(&path, e)
                })?;
                std::fs::remove_file(&path).map_err(|e| Error::output(&path, e))?;
                Ok(repeats)
            })
            .collect::<Result<_>>()?;
        let mut duplicates: Vec<(u64, u64)> = parts.into_iter().flatten().collect();
        duplicates.sort_unstable();
        Ok(duplicates)
    }
}

/// Rows' records grouped by part (a counting sort): part `p`'s records, in row
/// order, are `bytes[starts[p]..starts[p + 1]]`.
struct ByPart {
    bytes: Vec<u8>,
    starts: Vec<usize>,
}

impl ByPart {
    /// The records of `ids[rows]`, row `first + i` for `ids[i]`. Each row's key is
    /// kept as its part (with a mark for ids that are not UUIDs, whose text is
    /// read again) and its UUID value: 18 bytes a row between the count and the
    /// writing, not a whole `Key`.
    fn encode(ids: &Texts, rows: std::ops::Range<usize>, first: u64) -> ByPart {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("ssse3") {
            // SAFETY: the processor has SSSE3.
            return unsafe { ByPart::encode_ssse3(ids, rows, first) };
        }
        ByPart::encode_in(ids, rows, first, super::uuid_by_words)
    }

    /// `encode` compiled for SSSE3, so that the UUID reading is inlined in its loop
    /// instead of called (with its feature check) for every id.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "ssse3")]
    fn encode_ssse3(ids: &Texts, rows: std::ops::Range<usize>, first: u64) -> ByPart {
        ByPart::encode_in(ids, rows, first, |id| super::ssse3::uuid(id))
    }

    /// `encode`, reading UUIDs with `uuid`.
    #[inline(always)]
    fn encode_in(
        ids: &Texts,
        rows: std::ops::Range<usize>,
        first: u64,
        uuid: impl Fn(&str) -> Option<u128> + Copy,
    ) -> ByPart {
        const NO_ID: u16 = u16::MAX;
        const TEXT: u16 = 1 << 8;
        let mut tags = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len());
        let mut starts = vec![0; PARTS + 1];
        for i in rows.clone() {
            let (tag, value) = match significant(ids.get(i)).map(|id| Key::read(id, uuid)) {
                None => (NO_ID, 0),
                Some(key) => {
                    let part = part_of(&key);
                    starts[part + 1] += record_len(&key);
                    match key {
                        Key::Uuid(v) => (part as u16, v),
                        Key::Other(_) => (part as u16 | TEXT, 0),
                    }
                }
            };
            tags.push(tag);
            values.push(value);
        }
        for p in 0..PARTS {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut bytes = vec![0; starts[PARTS]];
        for ((i, tag), value) in rows.zip(tags).zip(values) {
            let key = match tag {
                NO_ID => continue,
                _ if tag & TEXT == 0 => Key::Uuid(value),
                _ => Key::Other(significant(ids.get(i)).expect("an id: its part was counted")),
            };
            let part = usize::from(tag & !TEXT);
            let end = next[part] + record_len(&key);
            encode(&mut bytes[next[part]..end], &key, first + i as u64);
            next[part] = end;
        }
        ByPart { bytes, starts }
    }

    fn parts(&self) -> impl Iterator<Item = &[u8]> {
        self.starts.windows(2).map(|w| &self.bytes[w[0]..w[1]])
    }
}

/// The length of an id's record: a UUID's is 24 bytes, the ordinal and the value;
/// other ids are marked in the ordinal's top bit and carry a length and their text.
fn record_len(key: &Key) -> usize {
    match key {
        Key::Uuid(_) => UUID_RECORD,
        Key::Other(id) => 8 + 4 + id.len().min(MAX_LEN),
    }
}

/// Writes the record of row `ordinal`'s id into `out`, `record_len` bytes.
fn encode(out: &mut [u8], key: &Key, ordinal: u64) {
    match key {
        Key::Uuid(v) => {
            out[..8].copy_from_slice(&ordinal.to_le_bytes());
            out[8..24].copy_from_slice(&v.to_le_bytes());
        }
        Key::Other(id) => {
            let len = id.len().min(MAX_LEN);
            out[..8].copy_from_slice(&(ordinal | OTHER).to_le_bytes());
            out[8..12].copy_from_slice(&(len as u32).to_le_bytes());
            out[12..12 + len].copy_from_slice(&id.as_bytes()[..len]);
        }
    }
}

/// (ordinal, first copy's ordinal) of the repeated ids in one part's records (in
/// ordinal order); `None` if the records are cut short. UUIDs are first split by
/// further bits of their hash into groups of about `GROUP` (each in ordinal order),
/// so the map of one group stays in the core's cache: a part's whole map (~3 MB at
/// 20M ids) missed it on most ids: a sixth of a run's perf samples.
fn repeats(bytes: &[u8]) -> Option<Vec<(u64, u64)>> {
    repeats_by(bytes, GROUP)
}

/// `repeats`, with UUIDs looked up in groups of about `group`.
fn repeats_by(mut bytes: &[u8], group: usize) -> Option<Vec<(u64, u64)>> {
    use polars::prelude::PlHashMap;
    let groups = (bytes.len() / UUID_RECORD / group)
        .next_power_of_two()
        .min(MAX_GROUPS);
    // Room for the expected share and far more than its spread: no group grows.
    let room = bytes.len() / UUID_RECORD / groups;
    let mut split: Vec<Vec<(PackedUuid, u64)>> =
        vec![Vec::with_capacity(room + room / 8 + 64); groups];
    let mut others: PlHashMap<&[u8], u64> = PlHashMap::default();
    let mut repeats = Vec::new();
    while !bytes.is_empty() {
        let (ordinal, rest) = bytes.split_first_chunk::<8>()?;
        let ordinal = u64::from_le_bytes(*ordinal);
        if ordinal & OTHER == 0 {
            let (v, rest) = rest.split_first_chunk::<16>()?;
            bytes = rest;
            let value = u128::from_le_bytes(*v);
            let group = (Key::Uuid(value).spread() >> 48) as usize % groups;
            split[group].push((PackedUuid::new(value), ordinal));
            continue;
        }
        let (len, rest) = rest.split_first_chunk::<4>()?;
        let (id, rest) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
        bytes = rest;
        let ordinal = ordinal & !OTHER;
        let first = *others.entry(id).or_insert(ordinal);
        if first != ordinal {
            repeats.push((ordinal, first));
        }
    }
    let most = split.iter().map(Vec::len).max().unwrap_or(0);
    let mut uuids: PlHashMap<PackedUuid, u64> =
        PlHashMap::with_capacity_and_hasher(most, Default::default());
    for group in split {
        uuids.clear();
        for (uuid, ordinal) in group {
            let first = *uuids.entry(uuid).or_insert(ordinal);
            if first != ordinal {
                repeats.push((ordinal, first));
            }
        }
    }
    Some(repeats)
}

/// The part of an id: every copy of an id goes to the same part.
fn part_of(key: &Key) -> usize {
    (key.spread() >> 56) as usize % PARTS
}

/// Marks the duplicates of a batch from the sorted duplicate ordinals; a repeat's
/// usage is compared with its first copy's, whose print is kept when it is read
/// (only rows that have a repeat are printed).
pub struct Listed {
    /// (duplicate ordinal, first copy's ordinal), by duplicate.
    duplicates: Vec<(u64, u64)>,
    next: usize,
    /// Ordinals of first copies that have repeats, sorted.
    firsts: Vec<u64>,
    next_first: usize,
    first_prints: std::collections::HashMap<u64, u32>,
}

impl Listed {
    pub fn new(duplicates: Vec<(u64, u64)>) -> Listed {
        let mut firsts: Vec<u64> = duplicates.iter().map(|(_, f)| *f).collect();
        firsts.sort_unstable();
        firsts.dedup();
        Listed {
            duplicates,
            next: 0,
            firsts,
            next_first: 0,
            first_prints: Default::default(),
        }
    }

    /// Flags for rows `first..first + len` (batches come in ordinal order).
    #[cfg(test)]
    pub fn mark(&mut self, first: u64, len: usize) -> Vec<bool> {
        self.mark_printed(first, len, |_| 0).duplicate
    }

    /// `mark`, and which repeats differ in usage from their first copy; `print(i)`
    /// is the `usage_print` of the batch's record `i` (0: not known).
    pub fn mark_printed(&mut self, first: u64, len: usize, print: impl Fn(usize) -> u32) -> Marks {
        let end = first + len as u64;
        while let Some(&o) = self.firsts.get(self.next_first).filter(|o| **o < end) {
            if o >= first {
                self.first_prints.insert(o, print((o - first) as usize));
            }
            self.next_first += 1;
        }
        let mut seen = vec![Seen::New; len];
        while let Some(&(o, of)) = self.duplicates.get(self.next).filter(|(o, _)| *o < end) {
            if o >= first {
                let i = (o - first) as usize;
                let original = self.first_prints.get(&of).copied().unwrap_or(0);
                seen[i] = compare(original, print(i));
            }
            self.next += 1;
        }
        Marks::of(&seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The records of a batch are the same bytes whichever way its UUIDs are read
    /// (SSSE3 where this processor has it, eight digits a word, `push` one by one).
    #[test]
    fn a_batch_encodes_alike_whatever_reads_its_uuids() {
        let ids: Vec<Option<&str>> = vec![
            Some("ff4b6c63-5561-4431-93b8-06a817275900"),
            None,
            Some(" 0b1e3b9a-2f4c-4d5e-8f60-718293a4b5c6 "),
            Some("FF4B6C63-5561-4431-93B8-06A817275900"),
            Some("req-1"),
            Some("ff4b6c63-5561-4431-93b8-06a81727590g"),
            Some(""),
            Some("ff4b6c63-5561-4431-93b8-06a817275900"),
        ];
        let texts = Texts::from(ids.clone());
        let rows = 0..ids.len();
        let words = ByPart::encode_in(&texts, rows.clone(), 7, super::super::uuid_by_words);
        let chosen = ByPart::encode(&texts, rows, 7);
        assert_eq!(chosen.bytes, words.bytes);
        assert_eq!(chosen.starts, words.starts);
        // The same records as pushing the ids one by one.
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::create(dir.path()).unwrap();
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = significant(*id) {
                spill.push(id, 7 + i as u64).unwrap();
            }
        }
        let pushed: Vec<Vec<u8>> = (0..PARTS)
            .map(|p| {
                spill.parts[p].flush().unwrap();
                std::fs::read(dir.path().join(format!("ids-{p:02}"))).unwrap()
            })
            .collect();
        let batch: Vec<Vec<u8>> = words.parts().map(<[u8]>::to_vec).collect();
        assert_eq!(batch, pushed);
        assert!(pushed.iter().filter(|p| !p.is_empty()).count() > 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// A part read back in groups finds every repeat and no other: many UUIDs
        /// in groups from one to all 256, mixed with other ids.
        #[test]
        fn a_part_read_in_groups_finds_every_repeat(
            picks in prop::collection::vec((0u128..400, prop::bool::weighted(0.1)), 0..3000),
            group in prop::sample::select(vec![1usize, 3, 16, 100, GROUP]),
        ) {
            let mut bytes = Vec::new();
            let mut expected = Vec::new();
            let mut firsts = std::collections::HashMap::new();
            for (ordinal, (n, other)) in picks.iter().enumerate() {
                let text = format!("id-{n}");
                let key = match other {
                    // Pairs of UUIDs that differ only in their high half.
                    false => Key::Uuid((n / 2).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) ^ (n % 2) << 100),
                    true => Key::Other(&text),
                };
                let mut record = vec![0; record_len(&key)];
                encode(&mut record, &key, ordinal as u64);
                bytes.extend(record);
                let first = *firsts.entry((n, other)).or_insert(ordinal as u64);
                if first != ordinal as u64 {
                    expected.push((ordinal as u64, first));
                }
            }
            let mut got = repeats_by(&bytes, group).unwrap();
            got.sort_unstable();
            prop_assert_eq!(got, expected);
            let cut = &bytes[..bytes.len().saturating_sub(1)];
            prop_assert_eq!(repeats_by(cut, group).is_none(), !bytes.is_empty());
        }
        /// Spilled detection = the in-memory set, row for row, across batches.
        #[test]
        fn spilling_finds_what_the_set_finds(
            ids in prop::collection::vec(
                prop::option::of(prop::sample::select(vec![
                    "ff4b6c63-5561-4431-93b8-06a817275900", "req-1", "req-2", "x", "y",
                    "0b1e3b9a-2f4c-4d5e-8f60-718293a4b5c6",
                ])),
                0..200,
            ),
            batch in 1usize..50,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut spill = Spill::create(dir.path()).unwrap();
            for (i, id) in ids.iter().enumerate() {
                if let Some(id) = id {
                    spill.push(id, i as u64).unwrap();
                }
            }
            let mut listed = Listed::new(spill.duplicates().unwrap());
            let mut set = super::super::SeenIds::default();
            // Usage prints by position: some copies differ, some are not known.
            let print_of = |i: usize| [0, 5, 5, 6][i % 4];
            for (n, chunk) in ids.chunks(batch).enumerate() {
                let base = n * batch;
                let prints: Vec<u32> = (0..chunk.len()).map(|i| print_of(base + i)).collect();
                let got = listed.mark_printed(base as u64, chunk.len(), |i| prints[i]);
                prop_assert_eq!(got, set.mark_printed(&chunk.to_vec().into(), |i| prints[i]));
            }
        }
    }
}
