//! The price catalog: loading, validation, the embedded default, and matching.
//!
//! A catalog is a CSV of effective-dated prices (see `docs/catalog.md`). Matching
//! picks, among the rows that apply to a meter, the most specific one; two rows that
//! could tie are rejected when the catalog is loaded, so a lookup never has to guess.

pub mod aliases;
pub mod fetch;
mod load;
pub mod pricelist;
pub mod terms;

use crate::resolve::Scope;
use crate::vocab::money::Money;
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use terms::{Commitment, ImageQuality, Mode, Tier, UsageType};

pub use load::{COLUMNS, column};

/// The list prices compiled into the binary (`src/catalog/default_prices.csv`).
pub const EMBEDDED_CSV: &str = include_str!("default_prices.csv");
pub const EMBEDDED_NAME: &str = "embedded:default_prices.csv";

/// `[from, to)` in UTC microseconds; `None` is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Window {
    fn contains(&self, t: i64) -> bool {
        self.from.is_none_or(|f| f <= t) && self.to.is_none_or(|e| t < e)
    }

    fn overlaps(&self, other: &Window) -> bool {
        let starts_before_other_ends = match (self.from, other.to) {
            (Some(f), Some(t)) => f < t,
            _ => true,
        };
        let other_starts_before_end = match (other.from, self.to) {
            (Some(f), Some(t)) => f < t,
            _ => true,
        };
        starts_before_other_ends && other_starts_before_end
    }
}

/// One validated price. `None` in an optional dimension means "any".
#[derive(Clone, Debug)]
pub struct CatalogRow {
    /// Line in the catalog file (1 = header).
    pub line: usize,
    pub model_id: Option<String>,
    pub region: Option<String>,
    pub mode: Mode,
    pub usage_type: UsageType,
    /// `price ÷ per`, exact at scale 12.
    pub unit_price: Money,
    pub currency: String,
    pub scope: Option<Scope>,
    pub tier: Tier,
    /// Provisioned Throughput term (`mu_hours` rows only, where it is required).
    pub commitment: Option<Commitment>,
    /// Custom Model Import CMU version; `None` is any.
    pub cmu_version: Option<String>,
    pub image_quality: Option<ImageQuality>,
    pub image_max_pixels: Option<u64>,
    pub window: Window,
    /// The fields as written, in `COLUMNS` order.
    pub raw: Vec<String>,
}

impl CatalogRow {
    /// What makes two rows compete: rows equal here and overlapping in time are ambiguous.
    fn identity(&self) -> impl Eq + std::hash::Hash + '_ {
        (
            &self.model_id,
            &self.region,
            self.mode,
            self.usage_type,
            self.scope,
            self.tier,
            self.commitment,
            &self.cmu_version,
            self.image_quality,
            self.image_max_pixels,
        )
    }

    /// Larger is more specific: model, then region, then scope, then CMU version, then the smallest
    /// image bucket, then image quality.
    fn specificity(&self) -> (bool, bool, bool, bool, Reverse<u64>, bool) {
        (
            self.model_id.is_some(),
            self.region.is_some(),
            self.scope.is_some(),
            self.cmu_version.is_some(),
            Reverse(self.image_max_pixels.unwrap_or(u64::MAX)),
            self.image_quality.is_some(),
        )
    }
}

/// What a meter needs priced.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub model_id: &'a str,
    pub region: &'a str,
    pub scope: Scope,
    pub mode: Mode,
    pub tier: Tier,
    pub usage_type: UsageType,
    pub at: i64,
    /// Quality and pixel count (width × height), for images.
    pub image: Option<(ImageQuality, u64)>,
    /// Commitment term, for `mu_hours`.
    pub commitment: Option<Commitment>,
    /// CMU version of an imported model, for the Custom Model Import meters.
    pub cmu_version: Option<&'a str>,
}

/// A loaded, validated catalog.
#[derive(Debug)]
pub struct PriceCatalog {
    pub origin: String,
    pub sha256: String,
    pub rows: Vec<CatalogRow>,
    candidates: HashMap<(Option<String>, Mode, Tier, UsageType), Vec<usize>>,
    models: HashSet<String>,
    /// A per-request row prices any model.
    any_model: bool,
    /// Every effective_from/effective_to, sorted: between two, the answer to a query is constant.
    boundaries: Vec<i64>,
    /// Other spellings of model ids (the embedded aliases, and `--aliases`).
    pub aliases: aliases::Aliases,
}

impl PriceCatalog {
    pub fn embedded() -> Result<PriceCatalog, Vec<String>> {
        Self::parse(EMBEDDED_NAME, EMBEDDED_CSV)
    }

    pub fn from_file(path: &Path) -> Result<PriceCatalog, Vec<String>> {
        let cannot = |e: &dyn std::fmt::Display| {
            vec![format!(
                "{}: cannot read price catalog: {e}",
                path.display()
            )]
        };
        let text = match crate::ingest::s3::is_s3(path) {
            true => crate::ingest::s3::fetch(&path.to_string_lossy())
                .map_err(|e| cannot(&e))
                .and_then(|b| String::from_utf8(b).map_err(|e| cannot(&e)))?,
            false => std::fs::read_to_string(path).map_err(|e| cannot(&e))?,
        };
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses and validates; on failure returns every problem found, `name:line: ...`.
    pub fn parse(name: &str, text: &str) -> Result<PriceCatalog, Vec<String>> {
        let (rows, mut problems) = load::parse_rows(name, text);
        problems.extend(ambiguities(name, &rows));
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut candidates: HashMap<_, Vec<usize>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            candidates
                .entry((r.model_id.clone(), r.mode, r.tier, r.usage_type))
                .or_default()
                .push(i);
        }
        // Capacity rows (often wildcards, such as CMU prices) say nothing about which
        // models can be invoked per request.
        let per_request = rows
            .iter()
            .filter(|r| r.usage_type.capacity_mode().is_none());
        let any_model = per_request.clone().any(|r| r.model_id.is_none());
        let models = per_request.filter_map(|r| r.model_id.clone()).collect();
        let mut boundaries: Vec<i64> = rows
            .iter()
            .flat_map(|r| [r.window.from, r.window.to])
            .flatten()
            .collect();
        boundaries.sort_unstable();
        boundaries.dedup();
        let sha256 = format!("{:x}", Sha256::digest(text.as_bytes()));
        Ok(PriceCatalog {
            origin: name.to_string(),
            sha256,
            rows,
            candidates,
            models,
            any_model,
            boundaries,
            aliases: aliases::Aliases::embedded()?,
        })
    }

    /// Whether any per-request row can price this (resolved) model.
    pub fn knows_model(&self, model_id: &str) -> bool {
        self.any_model || self.models.contains(model_id)
    }

    /// Index of the period between catalog boundaries that holds `at`: two instants
    /// with the same epoch get the same answer from `find`, so callers may cache on it.
    pub fn epoch(&self, at: i64) -> usize {
        self.boundaries.partition_point(|b| *b <= at)
    }

    /// The first price boundary (effective_from/effective_to) after `at`, if any.
    pub fn next_boundary(&self, at: i64) -> Option<i64> {
        self.boundaries.get(self.epoch(at)).copied()
    }

    /// The most specific row that prices the query, if any.
    pub fn find(&self, q: &Query) -> Option<usize> {
        let exact = (Some(q.model_id.to_string()), q.mode, q.tier, q.usage_type);
        let any = (None, q.mode, q.tier, q.usage_type);
        [exact, any]
            .iter()
            .filter_map(|k| self.candidates.get(k))
            .flatten()
            .copied()
            .filter(|&i| self.applies(&self.rows[i], q))
            .max_by_key(|&i| self.rows[i].specificity())
    }

    fn applies(&self, r: &CatalogRow, q: &Query) -> bool {
        let image_ok = match (q.image, r.image_quality, r.image_max_pixels) {
            (Some((quality, pixels)), rq, rmax) => {
                rq.is_none_or(|x| x == quality) && rmax.is_none_or(|m| pixels <= m)
            }
            (None, rq, rmax) => rq.is_none() && rmax.is_none(),
        };
        image_ok
            && r.commitment == q.commitment
            && r.cmu_version
                .as_deref()
                .is_none_or(|v| Some(v) == q.cmu_version)
            && r.region.as_deref().is_none_or(|x| x == q.region)
            && r.scope.is_none_or(|s| s == q.scope)
            && r.window.contains(q.at)
    }
}

/// Two rows with the same dimensions whose windows overlap would tie: a load error.
fn ambiguities(name: &str, rows: &[CatalogRow]) -> Vec<String> {
    let mut groups: HashMap<_, Vec<&CatalogRow>> = HashMap::new();
    for r in rows {
        groups.entry(r.identity()).or_default().push(r);
    }
    let mut problems = Vec::new();
    for group in groups.values() {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if a.window.overlaps(&b.window) {
                    problems.push(format!(
                        "{name}:{}: ambiguous: lines {} and {} price the same {} {} {} in {} with overlapping effective windows",
                        b.line, a.line, b.line, a.raw[0], a.usage_type, a.mode, a.raw[1]
                    ));
                }
            }
        }
    }
    problems.sort();
    problems
}

#[cfg(test)]
mod tests;
