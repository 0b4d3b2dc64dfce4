//! Capacity and customization billing: Provisioned Throughput model-unit hours,
//! Custom Model Import copy windows and storage, customization training and storage.
//!
//! Each record is validated, clipped to the run's `--from`/`--to`, cut into pieces
//! (one calendar month, one price, one day when grouping by day) and priced from the
//! same catalog as tokens. Discrete units (hours, 5-minute windows) belong to the
//! instant they start at; prorated quantities (exact hours, storage months) are
//! rounded half-even to 12 places once per record and month, however the month is
//! cut (`docs/capacity.md`).

mod customization;
mod imported;
mod provisioned;
pub mod span;

pub use customization::bill_customization;
pub use imported::{
    ImportedModel, Invocations, Registry, bill_copies, bill_derived, bill_storage, load_registry,
};
pub use provisioned::{bill_provisioned, read_provisioned};

use crate::catalog::terms::{Commitment, Mode, Tier, UsageType};
use crate::catalog::{PriceCatalog, Query};
use crate::error::{Error, Locus, Result};
use crate::ingest::records::{Record, RecordTable};
pub use crate::pricing::rate::{LineItem, Reject};
use crate::resolve::{Scope, resolve_model_id};
use crate::time::{format_instant, parse_instant};
use crate::vocab::money::{Money, Prorater, Quantity};
use crate::vocab::reasons::Reason;
use std::path::PathBuf;
use std::sync::Arc;

/// How Provisioned Throughput hours are counted (`--pt-hours`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HourPolicy {
    /// Every started hour, anchored at the record's start (the default).
    Started,
    /// Fractional hours, to the microsecond.
    Exact,
}

/// The capacity tables of a run.
#[derive(Clone, Debug, Default)]
pub struct CapacityFiles {
    pub provisioned: Vec<PathBuf>,
    pub copies: Vec<PathBuf>,
    pub imported_models: Vec<PathBuf>,
    pub customization: Vec<PathBuf>,
}

impl CapacityFiles {
    pub fn is_empty(&self) -> bool {
        self.provisioned.is_empty()
            && self.copies.is_empty()
            && self.imported_models.is_empty()
            && self.customization.is_empty()
    }
}

pub use crate::pricing::rate::capacity::{CapacityModel, CapacityModels};

/// The models of the registry and of the Provisioned Throughput tables. A PT record
/// that is not valid is skipped here (billing rejects it with its reason).
pub fn capacity_models(registry: &Registry, provisioned: &[RecordTable]) -> CapacityModels {
    let mut models = CapacityModels::new();
    for (arn, m) in registry {
        let model = CapacityModel {
            priced_model: arn.clone(),
            usage: UsageType::CmuMinutes,
            commitment: None,
            cmu_version: Some(m.cmu_version.clone()),
            derive_windows: m.from_invocations,
        };
        models.insert(arn.clone(), model);
    }
    for table in provisioned {
        for rec in table.records() {
            let (id, model) = (rec.get("provisioned_model_id"), rec.get("model_id"));
            let base = match rec.get("base_model_id") {
                "" => model,
                base => base,
            };
            let (Ok(base), Some(term)) =
                (base_model(base), Commitment::parse(rec.get("commitment")))
            else {
                continue;
            };
            if id.is_empty() {
                continue;
            }
            let model = CapacityModel {
                priced_model: base,
                usage: UsageType::MuHours,
                commitment: Some(term),
                cmu_version: None,
                derive_windows: false,
            };
            models.insert(id.to_string(), model);
        }
    }
    models
}

/// One priced piece of a capacity or customization record.
#[derive(Clone, Debug)]
pub struct Charge {
    pub source: Arc<str>,
    pub row: i64,
    /// Provisioned model, imported model (and copy), job or custom model.
    pub resource: String,
    /// Start of the piece: where it is grouped by day or month and priced.
    pub at: i64,
    pub account_id: String,
    /// The model priced (a custom model's base model).
    pub model_id: String,
    /// The model as the record names it.
    pub requested_model_id: String,
    pub region: String,
    pub usage_type: UsageType,
    pub quantity: Quantity,
    /// Catalog row.
    pub price: usize,
    pub cost: Money,
}

impl Charge {
    pub fn mode(&self) -> Mode {
        self.usage_type.capacity_mode().unwrap_or(Mode::OnDemand)
    }

    /// The charge as a line item: the resource in `request_id`, no tier or tags.
    pub fn line_item(&self, catalog: &PriceCatalog) -> LineItem {
        let price = &catalog.rows[self.price];
        let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        LineItem {
            source: self.source.clone(),
            row: self.row,
            request_id: some(&self.resource),
            timestamp: self.at,
            account_id: some(&self.account_id).map(Arc::from),
            principal: None,
            model_id: Arc::from(self.model_id.as_str()),
            requested_model_id: Arc::from(self.requested_model_id.as_str()),
            scope: Scope::InRegion,
            region: Arc::from(self.region.as_str()),
            mode: self.mode(),
            service_tier: None,
            usage_type: self.usage_type,
            quantity: self.quantity,
            unit_price: price.unit_price,
            cost: self.cost,
            currency: Arc::from(price.currency.as_str()),
            catalog_line: price.line,
            tags: None,
            inference_region: None,
            cost_center: None,
        }
    }
}

/// What became of one record table.
pub struct Billed {
    pub input: PathBuf,
    pub kind: &'static str,
    pub bytes: u64,
    pub rows: u64,
    pub charges: Vec<Charge>,
    pub rejects: Vec<Reject>,
    pub priced: u64,
    /// Records with nothing inside `--from`/`--to`.
    pub out_of_range: u64,
}

impl Billed {
    fn new(table: &RecordTable, kind: &'static str) -> Billed {
        Billed {
            input: table.path.clone(),
            kind,
            bytes: table.bytes,
            rows: table.len() as u64,
            charges: Vec::new(),
            rejects: Vec::new(),
            priced: 0,
            out_of_range: 0,
        }
    }

    /// Files a record's outcome: charges (priced), none (out of range) or a reject.
    fn record(&mut self, rec: &Record, resource: &str, outcome: Outcome) {
        self.file(rec.row, resource, outcome);
    }

    /// Files the outcome of records billed together (a copy's merged run): each is
    /// priced, out of range or rejected with the run; the charges are kept once.
    fn file_run(&mut self, rows: &[i64], resource: &str, outcome: Outcome) {
        match outcome {
            Ok(charges) => {
                let priced = !charges.is_empty();
                self.charges.extend(charges);
                let n = rows.len() as u64;
                if priced {
                    self.priced += n;
                } else {
                    self.out_of_range += n;
                }
            }
            Err(failure) => {
                for &row in rows {
                    self.file(row, resource, Err(failure.clone()));
                }
            }
        }
    }

    fn file(&mut self, row: i64, resource: &str, outcome: Outcome) {
        match outcome {
            Ok(charges) if charges.is_empty() => self.out_of_range += 1,
            Ok(charges) => {
                self.priced += 1;
                self.charges.extend(charges);
            }
            Err((reason, message)) => self.rejects.push(Reject {
                source: Arc::from(self.input.display().to_string()),
                row,
                request_id: Some(resource.to_string()).filter(|r| !r.is_empty()),
                reason,
                message,
            }),
        }
    }
}

pub(crate) type Failure = (Reason, String);

/// The most pieces one capacity record is cut into (about 11 years of hours): past
/// it the record is rejected rather than grown without bound.
pub const MAX_PIECES: usize = 100_000;
type Outcome = std::result::Result<Vec<Charge>, Failure>;

/// What pricing capacity needs to know about the run.
pub struct Biller<'a> {
    pub catalog: &'a PriceCatalog,
    /// `--from` (inclusive), `--to` (exclusive).
    pub window: (Option<i64>, Option<i64>),
    /// Pieces are also cut at multiples of this length (a UTC day or hour), so
    /// grouping by day or hour is exact; `None`: months only.
    pub cut: Option<i64>,
    pub hours: HourPolicy,
}

/// Who a charge is for and what it names, before it is priced.
pub(crate) struct Subject<'r> {
    pub source: Arc<str>,
    pub row: i64,
    pub resource: String,
    pub account_id: &'r str,
    pub model_id: String,
    pub requested_model_id: &'r str,
    pub region: &'r str,
    pub commitment: Option<Commitment>,
    pub cmu_version: Option<&'r str>,
}

impl Biller<'_> {
    /// `[lo, hi)` within the run's window, or `None` if nothing is left.
    fn clip(&self, lo: i64, hi: i64) -> Option<(i64, i64)> {
        let lo = self.window.0.map_or(lo, |f| lo.max(f));
        let hi = self.window.1.map_or(hi, |t| hi.min(t));
        (lo < hi).then_some((lo, hi))
    }

    /// The pieces of `[lo, hi)` inside the window; a record that would be cut into
    /// more than `MAX_PIECES` is rejected before they are made.
    fn pieces(&self, lo: i64, hi: i64) -> std::result::Result<Vec<(i64, i64)>, Failure> {
        let Some((lo, hi)) = self.clip(lo, hi) else {
            return Ok(Vec::new());
        };
        let cut = |t: i64| {
            let mut cut = span::next_month_start(t);
            if let Some(len) = self.cut {
                cut = cut.min((t.div_euclid(len) + 1) * len);
            }
            self.catalog.next_boundary(t).map_or(cut, |b| cut.min(b))
        };
        span::pieces(lo, hi, MAX_PIECES, cut).ok_or_else(|| {
            (
                Reason::BadInterval,
                format!(
                    "{} to {} would be cut into more than {MAX_PIECES} report pieces; narrow the run with --from/--to, or group by a longer period",
                    format_instant(lo),
                    format_instant(hi)
                ),
            )
        })
    }

    /// Units of length `unit` anchored at `anchor` (`count` of them), as one
    /// (piece start, units starting in the piece) per piece that has any.
    fn units(
        &self,
        anchor: i64,
        unit: i64,
        count: i64,
    ) -> std::result::Result<Vec<(i64, i64)>, Failure> {
        Ok(self
            .pieces(anchor, anchor.saturating_add(count.saturating_mul(unit)))?
            .into_iter()
            .map(|(lo, hi)| (lo, span::starts_in(anchor, unit, count, lo, hi)))
            .filter(|&(_, n)| n > 0)
            .collect())
    }

    /// Prices `numerator ÷ denominator` units of `usage` for `who`, at `at`; the
    /// pieces of one record share `sums`, so each month is rounded once.
    fn charge(
        &self,
        who: &Subject,
        usage: UsageType,
        at: i64,
        (numerator, denominator): (i128, i128),
        sums: &mut Prorater,
    ) -> std::result::Result<Charge, Failure> {
        let price = self.price(who, usage, at)?;
        let overflow = || {
            (
                Reason::Overflow,
                format!("{usage} of {} overflows DECIMAL(38, 12)", who.resource),
            )
        };
        let unit = self.catalog.rows[price].unit_price;
        let (quantity, cost) = sums
            .piece(span::month_start(at), unit, numerator, denominator)
            .ok_or_else(overflow)?;
        Ok(Charge {
            source: who.source.clone(),
            row: who.row,
            resource: who.resource.clone(),
            at,
            account_id: who.account_id.to_string(),
            model_id: who.model_id.clone(),
            requested_model_id: who.requested_model_id.to_string(),
            region: who.region.to_string(),
            usage_type: usage,
            quantity,
            price,
            cost,
        })
    }

    fn price(
        &self,
        who: &Subject,
        usage: UsageType,
        at: i64,
    ) -> std::result::Result<usize, Failure> {
        let mode = usage.capacity_mode().unwrap_or(Mode::OnDemand);
        let query = Query {
            model_id: &who.model_id,
            region: who.region,
            scope: Scope::InRegion,
            mode,
            tier: Tier::Standard,
            usage_type: usage,
            at,
            image: None,
            commitment: who.commitment,
            cmu_version: who.cmu_version,
        };
        self.catalog.find(&query).ok_or_else(|| {
            (
                Reason::NoPrice,
                format!(
                    "no price for {usage} of {} in {}{}{} at {}",
                    who.model_id,
                    who.region,
                    who.commitment
                        .map_or(String::new(), |c| format!(", commitment {c}")),
                    who.cmu_version
                        .map_or(String::new(), |v| format!(", CMU version {v}")),
                    format_instant(at)
                ),
            )
        })
    }

    /// Storage billed per calendar month, prorated by the seconds the resource
    /// existed in each month: `size × existed ÷ month length` months.
    fn storage(&self, who: &Subject, usage: UsageType, size: i128, lo: i64, hi: i64) -> Outcome {
        let mut sums = Prorater::default();
        self.pieces(lo, hi)?
            .into_iter()
            .map(|(a, b)| {
                let fraction = (size * i128::from(b - a), i128::from(span::month_length(a)));
                self.charge(who, usage, a, fraction, &mut sums)
            })
            .collect()
    }

    /// The end of an interval whose end is empty (still active): `--to`.
    fn open_end(&self, table: &RecordTable, row: i64, column: &str) -> Result<i64> {
        self.window.1.ok_or_else(|| {
            let at = Locus::Row {
                row: row.max(0) as u64,
                column: Some(column.to_string()),
            };
            Error::input_at(
                &table.path,
                at,
                "empty (still active); pass --to to bill it up to an instant",
            )
        })
    }
}

/// A required text value.
fn required<'r>(rec: &Record<'r>, column: &str) -> std::result::Result<&'r str, Failure> {
    Some(rec.get(column))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| (Reason::MissingValue, format!("{column} is empty")))
}

/// A required instant.
fn instant(rec: &Record, column: &str) -> std::result::Result<i64, Failure> {
    let v = required(rec, column)?;
    parse_instant(v).ok_or_else(|| {
        (
            Reason::BadTimestamp,
            format!("{column} \"{v}\" is not RFC 3339 or YYYY-MM-DD"),
        )
    })
}

/// An optional instant: `None` when empty.
fn optional_instant(rec: &Record, column: &str) -> std::result::Result<Option<i64>, Failure> {
    match rec.get(column) {
        "" => Ok(None),
        _ => instant(rec, column).map(Some),
    }
}

/// A positive whole number.
fn positive(rec: &Record, column: &str) -> std::result::Result<i128, Failure> {
    whole(rec, column, 1, "a positive integer")
}

/// A non-negative whole count.
fn count(rec: &Record, column: &str) -> std::result::Result<i128, Failure> {
    whole(rec, column, 0, "a non-negative integer")
}

/// A whole number of at least `min`, up to Int64 (`2`, or `2.0` as float exports
/// write it).
fn whole(rec: &Record, column: &str, min: i64, what: &str) -> std::result::Result<i128, Failure> {
    let v = required(rec, column)?;
    let digits = v.strip_suffix(".0").unwrap_or(v);
    digits
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= min)
        .map(i128::from)
        .ok_or_else(|| {
            (
                Reason::BadQuantity,
                format!("{column} \"{v}\" is not {what}"),
            )
        })
}

/// `end` after `start`, or a `bad_interval` reject.
fn ordered(start: i64, end: i64, what: &str) -> std::result::Result<(), Failure> {
    if end > start {
        return Ok(());
    }
    Err((
        Reason::BadInterval,
        format!(
            "{what} ends at {} but starts at {}",
            format_instant(end),
            format_instant(start)
        ),
    ))
}

/// A model id or ARN as the catalog knows it (foundation-model ARNs and ids).
fn base_model(raw: &str) -> std::result::Result<String, Failure> {
    resolve_model_id(raw).map(|m| m.model_id).map_err(|_| {
        (
            Reason::UnknownModel,
            format!("\"{raw}\" does not name a base model"),
        )
    })
}

#[cfg(test)]
mod tests;
