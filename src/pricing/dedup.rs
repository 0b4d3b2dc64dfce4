//! Exact duplicate detection by request id, compact for the ids Bedrock writes.
//!
//! Bedrock request ids are UUIDs; a canonical lowercase UUID is stored as its 128-bit
//! value (16 bytes instead of a 36-byte string plus allocation). The encoding is
//! one-to-one, so this stays exact: any other id (uppercase, other formats) is kept
//! as text.

use std::collections::HashSet;

#[derive(Default)]
pub struct SeenIds {
    uuids: HashSet<u128>,
    others: HashSet<Box<str>>,
}

impl SeenIds {
    /// Records `id`; false if it was seen before.
    pub fn insert(&mut self, id: &str) -> bool {
        match canonical_uuid(id) {
            Some(v) => self.uuids.insert(v),
            None if self.others.contains(id) => false,
            None => self.others.insert(id.into()),
        }
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
