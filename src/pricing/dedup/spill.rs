//! Exact duplicate detection in bounded memory, for inputs too large to keep every
//! request id: a first pass writes each id with its row's ordinal (its position in
//! reading order) to one of `PARTS` files by id hash; each file is then sorted on its
//! own, and every occurrence after the first of an id is a duplicate. Memory holds one
//! part at a time; the run then skips the listed ordinals, exactly as the in-memory
//! set would.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Spill files: each holds about 1/PARTS of the ids (100M ids: ~390k a part).
const PARTS: usize = 256;
/// Length marker of a record holding a canonical UUID as 16 bytes.
const UUID: u32 = u32::MAX;

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
        let (part, record) = encode(id, ordinal);
        self.write(part, &record)
    }

    /// Records a batch of ids, row `first + i` for `ids[i]` (trimmed; empty ones are
    /// not ids): encoded in parallel, written in order.
    pub fn push_batch(&mut self, ids: &[Option<&str>], first: u64) -> Result<()> {
        use rayon::prelude::*;
        let records: Vec<(usize, Vec<u8>)> = ids
            .par_iter()
            .enumerate()
            .filter_map(|(i, id)| {
                let id = id.map(str::trim).filter(|s| !s.is_empty())?;
                Some(encode(id, first + i as u64))
            })
            .collect();
        for (part, record) in records {
            self.write(part, &record)?;
        }
        Ok(())
    }

    fn write(&mut self, part: usize, record: &[u8]) -> Result<()> {
        self.parts[part]
            .write_all(record)
            .map_err(|e| Error::output(&self.dir, e))
    }

    /// The ordinals of every occurrence of an id after its first, sorted; removes the
    /// spill files. Parts are sorted in parallel: memory holds a part per thread.
    pub fn duplicates(self) -> Result<Vec<u64>> {
        use rayon::prelude::*;
        for mut w in self.parts {
            w.flush().map_err(|e| Error::output(&self.dir, e))?;
        }
        let dir = self.dir;
        let parts: Vec<Vec<u64>> = (0..PARTS)
            .into_par_iter()
            .map(|p| {
                let path = dir.join(format!("ids-{p:02}"));
                let (mut uuids, mut others) = read_part(&path)?;
                uuids.sort_unstable();
                others.sort_unstable();
                let mut repeats: Vec<u64> = uuids
                    .windows(2)
                    .filter(|w| w[0].0 == w[1].0)
                    .map(|w| w[1].1)
                    .collect();
                repeats.extend(
                    others
                        .windows(2)
                        .filter(|w| w[0].0 == w[1].0)
                        .map(|w| w[1].1),
                );
                std::fs::remove_file(&path).map_err(|e| Error::output(&path, e))?;
                Ok(repeats)
            })
            .collect::<Result<_>>()?;
        let mut duplicates: Vec<u64> = parts.into_iter().flatten().collect();
        duplicates.sort_unstable();
        Ok(duplicates)
    }
}

/// The part of `id` and its record: ordinal, length (or the UUID marker), bytes.
fn encode(id: &str, ordinal: u64) -> (usize, Vec<u8>) {
    let mut record = Vec::with_capacity(12 + id.len().max(16));
    record.extend_from_slice(&ordinal.to_le_bytes());
    if let Some(v) = super::canonical_uuid(id) {
        record.extend_from_slice(&UUID.to_le_bytes());
        record.extend_from_slice(&v.to_le_bytes());
    } else {
        let len = u32::try_from(id.len()).unwrap_or(UUID - 1).min(UUID - 1);
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&id.as_bytes()[..len as usize]);
    }
    (part_of(id), record)
}

/// Records of one part: packed UUIDs, and other ids, each with its ordinal.
type Part = (Vec<(u128, u64)>, Vec<(Box<[u8]>, u64)>);

fn read_part(path: &Path) -> Result<Part> {
    let io = |e: std::io::Error| Error::output(path, e);
    let mut r = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    let (mut uuids, mut records) = (Vec::new(), Vec::new());
    let mut head = [0u8; 12];
    loop {
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io(e)),
        }
        let ordinal = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
        let len = u32::from_le_bytes(head[8..].try_into().unwrap_or_default());
        if len == UUID {
            let mut v = [0u8; 16];
            r.read_exact(&mut v).map_err(io)?;
            uuids.push((u128::from_le_bytes(v), ordinal));
            continue;
        }
        let mut id = vec![0u8; len as usize];
        r.read_exact(&mut id).map_err(io)?;
        records.push((id.into_boxed_slice(), ordinal));
    }
    Ok((uuids, records))
}

/// FNV-1a, spread over the parts: every copy of an id goes to the same part.
fn part_of(id: &str) -> usize {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % PARTS
}

/// Marks the duplicates of a batch from the sorted duplicate ordinals.
pub struct Listed {
    duplicates: Vec<u64>,
    next: usize,
}

impl Listed {
    pub fn new(duplicates: Vec<u64>) -> Listed {
        Listed {
            duplicates,
            next: 0,
        }
    }

    /// Flags for rows `first..first + len` (batches come in ordinal order).
    pub fn mark(&mut self, first: u64, len: usize) -> Vec<bool> {
        let mut flags = vec![false; len];
        let end = first + len as u64;
        while let Some(&o) = self.duplicates.get(self.next).filter(|o| **o < end) {
            if o >= first {
                flags[(o - first) as usize] = true;
            }
            self.next += 1;
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
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
            for (n, chunk) in ids.chunks(batch).enumerate() {
                let got = listed.mark((n * batch) as u64, chunk.len());
                prop_assert_eq!(got, set.mark(chunk));
            }
        }
    }
}
