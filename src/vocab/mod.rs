//! The vocabulary every stage shares, below all of them: exact money and
//! quantities, reject reasons, the canonical usage columns and their row views, and
//! the records readers hand on (what could not be read, what was not read). It
//! imports nothing of billrun's but `time` and `error`, so `ingest`, `pricing`,
//! `capacity` and `report` depend on it and not on each other.

pub mod money;
pub mod reasons;
pub mod rows;

use reasons::Reason;

/// An input record that could not be read: its 1-based row (or line) number and why.
pub struct Unreadable {
    pub row: i64,
    pub reason: Reason,
    pub request_id: Option<String>,
    pub message: String,
}

impl Unreadable {
    pub fn new(row: i64, reason: Reason, message: String) -> Unreadable {
        Unreadable {
            row,
            reason,
            request_id: None,
            message,
        }
    }
}

/// A file found but not read, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

impl Skipped {
    /// `path (reason)`, the path clipped, for messages.
    pub fn describe(&self) -> String {
        format!("{} ({})", crate::error::clip(&self.path), self.reason)
    }
}
