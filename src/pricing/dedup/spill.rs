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
    pub fn push(&mut self, id: &str, ordinal: u64) -> Result<()> {
        let part = part_of(id);
        let w = &mut self.parts[part];
        let io = |e| Error::output(&self.dir, e);
        w.write_all(&ordinal.to_le_bytes()).map_err(io)?;
        if let Some(v) = super::canonical_uuid(id) {
            w.write_all(&UUID.to_le_bytes()).map_err(io)?;
            return w.write_all(&v.to_le_bytes()).map_err(io);
        }
        let len = u32::try_from(id.len()).unwrap_or(UUID - 1).min(UUID - 1);
        w.write_all(&len.to_le_bytes()).map_err(io)?;
        w.write_all(&id.as_bytes()[..len as usize]).map_err(io)
    }

    /// The ordinals of every occurrence of an id after its first, sorted; removes the
    /// spill files.
    pub fn duplicates(self) -> Result<Vec<u64>> {
        let mut duplicates = Vec::new();
        for (p, mut w) in self.parts.into_iter().enumerate() {
            w.flush().map_err(|e| Error::output(&self.dir, e))?;
            drop(w);
            let path = self.dir.join(format!("ids-{p:02}"));
            let (mut uuids, mut others) = read_part(&path)?;
            uuids.sort_unstable();
            others.sort_unstable();
            for pair in uuids.windows(2).filter(|p| p[0].0 == p[1].0) {
                duplicates.push(pair[1].1);
            }
            for pair in others.windows(2).filter(|p| p[0].0 == p[1].0) {
                duplicates.push(pair[1].1);
            }
            std::fs::remove_file(&path).map_err(|e| Error::output(&path, e))?;
        }
        duplicates.sort_unstable();
        Ok(duplicates)
    }
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
