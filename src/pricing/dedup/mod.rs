//! Exact duplicate detection by request id, compact for the ids Bedrock writes.
//!
//! Bedrock request ids are UUIDs; a canonical lowercase UUID is stored as its 128-bit
//! value (16 bytes instead of a 36-byte string plus allocation). The encoding is
//! one-to-one, so this stays exact: any other id (uppercase, other formats) is kept
//! as text.

pub mod spill;

// foldhash (polars' hasher): several times faster than SipHash on 16-byte keys, and
// the set is not exposed to untrusted key choice beyond what the input already is.
use polars::prelude::PlHashSet as HashSet;

/// Shards of the set: ids are spread by hash, so a batch is marked by all threads at
/// once, each shard walking its own rows in order.
const SHARDS: usize = 16;

pub struct SeenIds {
    shards: Vec<Shard>,
}

#[derive(Default)]
struct Shard {
    uuids: HashSet<u128>,
    others: HashSet<Box<str>>,
}

/// An id as the set keeps it.
enum Key<'a> {
    Uuid(u128),
    Other(&'a str),
}

impl Key<'_> {
    fn of(id: &str) -> Key<'_> {
        canonical_uuid(id).map_or(Key::Other(id), Key::Uuid)
    }

    /// The shard: every copy of an id lands in the same one.
    fn shard(&self) -> usize {
        let h = match self {
            Key::Uuid(v) => (*v as u64) ^ ((*v >> 64) as u64),
            Key::Other(s) => s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            }),
        };
        (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
    }
}

impl Default for SeenIds {
    fn default() -> SeenIds {
        SeenIds {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl Shard {
    fn insert(&mut self, key: Key) -> bool {
        match key {
            Key::Uuid(v) => self.uuids.insert(v),
            Key::Other(id) if self.others.contains(id) => false,
            Key::Other(id) => self.others.insert(id.into()),
        }
    }
}

impl SeenIds {
    /// Records `id`; false if it was seen before.
    pub fn insert(&mut self, id: &str) -> bool {
        let key = Key::of(id);
        let shard = key.shard();
        self.shards[shard].insert(key)
    }

    /// Records a batch of ids (trimmed; empty ones are not ids) and returns which
    /// were seen before, earlier in the run or earlier in the batch: the same answer
    /// as inserting them one by one, computed by the shards in parallel.
    pub fn mark(&mut self, ids: &[Option<&str>]) -> Vec<bool> {
        use rayon::prelude::*;
        let keys: Vec<Option<(usize, Key)>> = ids
            .par_iter()
            .map(|id| {
                let id = id.map(str::trim).filter(|s| !s.is_empty())?;
                let key = Key::of(id);
                Some((key.shard(), key))
            })
            .collect();
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); SHARDS];
        for (i, k) in keys.iter().enumerate() {
            if let Some((shard, _)) = k {
                rows[*shard].push(i);
            }
        }
        let repeats: Vec<Vec<usize>> = self
            .shards
            .par_iter_mut()
            .zip(rows)
            .map(|(shard, rows)| {
                rows.into_iter()
                    .filter(|&i| {
                        let key = match &keys[i] {
                            Some((_, Key::Uuid(v))) => Key::Uuid(*v),
                            Some((_, Key::Other(s))) => Key::Other(s),
                            None => return false,
                        };
                        !shard.insert(key)
                    })
                    .collect()
            })
            .collect();
        let mut duplicate = vec![false; ids.len()];
        for i in repeats.into_iter().flatten() {
            duplicate[i] = true;
        }
        duplicate
    }
}

/// The value of a lowercase `8-4-4-4-12` hex UUID; `None` for anything else.
fn canonical_uuid(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut value: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        let digit = match c {
            b'-' if matches!(i, 8 | 13 | 18 | 23) => continue,
            b'0'..=b'9' if !matches!(i, 8 | 13 | 18 | 23) => c - b'0',
            b'a'..=b'f' if !matches!(i, 8 | 13 | 18 | 23) => c - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lowercase_canonical_uuids_are_packed() {
        assert_eq!(
            canonical_uuid("ff4b6c63-5561-4431-93b8-06a817275900"),
            Some(0xff4b6c63_5561_4431_93b8_06a817275900)
        );
        assert_eq!(canonical_uuid("FF4B6C63-5561-4431-93B8-06A817275900"), None);
        assert_eq!(canonical_uuid("ff4b6c6355614431-93b8-06a817275900-"), None);
        assert_eq!(canonical_uuid("req-0001"), None);
    }

    proptest::proptest! {
        /// Marking a batch in parallel shards = inserting its ids one by one.
        #[test]
        fn marking_a_batch_equals_inserting_one_by_one(
            ids in proptest::collection::vec(
                proptest::option::of(proptest::sample::select(vec![
                    "ff4b6c63-5561-4431-93b8-06a817275900",
                    "0b1e3b9a-2f4c-4d5e-8f60-718293a4b5c6",
                    "FF4B6C63-5561-4431-93B8-06A817275900",
                    "req-1", " req-1 ", "", "  ", "req-2", "x",
                ])),
                0..60,
            ),
            split in 0usize..60,
        ) {
            let mut one_by_one = SeenIds::default();
            let expected: Vec<bool> = ids
                .iter()
                .map(|id| {
                    id.map(str::trim)
                        .filter(|s| !s.is_empty())
                        .is_some_and(|id| !one_by_one.insert(id))
                })
                .collect();
            let (a, b) = ids.split_at(split.min(ids.len()));
            let mut batched = SeenIds::default();
            let mut got = batched.mark(a);
            got.extend(batched.mark(b));
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn ids_that_differ_stay_apart() {
        let mut seen = SeenIds::default();
        assert!(seen.insert("ff4b6c63-5561-4431-93b8-06a817275900"));
        assert!(
            seen.insert("FF4B6C63-5561-4431-93B8-06A817275900"),
            "case differs: a different id"
        );
        assert!(seen.insert("req-0001"));
        assert!(!seen.insert("ff4b6c63-5561-4431-93b8-06a817275900"));
        assert!(!seen.insert("FF4B6C63-5561-4431-93B8-06A817275900"));
        assert!(!seen.insert("req-0001"));
    }
}
