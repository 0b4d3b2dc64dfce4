//! Custom Model Import: copies billed in 5-minute windows anchored at each active
//! run's start, CMU storage per month, and the registry of imported models.

use super::span::{WINDOW, started_units};
use super::{
    Billed, Biller, Charge, Failure, Outcome, Subject, instant, optional_instant, ordered,
    positive, required,
};
use crate::catalog::terms::UsageType;
use crate::error::Result;
use crate::ingest::records::{Record, RecordTable};
use crate::vocab::money::Prorater;
use crate::vocab::reasons::Reason;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

pub const REGISTRY_COLUMNS: [&str; 5] = [
    "model_arn",
    "cmu_per_copy",
    "cmu_version",
    "architecture",
    "created",
];
pub const COPY_COLUMNS: [&str; 6] = [
    "model_arn",
    "copy_id",
    "region",
    "account_id",
    "active_start",
    "active_end",
];

/// An imported model, as its registry row describes it.
#[derive(Clone, Debug)]
pub struct ImportedModel {
    pub cmu_per_copy: i128,
    pub cmu_version: String,
    pub region: String,
    pub account_id: String,
    pub created: i64,
    pub deleted: Option<i64>,
    /// Where it was listed, for storage charges.
    source: Arc<str>,
    row: i64,
    /// No copy activity was given: bill copies from its invocations instead.
    pub from_invocations: bool,
}

#[cfg(test)]
impl ImportedModel {
    /// A model in us-east-1 that existed all along, its copies derived from invocations.
    pub fn for_tests(cmu_per_copy: i128, cmu_version: &str) -> ImportedModel {
        ImportedModel {
            cmu_per_copy,
            cmu_version: cmu_version.to_string(),
            region: "us-east-1".into(),
            account_id: "1".into(),
            created: 0,
            deleted: None,
            source: Arc::from("test"),
            row: 1,
            from_invocations: true,
        }
    }
}

/// Imported models by ARN.
pub type Registry = HashMap<String, ImportedModel>;

/// Reads the registries: the valid models, and a `Billed` per file with its
/// rejected rows (storage is billed later, by `bill_storage`).
pub fn load_registry(
    paths: &[impl AsRef<Path>],
    biller: &Biller,
) -> Result<(Registry, Vec<Billed>)> {
    let mut registry = Registry::new();
    let mut files = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let table = RecordTable::read(path, &REGISTRY_COLUMNS)?;
        let mut billed = Billed::new(&table, "imported_models");
        let source: Arc<str> = Arc::from(path.display().to_string());
        for rec in table.records() {
            if rec.get("deleted").is_empty() {
                biller.open_end(&table, rec.row, "deleted")?;
            }
            let arn = rec.get("model_arn");
            match registry_entry(&rec, &source, &registry) {
                Ok(model) => {
                    registry.insert(arn.to_string(), model);
                }
                Err(failure) => billed.record(&rec, arn, Err(failure)),
            }
        }
        files.push(billed);
    }
    Ok((registry, files))
}

fn registry_entry(
    rec: &Record,
    source: &Arc<str>,
    registry: &Registry,
) -> Result<ImportedModel, Failure> {
    let arn = required(rec, "model_arn")?;
    if registry.contains_key(arn) {
        return Err((Reason::Overlap, format!("{arn} is listed twice")));
    }
    let (region, account_id) = arn_region_account(arn).ok_or_else(|| {
        (
            Reason::UnknownModel,
            format!("\"{arn}\" is not an imported-model ARN (arn:aws:bedrock:<region>:<account>:imported-model/<id>)"),
        )
    })?;
    let created = instant(rec, "created")?;
    let deleted = optional_instant(rec, "deleted")?;
    if let Some(d) = deleted {
        ordered(created, d, &format!("imported model {arn}"))?;
    }
    Ok(ImportedModel {
        cmu_per_copy: positive(rec, "cmu_per_copy")?,
        cmu_version: crate::catalog::terms::cmu_version(required(rec, "cmu_version")?).to_string(),
        region,
        account_id,
        created,
        deleted,
        source: source.clone(),
        row: rec.row,
        from_invocations: true,
    })
}

/// `arn:<partition>:bedrock:<region>:<account>:imported-model/<id>` → region, account.
fn arn_region_account(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "bedrock", region, account, resource]
            if resource.starts_with("imported-model/") && !region.is_empty() =>
        {
            Some((region.to_string(), account.to_string()))
        }
        _ => None,
    }
}

/// CMU storage of every registered model, per month it existed in the period.
pub fn bill_storage(biller: &Biller, registry: &Registry, files: &mut [Billed]) {
    let mut models: Vec<(&String, &ImportedModel)> = registry.iter().collect();
    models.sort_by_key(|(_, m)| (m.source.clone(), m.row));
    for (arn, model) in models {
        let who = subject(
            arn,
            model,
            arn.clone(),
            &model.source,
            model.row,
            &model.region,
            &model.account_id,
        );
        let end = model.deleted.or(biller.window.1).unwrap_or(model.created);
        let outcome = biller.storage(
            &who,
            UsageType::CmuStorageMonths,
            model.cmu_per_copy,
            model.created,
            end,
        );
        if let Some(billed) = files
            .iter_mut()
            .find(|b| *b.input.display().to_string() == *model.source)
        {
            billed.file(model.row, arn, outcome);
        }
    }
}

fn subject<'m>(
    arn: &'m str,
    model: &'m ImportedModel,
    resource: String,
    source: &Arc<str>,
    row: i64,
    region: &'m str,
    account_id: &'m str,
) -> Subject<'m> {
    Subject {
        source: source.clone(),
        row,
        resource,
        account_id,
        model_id: arn.to_string(),
        requested_model_id: arn,
        region,
        commitment: None,
        cmu_version: Some(&model.cmu_version),
    }
}

/// A copy's valid activity record.
struct Activity<'r> {
    row: i64,
    start: i64,
    end: i64,
    region: &'r str,
    account_id: &'r str,
}

/// Bills copy activity: per copy, overlapping or touching intervals merge into runs,
/// each billed `ceil(duration / 5 min)` windows × 5 × CMU per copy CMU-minutes.
pub fn bill_copies(biller: &Biller, registry: &mut Registry, path: &Path) -> Result<Billed> {
    let table = RecordTable::read(path, &COPY_COLUMNS)?;
    let mut billed = Billed::new(&table, "copies");
    let source: Arc<str> = Arc::from(path.display().to_string());
    let mut copies: BTreeMap<(String, String), Vec<Activity>> = BTreeMap::new();
    for rec in table.records() {
        let end = match rec.get("active_end") {
            "" => Some(biller.open_end(&table, rec.row, "active_end")?),
            _ => None,
        };
        match activity(&rec, registry, end) {
            Ok(a) => {
                let key = (
                    rec.get("model_arn").to_string(),
                    rec.get("copy_id").to_string(),
                );
                copies.entry(key).or_default().push(a);
            }
            Err(failure) => billed.record(&rec, rec.get("model_arn"), Err(failure)),
        }
    }
    for ((arn, copy), mut activity) in copies {
        if let Some(model) = registry.get_mut(&arn) {
            model.from_invocations = false;
        }
        let model = &registry[&arn];
        activity.sort_by_key(|a| (a.start, a.row));
        for run in merge(&activity) {
            let first = &activity[run[0]];
            let end = run
                .iter()
                .map(|&i| activity[i].end)
                .max()
                .unwrap_or(first.end);
            let who = subject(
                &arn,
                model,
                format!("{arn}#{copy}"),
                &source,
                first.row,
                first.region,
                first.account_id,
            );
            let windows = started_units(first.start, end, WINDOW);
            let outcome = bill_windows(biller, &who, model.cmu_per_copy, first.start, windows);
            let rows: Vec<i64> = run.iter().map(|&i| activity[i].row).collect();
            billed.file_run(&rows, &arn, outcome);
        }
    }
    Ok(billed)
}

/// Indices of `activity` (sorted by start) grouped into runs: an interval that
/// overlaps or touches the run so far joins it.
fn merge(activity: &[Activity]) -> Vec<Vec<usize>> {
    let mut runs: Vec<(i64, Vec<usize>)> = Vec::new();
    for (i, a) in activity.iter().enumerate() {
        match runs.last_mut() {
            Some((end, run)) if a.start <= *end => {
                run.push(i);
                *end = (*end).max(a.end);
            }
            _ => runs.push((a.end, vec![i])),
        }
    }
    runs.into_iter().map(|(_, run)| run).collect()
}

fn activity<'r>(
    rec: &Record<'r>,
    registry: &Registry,
    open_end: Option<i64>,
) -> Result<Activity<'r>, Failure> {
    let arn = required(rec, "model_arn")?;
    if !registry.contains_key(arn) {
        return Err((
            Reason::UnknownModel,
            format!("imported model {arn} is not in the --imported-models registry"),
        ));
    }
    required(rec, "copy_id")?;
    let start = instant(rec, "active_start")?;
    let end = match open_end {
        Some(to) => to.max(start),
        None => {
            let end = instant(rec, "active_end")?;
            ordered(start, end, &format!("copy {} of {arn}", rec.get("copy_id")))?;
            end
        }
    };
    Ok(Activity {
        row: rec.row,
        start,
        end,
        region: required(rec, "region")?,
        account_id: rec.get("account_id"),
    })
}

/// `windows` 5-minute windows from `anchor`, as CMU-minutes: windows × 5 × CMU.
fn bill_windows(biller: &Biller, who: &Subject, cmu: i128, anchor: i64, windows: i64) -> Outcome {
    let mut sums = Prorater::default();
    biller
        .units(anchor, WINDOW, windows)?
        .into_iter()
        .map(|(at, n)| {
            let cmu_minutes = (i128::from(n) * 5 * cmu, 1);
            biller.charge(who, UsageType::CmuMinutes, at, cmu_minutes, &mut sums)
        })
        .collect()
}

pub use crate::pricing::rate::capacity::Invocations;

/// Copy windows derived from invocations: the first invocation anchors a window;
/// each following window holding an invocation is billed; a window with none ends
/// the run (the model scaled to zero) and the next invocation anchors a new run.
pub fn bill_derived(
    biller: &Biller,
    registry: &Registry,
    invocations: Invocations,
) -> (Vec<Charge>, Vec<super::Reject>) {
    let source: Arc<str> = Arc::from("(copy activity derived from invocations)");
    let mut keys: Vec<_> = invocations.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut charges, mut rejects) = (Vec::new(), Vec::new());
    for ((arn, region, account), mut times) in keys {
        let Some(model) = registry.get(&arn) else {
            continue;
        };
        times.sort_unstable();
        let who = subject(&arn, model, arn.clone(), &source, 0, &region, &account);
        for (anchor, windows) in derived_runs(&times) {
            match bill_windows(biller, &who, model.cmu_per_copy, anchor, windows) {
                Ok(c) => charges.extend(c),
                Err((reason, message)) => rejects.push(super::Reject {
                    source: source.clone(),
                    row: 0,
                    request_id: Some(arn.clone()),
                    reason,
                    message,
                }),
            }
        }
    }
    (charges, rejects)
}

/// (anchor, billed windows) of each run of sorted invocation instants.
pub fn derived_runs(times: &[i64]) -> Vec<(i64, i64)> {
    let mut runs = Vec::new();
    let Some(&first) = times.first() else {
        return runs;
    };
    let (mut anchor, mut windows) = (first, 1);
    for &t in &times[1..] {
        let window_end = anchor + windows * WINDOW;
        if t < window_end {
            continue;
        }
        if t < window_end + WINDOW {
            windows += 1;
        } else {
            runs.push((anchor, windows));
            (anchor, windows) = (t, 1);
        }
    }
    runs.push((anchor, windows));
    runs
}
