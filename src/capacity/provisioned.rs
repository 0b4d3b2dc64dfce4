//! Provisioned Throughput: model units × hours, priced by model, region and
//! commitment term.

use super::span::{MICROS_PER_HOUR, started_units};
use super::{
    Billed, Biller, Failure, HourPolicy, Outcome, Subject, base_model, instant, optional_instant,
    ordered, positive, required,
};
use crate::catalog::terms::{Commitment, UsageType};
use crate::error::Result;
use crate::ingest::records::{Record, RecordTable};
use crate::vocab::money::Prorater;
use crate::vocab::reasons::Reason;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub const COLUMNS: [&str; 8] = [
    "provisioned_model_id",
    "model_id",
    "region",
    "account_id",
    "model_units",
    "commitment",
    "start",
    "end",
];

/// Reads a Provisioned Throughput table (a missing column is fatal).
pub fn read_provisioned(path: &Path) -> Result<RecordTable> {
    RecordTable::read(path, &COLUMNS)
}

/// Bills every Provisioned Throughput record of `table`.
pub fn bill_provisioned(biller: &Biller, table: &RecordTable) -> Result<Billed> {
    let mut billed = Billed::new(table, "provisioned");
    let source: Arc<str> = Arc::from(table.path.display().to_string());
    // Accepted intervals per provisioned model, to refuse overlapping records.
    let mut accepted: HashMap<String, Vec<(i64, i64, i64)>> = HashMap::new();
    for rec in table.records() {
        let end = match rec.get("end") {
            "" => Some(biller.open_end(table, rec.row, "end")?),
            _ => None,
        };
        let outcome = bill_record(biller, &rec, &source, end, &mut accepted);
        billed.record(&rec, rec.get("provisioned_model_id"), outcome);
    }
    Ok(billed)
}

fn bill_record(
    biller: &Biller,
    rec: &Record,
    source: &Arc<str>,
    open_end: Option<i64>,
    accepted: &mut HashMap<String, Vec<(i64, i64, i64)>>,
) -> Outcome {
    let id = required(rec, "provisioned_model_id")?;
    let requested = required(rec, "model_id")?;
    let model_id = priced_model(rec, requested)?;
    let units = positive(rec, "model_units")?;
    let text = rec.get("commitment");
    let commitment = Commitment::parse(text).ok_or_else(|| {
        (
            Reason::BadCommitment,
            format!(
                "commitment \"{text}\" is not one of: {}",
                Commitment::expected()
            ),
        )
    })?;
    let start = instant(rec, "start")?;
    let end = match open_end {
        Some(to) => to,
        None => {
            let end = optional_instant(rec, "end")?.unwrap_or(start);
            ordered(start, end, &format!("provisioned model {id}"))?;
            end
        }
    };
    refuse_overlap(accepted, id, (start, end, rec.row))?;
    let who = Subject {
        source: source.clone(),
        row: rec.row,
        resource: id.to_string(),
        account_id: rec.get("account_id"),
        model_id,
        requested_model_id: requested,
        region: required(rec, "region")?,
        commitment: Some(commitment),
        cmu_version: None,
    };
    let mut sums = Prorater::default();
    match biller.hours {
        HourPolicy::Started => {
            let hours = started_units(start, end, MICROS_PER_HOUR);
            biller
                .units(start, MICROS_PER_HOUR, hours)?
                .into_iter()
                .map(|(at, n)| {
                    let mu_hours = (units * i128::from(n), 1);
                    biller.charge(&who, UsageType::MuHours, at, mu_hours, &mut sums)
                })
                .collect()
        }
        HourPolicy::Exact => biller
            .pieces(start, end)?
            .into_iter()
            .map(|(lo, hi)| {
                let mu_hours = (units * i128::from(hi - lo), i128::from(MICROS_PER_HOUR));
                biller.charge(&who, UsageType::MuHours, lo, mu_hours, &mut sums)
            })
            .collect(),
    }
}

/// A custom model is served by Provisioned Throughput only and priced as its base
/// model, which the record must name in `base_model_id`.
fn priced_model(rec: &Record, requested: &str) -> Result<String, Failure> {
    if !requested.contains(":custom-model/") {
        return base_model(requested);
    }
    match rec.get("base_model_id") {
        "" => Err((
            Reason::UnknownModel,
            format!("custom model {requested} needs base_model_id to be priced"),
        )),
        base => base_model(base),
    }
}

/// Two records of one provisioned model may not overlap in time: one is wrong, and
/// billing both would double-charge.
fn refuse_overlap(
    accepted: &mut HashMap<String, Vec<(i64, i64, i64)>>,
    id: &str,
    interval: (i64, i64, i64),
) -> Result<(), Failure> {
    let earlier = accepted.entry(id.to_string()).or_default();
    let (start, end, _) = interval;
    if let Some((_, _, row)) = earlier.iter().find(|(s, e, _)| *s < end && start < *e) {
        return Err((
            Reason::Overlap,
            format!("provisioned model {id} overlaps its record in row {row}"),
        ));
    }
    earlier.push(interval);
    Ok(())
}
