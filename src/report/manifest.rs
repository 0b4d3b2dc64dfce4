//! `manifest.json`: what was read, what became of every row, what was written.
//! The only report that holds wall-clock times.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Serialize)]
pub struct Manifest {
    pub billrun_version: String,
    pub started_at: String,
    pub finished_at: String,
    pub catalog: CatalogInfo,
    pub options: Options,
    pub inputs: Vec<InputInfo>,
    /// Files found in input directories but not read, each with why.
    pub skipped_files: Vec<crate::vocab::Skipped>,
    pub rows: RowCounts,
    /// Copy windows derived from invocations that could not be priced: in rejects.*
    /// and `rejects_by_reason`, but not input rows, so not in `rows.rejected`.
    #[serde(skip_serializing_if = "is_zero")]
    pub derived_windows_rejected: u64,
    /// Duplicates whose usage (model, region, mode, tier, meters) differs from the
    /// first copy's: counted in `rows.duplicate`, each a `duplicate_conflict` line in
    /// rejects.* and `rejects_by_reason`, not in `rows.rejected`.
    pub duplicate_conflicts: u64,
    pub rejects_by_reason: BTreeMap<String, u64>,
    /// Exact total cost by currency, as a plain decimal string.
    pub totals: BTreeMap<String, String>,
    /// With `--allocation`: exact totals by cost center, then by currency; the
    /// `unallocated` center holds what no rule matched. They add up to `totals`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub cost_centers: BTreeMap<String, BTreeMap<String, String>>,
    pub files: Vec<FileInfo>,
    /// With `--partition-by`: the partitions this run wrote (`table/column=value`)...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions_written: Vec<String>,
    /// ...and those it covers but had no rows for, whose old files it removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions_removed: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct CatalogInfo {
    pub source: String,
    pub sha256: String,
    pub rows: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Options {
    pub format: String,
    pub group_by: Vec<String>,
    pub line_items: bool,
    pub threads: usize,
    /// `--pt-hours`: `started` or `exact`.
    pub pt_hours: String,
    /// Where duplicates were found: `memory` or `disk`.
    pub dedup: String,
    /// `--from`, `--to` (RFC 3339), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// With `--partition-by`: `day` or `month`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// With `--format focus`: the charge period, `hour` or `day`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus_charge_period: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputInfo {
    pub path: String,
    pub kind: String,
    pub bytes: u64,
    pub rows: u64,
    /// Set when the file is damaged (truncated or corrupt): the rows before it were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// An S3 object's ETag (the object read, among its versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// `read = priced + rejected + duplicate + not_billable + out_of_range`, always.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RowCounts {
    pub read: u64,
    pub priced: u64,
    pub rejected: u64,
    pub duplicate: u64,
    pub not_billable: u64,
    pub out_of_range: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct FileInfo {
    pub name: String,
    pub rows: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
