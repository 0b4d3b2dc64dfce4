//! Exact duplicate detection by request id, compact for the ids Bedrock writes.
//!
//! Bedrock request ids are UUIDs; a canonical lowercase UUID is stored as its 128-bit
//! value (16 bytes instead of a 36-byte string plus allocation). The encoding is
//! one-to-one, so this stays exact: any other id (uppercase, other formats) is kept
//! as text.

pub mod spill;

// foldhash (polars' hasher): several times faster than SipHash on 16-byte keys, and
// the set is not exposed to untrusted key choice beyond what the input already is.
use crate::vocab::Unreadable;
use crate::vocab::rows::{Ints, SliceMeters, Texts, UsageColumns, trimmed};
use polars::prelude::PlHashMap as HashMap;

/// Shards of the set: ids are spread by hash, so a batch is marked by all threads at
/// once, each shard walking its own rows in order.
const SHARDS: usize = 16;

pub struct SeenIds {
    shards: Vec<Shard>,
}

/// Each id with the usage print of its first copy (`usage_print`; 0: unknown).
#[derive(Default)]
struct Shard {
    uuids: HashMap<PackedUuid, u32>,
    others: HashMap<Box<str>, u32>,
}

/// A UUID as four u32, so an entry with its print is 20 bytes (a u128 key would
/// align it to 32); hashed as the one u128 it is.
#[derive(Clone, Copy, PartialEq, Eq)]
struct PackedUuid([u32; 4]);

impl PackedUuid {
    fn new(v: u128) -> PackedUuid {
        PackedUuid([
            (v >> 96) as u32,
            (v >> 64) as u32,
            (v >> 32) as u32,
            v as u32,
        ])
    }
}

impl std::hash::Hash for PackedUuid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [a, b, c, d] = self.0.map(u128::from);
        state.write_u128((a << 96) | (b << 64) | (c << 32) | d);
    }
}

/// What marking found of one record's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    New,
    /// A copy of an id seen before, with the same usage (or usage not known).
    Repeat,
    /// A copy of an id seen before whose usage differs from the first copy's.
    Conflict,
}

/// A batch's flags: which records are duplicates, and which of those conflict.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Marks {
    pub duplicate: Vec<bool>,
    pub conflict: Vec<bool>,
}

impl Marks {
    fn of(seen: &[Seen]) -> Marks {
        Marks {
            duplicate: seen.iter().map(|s| *s != Seen::New).collect(),
            conflict: seen.iter().map(|s| *s == Seen::Conflict).collect(),
        }
    }
}

/// Two prints of one id conflict when both are known and differ.
fn compare(first: u32, this: u32) -> Seen {
    match first != 0 && this != 0 && first != this {
        true => Seen::Conflict,
        false => Seen::Repeat,
    }
}

/// What row `i` bills, hashed (never 0): model, region, mode, service tier, the token
/// and image meters, image size and quality. Empty mode and tier are their defaults,
/// counts compare by value (`"4"` = 4), so a CSV export and a log of one request
/// agree; the timestamp is left out (exports round it differently). The fields are
/// packed into one buffer and hashed once (a hash per field cost a tenth of a run).
/// `meters` are the batch's meter counts (read at once when every row is printed).
pub fn usage_print(cols: &UsageColumns, meters: &SliceMeters, i: usize) -> u32 {
    fn text<'a>(v: Option<&'a str>, default: &'a str) -> &'a str {
        v.map(trimmed).filter(|v| !v.is_empty()).unwrap_or(default)
    }
    use std::hash::BuildHasher;
    let mut buf = [0u8; 384];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        let take = bytes.len().min(buf.len() - n - 1);
        buf[n..n + take].copy_from_slice(&bytes[..take]);
        buf[n + take] = 0xff;
        n += take + 1;
    };
    put(text(cols.model_id.get(i), "").as_bytes());
    put(text(cols.region.get(i), "").as_bytes());
    put(text(cols.mode.get(i), "on_demand").as_bytes());
    let tier = text(cols.service_tier.get(i), "standard");
    put(if tier == "default" { "standard" } else { tier }.as_bytes());
    let counts: [_; 5] = std::array::from_fn(|m| meters.get(cols, m, i));
    for count in &counts {
        match count {
            Ok(count) => put(&count.to_le_bytes()),
            Err(raw) => put(raw.as_bytes()),
        }
    }
    // Image size and quality matter only to rows with images (most rows have none).
    if counts[4] != Ok(0) {
        for c in [&cols.image_width, &cols.image_height] {
            match c.get(i) {
                Ok(count) => put(&count.to_le_bytes()),
                Err(raw) => put(raw.as_bytes()),
            }
        }
        put(text(cols.image_quality.get(i), "").as_bytes());
    }
    let hash = polars::prelude::PlFixedStateQuality::default().hash_one(&buf[..n]);
    (hash as u32) | 1
}

/// An id as the set keeps it.
pub(crate) enum Key<'a> {
    Uuid(u128),
    Other(&'a str),
}

impl Key<'_> {
    pub(crate) fn of(id: &str) -> Key<'_> {
        Key::read(id, canonical_uuid)
    }

    /// `of`, with `uuid` reading UUIDs (inlined: a caller compiled for SSSE3 gets
    /// the SSSE3 reading in its loop).
    #[inline(always)]
    pub(crate) fn read(id: &str, uuid: impl Fn(&str) -> Option<u128>) -> Key<'_> {
        uuid(id).map_or(Key::Other(id), Key::Uuid)
    }

    /// A well-spread hash of the id: every copy of an id gets the same one.
    pub(crate) fn spread(&self) -> u64 {
        let h = match self {
            Key::Uuid(v) => (*v as u64) ^ ((*v >> 64) as u64),
            Key::Other(s) => s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            }),
        };
        h.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The shard: every copy of an id lands in the same one.
    fn shard(&self) -> usize {
        (self.spread() >> 60) as usize % SHARDS
    }
}

/// `id` without surrounding whitespace, `None` if nothing is left (not an id).
pub(crate) fn significant(id: Option<&str>) -> Option<&str> {
    Some(trimmed(id?)).filter(|id| !id.is_empty())
}

impl Default for SeenIds {
    fn default() -> SeenIds {
        SeenIds {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl Shard {
    /// One hash lookup per id, as a set insert would be: a new id grows the map.
    fn insert(&mut self, key: Key, print: u32) -> Seen {
        let (grew, first) = match key {
            Key::Uuid(v) => {
                let before = self.uuids.len();
                let first = *self.uuids.entry(PackedUuid::new(v)).or_insert(print);
                (self.uuids.len() > before, first)
            }
            // Other ids are rare: a lookup, then an insert of the boxed text.
            Key::Other(id) => match self.others.get(id) {
                Some(first) => (false, *first),
                None => (self.others.insert(id.into(), print).is_none(), print),
            },
        };
        match grew {
            true => Seen::New,
            false => compare(first, print),
        }
    }
}

impl SeenIds {
    /// Records `id`; false if it was seen before.
    pub fn insert(&mut self, id: &str) -> bool {
        let key = Key::of(id);
        let shard = key.shard();
        self.shards[shard].insert(key, 0) == Seen::New
    }

    /// Records a batch of ids (trimmed; empty ones are not ids) and returns which
    /// were seen before, earlier in the run or earlier in the batch: the same answer
    /// as inserting them one by one, computed by the shards in parallel.
    pub fn mark(&mut self, ids: &Texts) -> Vec<bool> {
        self.mark_printed(ids, |_| 0).duplicate
    }

    /// `mark`, also telling which repeats differ in usage from the first copy:
    /// `print(i)` is record `i`'s `usage_print` (0: not known), taken in the same
    /// parallel pass that reads the ids.
    pub fn mark_printed(&mut self, ids: &Texts, print: impl Fn(usize) -> u32 + Sync) -> Marks {
        use rayon::prelude::*;
        let keys: Vec<Option<(usize, Key, u32)>> = (0..ids.len())
            .into_par_iter()
            .map(|i| {
                let key = Key::of(significant(ids.get(i))?);
                Some((key.shard(), key, print(i)))
            })
            .collect();
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); SHARDS];
        for (i, k) in keys.iter().enumerate() {
            if let Some((shard, _, _)) = k {
                rows[*shard].push(i);
            }
        }
        let repeats: Vec<Vec<(usize, Seen)>> = self
            .shards
            .par_iter_mut()
            .zip(rows)
            .map(|(shard, rows)| {
                rows.into_iter()
                    .filter_map(|i| {
                        let (key, print) = match &keys[i] {
                            Some((_, Key::Uuid(v), p)) => (Key::Uuid(*v), *p),
                            Some((_, Key::Other(s), p)) => (Key::Other(s), *p),
                            None => return None,
                        };
                        let seen = shard.insert(key, print);
                        (seen != Seen::New).then_some((i, seen))
                    })
                    .collect()
            })
            .collect();
        let mut seen = vec![Seen::New; ids.len()];
        for (i, s) in repeats.into_iter().flatten() {
            seen[i] = s;
        }
        Marks::of(&seen)
    }
}

/// A record of a batch, in the order records claim request ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Readable row `i` of the batch's frame.
    Row(usize),
    /// Record `j` of those its reader rejected.
    Unreadable(usize),
}

/// The order in which a batch's records claim request ids: its `rows` readable rows
/// (file row `row(i)`) and the records its reader rejected (file rows `rejected`),
/// merged by file row, so the first copy of an id in the file wins whether or not it
/// could be read. Both inputs ascend, as readers emit them.
pub fn claims(rows: usize, row: impl Fn(usize) -> i64, rejected: &[i64]) -> Vec<Claim> {
    let mut order = Vec::with_capacity(rows + rejected.len());
    let (mut i, mut j) = (0, 0);
    while i < rows || j < rejected.len() {
        let take_row = j == rejected.len() || (i < rows && row(i) <= rejected[j]);
        match take_row {
            true => (order.push(Claim::Row(i)), i += 1),
            false => (order.push(Claim::Unreadable(j)), j += 1),
        };
    }
    order
}

/// A batch's request ids in claim order, with that order; `None` when its reader
/// rejected nothing (then claim order is the frame's). `row`: the file row of each
/// readable row.
pub fn in_claim_order<'a>(
    ids: &Texts<'a>,
    row: &Ints,
    rejected: &'a [Unreadable],
) -> Option<(Vec<Claim>, Texts<'a>)> {
    if rejected.is_empty() {
        return None;
    }
    let rows: Vec<i64> = rejected.iter().map(|u| u.row).collect();
    let order = claims(ids.len(), |i| row.get(i).unwrap_or(0), &rows);
    let claimed: Vec<Option<&str>> = order
        .iter()
        .map(|c| match *c {
            Claim::Row(i) => ids.get(i),
            Claim::Unreadable(j) => rejected[j].request_id.as_deref(),
        })
        .collect();
    Some((order, Texts::Owned(claimed)))
}

/// Flags in claim order, back to (readable rows, rejected records).
pub fn split_flags(order: &[Claim], flags: &[bool], rows: usize) -> (Vec<bool>, Vec<bool>) {
    let mut readable = vec![false; rows];
    let mut rejected = vec![false; order.len() - rows];
    for (c, &flag) in order.iter().zip(flags) {
        match *c {
            Claim::Row(i) => readable[i] = flag,
            Claim::Unreadable(j) => rejected[j] = flag,
        }
    }
    (readable, rejected)
}

/// The value of a lowercase `8-4-4-4-12` hex UUID; `None` for anything else.
/// Read with SSSE3 where the processor has it (x86-64 only promises SSE2), else
/// eight digits at a time.
pub(crate) fn canonical_uuid(id: &str) -> Option<u128> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") {
        // SAFETY: the processor has SSSE3.
        return unsafe { ssse3::uuid(id) };
    }
    uuid_by_words(id)
}

/// Whether 36 bytes have a UUID's dashes, after digits 8, 12, 16 and 20.
#[inline]
fn dashed(b: &[u8; 36]) -> bool {
    b[8] == b'-' && b[13] == b'-' && b[18] == b'-' && b[23] == b'-'
}

/// `canonical_uuid` without SIMD: eight digits a u64.
fn uuid_by_words(id: &str) -> Option<u128> {
    let b: &[u8; 36] = id.as_bytes().try_into().ok()?;
    if !dashed(b) {
        return None;
    }
    let mut digits = [0u8; 32];
    digits[..8].copy_from_slice(&b[..8]);
    digits[8..12].copy_from_slice(&b[9..13]);
    digits[12..16].copy_from_slice(&b[14..18]);
    digits[16..20].copy_from_slice(&b[19..23]);
    digits[20..].copy_from_slice(&b[24..]);
    let mut v = 0u128;
    for eight in digits.as_chunks::<8>().0 {
        v = (v << 32) | u128::from(hex8(u64::from_be_bytes(*eight))?);
    }
    Some(v)
}

/// Eight lowercase hex digits, the first in the top byte of `x`, as their value;
/// `None` if any byte is not one. All eight bytes are checked and converted at once
/// (a byte below 0x80 plus at most 0x50 cannot carry into the next byte).
fn hex8(x: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if x & HIGH != 0 {
        return None;
    }
    // The high bit of each byte that is at least `low`.
    let at_least = |low: u8| (x + ONES * u64::from(0x80 - low)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if digit | letter != HIGH {
        return None;
    }
    // '0'-'9' are their low nibble, 'a'-'f' their low nibble plus 9.
    let mut n = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    n = (n | (n >> 4)) & 0x00ff_00ff_00ff_00ff;
    n = (n | (n >> 8)) & 0x0000_ffff_0000_ffff;
    n = (n | (n >> 16)) & 0x0000_0000_ffff_ffff;
    Some(n as u32)
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod ssse3 {
    use std::arch::x86_64::*;

    /// `canonical_uuid` with SSSE3 (inlined where the caller is compiled for it).
    #[inline]
    #[target_feature(enable = "ssse3")]
    pub(crate) fn uuid(id: &str) -> Option<u128> {
        canonical_uuid(id.as_bytes().try_into().ok()?)
    }

    /// `canonical_uuid` of 36 bytes, sixteen digits a register: the 32 digits
    /// gathered from around the dashes (pshufb), each checked to be 0-9 or a-f, made
    /// a nibble, and paired into bytes, the first digit the high nibble.
    #[inline]
    #[target_feature(enable = "ssse3")]
    fn canonical_uuid(b: &[u8; 36]) -> Option<u128> {
        if !super::dashed(b) {
            return None;
        }
        let load = |at: usize| -> __m128i {
            let bytes: &[u8; 16] = b[at..at + 16].try_into().expect("16 bytes");
            // SAFETY: an unaligned load of 16 readable bytes.
            unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
        };
        let (v0, v1, v2) = (load(0), load(16), load(20));
        const Z: i8 = -128; // a pshufb index that yields 0
        // Digits 0-15: bytes 0-7, 9-12, 14-17; digits 16-31: bytes 19-22, 24-35.
        let first = _mm_or_si128(
            _mm_shuffle_epi8(
                v0,
                _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, Z, Z),
            ),
            _mm_shuffle_epi8(
                v1,
                _mm_setr_epi8(Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 1),
            ),
        );
        let second = _mm_or_si128(
            _mm_shuffle_epi8(
                v1,
                _mm_setr_epi8(3, 4, 5, 6, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z),
            ),
            _mm_shuffle_epi8(
                v2,
                _mm_setr_epi8(Z, Z, Z, Z, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            ),
        );
        let (first, second) = (nibbles(first)?, nibbles(second)?);
        // Pairs of nibbles into bytes: high × 16 + low.
        let weights = _mm_set1_epi16(0x0110);
        let pairs = _mm_packus_epi16(
            _mm_maddubs_epi16(first, weights),
            _mm_maddubs_epi16(second, weights),
        );
        let mut bytes = [0u8; 16];
        // SAFETY: an unaligned store of 16 bytes into a 16-byte array.
        unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), pairs) };
        Some(u128::from_be_bytes(bytes))
    }

    /// Sixteen lowercase hex digits as their values; `None` if any is not one.
    /// (Signed compares: bytes of 0x80 and above are negative, below every range.)
    #[inline]
    #[target_feature(enable = "ssse3")]
    fn nibbles(x: __m128i) -> Option<__m128i> {
        let within = |low: u8, high: u8| {
            let above = _mm_cmpgt_epi8(x, _mm_set1_epi8(low as i8 - 1));
            let below = _mm_cmpgt_epi8(_mm_set1_epi8(high as i8 + 1), x);
            _mm_and_si128(above, below)
        };
        let digit = within(b'0', b'9');
        let letter = within(b'a', b'f');
        if _mm_movemask_epi8(_mm_or_si128(digit, letter)) != 0xffff {
            return None;
        }
        // '0'-'9' are their low nibble, 'a'-'f' their low nibble plus 9.
        let low = _mm_and_si128(x, _mm_set1_epi8(0x0f));
        Some(_mm_add_epi8(low, _mm_and_si128(letter, _mm_set1_epi8(9))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Usage prints are the same whether a batch's meters are read at once or row
    /// by row, from integer columns (with nulls and negative values) or from text;
    /// and they tell rows apart by their meters.
    #[test]
    fn prints_read_meters_at_once_as_row_by_row() {
        use crate::vocab::rows::{INT_COLUMNS, ROW_COLUMN, TEXT_COLUMNS};
        use polars::prelude::{Column, DataFrame};
        let counts: [Option<i64>; 6] = [Some(4), None, Some(-3), Some(0), Some(7), Some(4)];
        let n = counts.len();
        let frame = |as_text: bool| {
            let mut columns = vec![Column::new(
                ROW_COLUMN.into(),
                (1..=n as i64).collect::<Vec<_>>(),
            )];
            for name in TEXT_COLUMNS {
                let v = match name {
                    "model_id" => Some("amazon.nova-micro-v1:0"),
                    "timestamp" => Some("2025-11-01T00:00:00Z"),
                    _ => None,
                };
                columns.push(Column::new(name.into(), vec![v; n]));
            }
            for (m, name) in INT_COLUMNS.iter().enumerate() {
                // Each meter its own rotation of the counts; images on some rows.
                let v: Vec<Option<i64>> = (0..n).map(|i| counts[(i + m) % n]).collect();
                columns.push(match as_text {
                    false => Column::new((*name).into(), v),
                    true => {
                        let t: Vec<Option<String>> =
                            v.iter().map(|c| c.map(|c| c.to_string())).collect();
                        Column::new((*name).into(), t)
                    }
                });
            }
            DataFrame::new(n, columns).unwrap()
        };
        let prints = |df: &DataFrame, at_once: bool| -> Vec<u32> {
            let cols = UsageColumns::from_frame(df).unwrap();
            let meters = match at_once {
                true => SliceMeters::of(&cols, 0..n),
                false => SliceMeters::by_row(),
            };
            (0..n).map(|i| usage_print(&cols, &meters, i)).collect()
        };
        let (ints, texts) = (frame(false), frame(true));
        let at_once = prints(&ints, true);
        assert_eq!(at_once, prints(&ints, false));
        assert_eq!(at_once, prints(&texts, false));
        assert_eq!(at_once, prints(&texts, true));
        let distinct: std::collections::HashSet<u32> = at_once.iter().copied().collect();
        assert_eq!(distinct.len(), n);
    }

    /// What each reading of a UUID makes of `id`: `canonical_uuid` (SSSE3 here) and
    /// the word by word one.
    fn readings(id: &str) -> [Option<u128>; 2] {
        [canonical_uuid(id), uuid_by_words(id)]
    }

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
            let mut got = batched.mark(&a.to_vec().into());
            got.extend(batched.mark(&b.to_vec().into()));
            proptest::prop_assert_eq!(got, expected);
        }
    }

    /// The digit by digit reading `canonical_uuid` replaced: a table lookup a byte.
    fn uuid_by_table(id: &str) -> Option<u128> {
        let b: &[u8; 36] = id.as_bytes().try_into().ok()?;
        let mut v = 0u128;
        for (i, c) in b.iter().enumerate() {
            match (i, c) {
                (8 | 13 | 18 | 23, b'-') => {}
                (8 | 13 | 18 | 23, _) => return None,
                (_, b'0'..=b'9') => v = (v << 4) | u128::from(c - b'0'),
                (_, b'a'..=b'f') => v = (v << 4) | u128::from(c - b'a' + 10),
                _ => return None,
            }
        }
        Some(v)
    }

    /// Every byte value at every position of a UUID (and of one of all `f`s, where
    /// a carry would show): read as the byte by byte reading reads it.
    #[test]
    fn any_one_byte_changed_reads_as_byte_by_byte() {
        for base in [
            "ff4b6c63-5561-4431-93b8-06a817275900",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert_eq!(readings(base), [uuid_by_table(base); 2]);
            for at in 0..36 {
                for byte in 0..=255u8 {
                    let mut bytes = base.as_bytes().to_vec();
                    bytes[at] = byte;
                    let text = String::from_utf8_lossy(&bytes);
                    assert_eq!(readings(&text), [uuid_by_table(&text); 2], "{text:?}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Any 128-bit value written as a lowercase UUID reads back as itself; with
        /// any digit made uppercase, or any dash moved, it is not packed.
        #[test]
        fn uuids_pack_to_their_value(v: u128, at in 0usize..36) {
            let hex = format!("{v:032x}");
            let text = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]
            );
            proptest::prop_assert_eq!(readings(&text), [Some(v); 2]);
            let mut bytes = text.clone().into_bytes();
            if bytes[at].is_ascii_lowercase() {
                bytes[at] = bytes[at].to_ascii_uppercase();
                let upper = std::str::from_utf8(&bytes).unwrap();
                proptest::prop_assert_eq!(readings(upper), [None; 2]);
            }
            let moved = format!("{}{}", &text[1..], &text[..1]);
            if moved != text {
                proptest::prop_assert_eq!(readings(&moved), [None; 2]);
            }
        }

        /// Text of UUID shape made of digits, letters and the bytes next to their
        /// ranges: read as the byte by byte reading reads it.
        #[test]
        fn uuid_shaped_text_reads_as_byte_by_byte(
            text in "[0-9a-fA-F/:@`g]{8}-[0-9a-f/:`g]{4}-[0-9a-f]{4}-[0-9a-f:g]{4}-[0-9a-f/`]{12}",
        ) {
            proptest::prop_assert_eq!(readings(&text), [uuid_by_table(&text); 2]);
        }

        /// The fast path of `significant` = trimming, for any text.
        #[test]
        fn significant_is_trimmed_text(id in "\\PC{0,3}[ \\t\u{a0}\u{2003}x-]{0,3}\\PC{0,3}") {
            let expected = Some(id.trim()).filter(|s| !s.is_empty());
            proptest::prop_assert_eq!(significant(Some(&id)), expected);
        }
    }

    #[test]
    fn claims_merge_rows_and_rejected_records_by_file_row() {
        let rows = [2i64, 3, 7];
        let order = claims(rows.len(), |i| rows[i], &[1, 5, 9]);
        use Claim::*;
        let expected = [
            Unreadable(0),
            Row(0),
            Row(1),
            Unreadable(1),
            Row(2),
            Unreadable(2),
        ];
        assert_eq!(order, expected);
        assert_eq!(claims(2, |i| i as i64, &[]), [Row(0), Row(1)]);
        assert_eq!(claims(0, |_| 0, &[4]), [Unreadable(0)]);
    }

    #[test]
    fn a_repeat_with_other_usage_is_a_conflict_unless_a_print_is_unknown() {
        let mut seen = SeenIds::default();
        let ids: Texts = vec![Some("a"), Some("a"), Some("a"), Some("b"), Some("b")].into();
        let marks = seen.mark_printed(&ids, |i| [7, 7, 8, 0, 9][i]);
        assert_eq!(marks.duplicate, [false, true, true, false, true]);
        assert_eq!(marks.conflict, [false, false, true, false, false]);
        let later: Texts = vec![Some("a")].into();
        assert_eq!(seen.mark_printed(&later, |_| 9).conflict, [true]);
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
