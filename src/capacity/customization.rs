//! Model customization: training tokens (tokens × epochs) or images seen (steps ×
//! batch size) when a job completes, and custom-model storage per month.

use super::{
    Billed, Biller, Outcome, Subject, base_model, count, instant, optional_instant, ordered,
    positive, required,
};
use crate::catalog::terms::UsageType;
use crate::error::Result;
use crate::ingest::records::{Record, RecordTable};
use crate::vocab::money::Prorater;
use crate::vocab::reasons::Reason;
use std::path::Path;
use std::sync::Arc;

/// Required columns; a row is a job (`job_id`, `kind`, counts, `completed_at`), a
/// custom model's storage (`custom_model_id`, `created`, `deleted`), or both.
pub const COLUMNS: [&str; 4] = ["job_id", "base_model_id", "region", "account_id"];

pub fn bill_customization(biller: &Biller, path: &Path) -> Result<Billed> {
    let table = RecordTable::read(path, &COLUMNS)?;
    let mut billed = Billed::new(&table, "customization");
    let source: Arc<str> = Arc::from(path.display().to_string());
    for rec in table.records() {
        let stored = !rec.get("custom_model_id").is_empty();
        let open_end = match stored && rec.get("deleted").is_empty() {
            true => Some(biller.open_end(&table, rec.row, "deleted")?),
            false => None,
        };
        let resource = match rec.get("job_id") {
            "" => rec.get("custom_model_id"),
            job => job,
        };
        billed.record(&rec, resource, bill_record(biller, &rec, &source, open_end));
    }
    Ok(billed)
}

fn bill_record(biller: &Biller, rec: &Record, source: &Arc<str>, open_end: Option<i64>) -> Outcome {
    let (job, custom) = (rec.get("job_id"), rec.get("custom_model_id"));
    if job.is_empty() && custom.is_empty() {
        return Err((
            Reason::MissingValue,
            "neither job_id nor custom_model_id is given".to_string(),
        ));
    }
    let requested = required(rec, "base_model_id")?;
    let who = |resource: &str| Subject {
        source: source.clone(),
        row: rec.row,
        resource: resource.to_string(),
        account_id: rec.get("account_id"),
        model_id: String::new(),
        requested_model_id: requested,
        region: rec.get("region"),
        commitment: None,
        cmu_version: None,
    };
    let model_id = base_model(requested)?;
    required(rec, "region")?;
    let mut charges = Vec::new();
    if !job.is_empty() {
        let who = Subject {
            model_id: model_id.clone(),
            ..who(job)
        };
        let (usage, quantity) = training(rec)?;
        let at = instant(rec, "completed_at")?;
        if biller.clip(at, at + 1).is_some() {
            let whole = (quantity, 1);
            charges.push(biller.charge(&who, usage, at, whole, &mut Prorater::default())?);
        }
    }
    if !custom.is_empty() {
        let who = Subject {
            model_id,
            ..who(custom)
        };
        let created = instant(rec, "created")?;
        let deleted = match open_end {
            Some(to) => to.max(created),
            None => {
                let d = optional_instant(rec, "deleted")?.unwrap_or(created);
                ordered(created, d, &format!("custom model {custom}"))?;
                d
            }
        };
        charges.extend(biller.storage(&who, UsageType::ModelStorageMonths, 1, created, deleted)?);
    }
    Ok(charges)
}

/// What a job is billed for: text jobs by tokens × epochs, image jobs by images seen.
fn training(rec: &Record) -> Result<(UsageType, i128), super::Failure> {
    match rec.get("kind") {
        "text" => Ok((
            UsageType::TrainingTokens,
            count(rec, "training_tokens")? * positive(rec, "epochs")?,
        )),
        "image" => Ok((
            UsageType::TrainingImages,
            positive(rec, "steps")? * positive(rec, "batch_size")?,
        )),
        other => Err((
            Reason::BadRecord,
            format!("kind \"{other}\" is not one of: text, image"),
        )),
    }
}
