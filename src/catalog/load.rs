//! Reading a catalog CSV into validated rows; every problem is reported as `file:line`.

use super::terms::{Commitment, ImageQuality, Mode, Tier, UsageType};
use super::{CatalogRow, Window};
use crate::resolve::Scope;
use crate::time::parse_instant;
use crate::vocab::money::Money;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::ops::Not;
use std::str::FromStr;

/// The catalog's columns, in the order `billrun prices` prints them: the price, then
/// where it came from (the last six are filled by `billrun prices import`).
pub const COLUMNS: [&str; 22] = [
    "model_id",
    "region",
    "mode",
    "usage_type",
    "price",
    "per",
    "currency",
    "scope",
    "service_tier",
    "commitment",
    "cmu_version",
    "image_quality",
    "image_max_pixels",
    "effective_from",
    "effective_to",
    "source",
    "offer",
    "offer_version",
    "sku",
    "rate_code",
    "aws_usage_type",
    "aws_model",
];
const REQUIRED: [&str; 6] = ["model_id", "region", "mode", "usage_type", "price", "per"];

/// Positions in `COLUMNS`, and so in `CatalogRow::raw` and imported rows.
pub mod column {
    pub const MODEL_ID: usize = 0;
    pub const REGION: usize = 1;
    pub const MODE: usize = 2;
    pub const USAGE_TYPE: usize = 3;
    pub const PRICE: usize = 4;
    pub const PER: usize = 5;
    pub const CURRENCY: usize = 6;
    pub const SCOPE: usize = 7;
    pub const SERVICE_TIER: usize = 8;
    pub const COMMITMENT: usize = 9;
    pub const CMU_VERSION: usize = 10;
    pub const IMAGE_QUALITY: usize = 11;
    pub const IMAGE_MAX_PIXELS: usize = 12;
    pub const EFFECTIVE_FROM: usize = 13;
    pub const EFFECTIVE_TO: usize = 14;
    pub const SOURCE: usize = 15;
    pub const OFFER: usize = 16;
    pub const OFFER_VERSION: usize = 17;
    pub const SKU: usize = 18;
    pub const RATE_CODE: usize = 19;
    /// The columns that make a meter: two rows equal here compete for one price
    /// (everything but the price itself, the window and where it came from).
    pub const METER: [usize; 10] = [
        MODEL_ID,
        REGION,
        MODE,
        USAGE_TYPE,
        SCOPE,
        SERVICE_TIER,
        COMMITMENT,
        CMU_VERSION,
        IMAGE_QUALITY,
        IMAGE_MAX_PIXELS,
    ];
}

/// Parses catalog text: the rows that are valid, and every problem found, each
/// `name:line: ...` (a header problem leaves no rows).
pub fn parse_rows(name: &str, text: &str) -> (Vec<CatalogRow>, Vec<String>) {
    match parse_checked(name, text) {
        Ok(parsed) => parsed,
        Err(problems) => (Vec::new(), problems),
    }
}

fn parse_checked(name: &str, text: &str) -> Result<(Vec<CatalogRow>, Vec<String>), Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| vec![format!("{name}:1: unreadable header: {e}")])?;
    let index = column_index(name, header)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let field = |c: &str| {
                    index
                        .get(c)
                        .and_then(|&i| record.get(i))
                        .unwrap_or("")
                        .trim()
                };
                let raw: Vec<String> = COLUMNS.iter().map(|c| field(c).to_string()).collect();
                match parse_row(line, raw) {
                    Ok(row) => rows.push(row),
                    Err(msg) => problems.push(format!("{name}:{line}: {msg}")),
                }
            }
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    Ok((rows, problems))
}

fn column_index(
    name: &str,
    header: &csv::StringRecord,
) -> Result<HashMap<String, usize>, Vec<String>> {
    let index: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_string(), i))
        .collect();
    let found = crate::error::clip(&header.iter().collect::<Vec<_>>().join(", "));
    let mut problems: Vec<String> = REQUIRED
        .iter()
        .filter(|c| !index.contains_key(**c))
        .map(|c| format!("{name}:1: missing required column \"{c}\" (found: {found})"))
        .collect();
    let mut unknown: Vec<(&String, &usize)> = index
        .iter()
        .filter(|(h, _)| !COLUMNS.contains(&h.as_str()))
        .collect();
    unknown.sort_by_key(|(_, i)| **i);
    for (h, _) in unknown {
        let hint = nearest_column(h).map_or(String::new(), |c| format!("; did you mean \"{c}\"?"));
        problems.push(format!(
            "{name}:1: unknown column \"{}\" (columns: {}){hint}",
            crate::error::clip(h),
            COLUMNS.join(", ")
        ));
    }
    if header.len() != index.len() {
        problems.push(format!(
            "{name}:1: a column is named twice (found: {found})"
        ));
    }
    match problems.is_empty() {
        true => Ok(index),
        false => Err(problems),
    }
}

/// The catalog column a misspelled header most likely means: within 3 edits.
fn nearest_column(header: &str) -> Option<&'static str> {
    let header = header.to_ascii_lowercase();
    COLUMNS
        .iter()
        .map(|c| (edit_distance(&header, c), *c))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// ISO 4217: three upper-case ASCII letters.
fn currency(value: &str) -> Result<String, String> {
    match value {
        "" => Ok("USD".to_string()),
        v if v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()) => Ok(v.to_string()),
        v => Err(format!(
            "currency \"{}\" is not an ISO 4217 code (three upper-case letters, such as USD)",
            crate::error::clip(v)
        )),
    }
}

fn parse_row(line: usize, raw: Vec<String>) -> Result<CatalogRow, String> {
    let f = |i: usize| raw[i].as_str();
    let usage_type = UsageType::parse(f(3)).ok_or_else(|| {
        format!(
            "unknown usage_type \"{}\" (expected one of: {})",
            f(3),
            UsageType::expected()
        )
    })?;
    let mode = Mode::parse(f(2)).ok_or_else(|| {
        format!(
            "unknown mode \"{}\" (expected one of: {})",
            f(2),
            Mode::expected()
        )
    })?;
    let price = Decimal::from_str(f(4))
        .ok()
        .filter(|p| !p.is_sign_negative() && !f(4).contains(['e', 'E']))
        .ok_or_else(|| {
            format!(
                "price \"{}\" is not a non-negative decimal (use '.', no exponent)",
                f(4)
            )
        })?;
    let per: u64 = f(5)
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("per \"{}\" is not a positive integer", f(5)))?;
    let unit_price = Money::unit_price(price, per).ok_or_else(|| {
        format!("price {price} per {per} needs more than 12 decimal places per unit")
    })?;
    let image_max_pixels = optional(
        f(12),
        |s| s.parse::<u64>().ok().filter(|p| *p > 0),
        "image_max_pixels",
    )?;
    let image_quality = optional(f(11), ImageQuality::parse, "image_quality")?;
    if usage_type != UsageType::Images && (image_quality.is_some() || image_max_pixels.is_some()) {
        return Err(format!(
            "image_quality and image_max_pixels apply only to usage_type images, not {usage_type}"
        ));
    }
    let (commitment, cmu_version) = capacity_terms(usage_type, mode, f(9), f(10))?;
    let window = Window {
        from: optional(f(13), parse_instant, "effective_from")?,
        to: optional(f(14), parse_instant, "effective_to")?,
    };
    if let (Some(from), Some(to)) = (window.from, window.to)
        && to <= from
    {
        return Err(format!(
            "effective_to {} is not after effective_from {}",
            f(14),
            f(13)
        ));
    }
    Ok(CatalogRow {
        line,
        model_id: wildcard(f(0), "model_id")?,
        region: wildcard(f(1), "region")?,
        mode,
        usage_type,
        unit_price,
        currency: currency(f(6))?,
        scope: optional(f(7), Scope::parse, "scope")?,
        tier: Tier::parse_or_standard(f(8)).ok_or_else(|| {
            format!(
                "unknown service_tier \"{}\" (expected one of: {})",
                f(8),
                Tier::expected()
            )
        })?,
        commitment,
        cmu_version,
        image_quality,
        image_max_pixels,
        window,
        raw,
    })
}

/// A capacity meter is billed under one mode; `mu_hours` needs a commitment term, and
/// only the Custom Model Import meters may name a CMU version.
fn capacity_terms(
    usage_type: UsageType,
    mode: Mode,
    commitment: &str,
    cmu_version: &str,
) -> Result<(Option<Commitment>, Option<String>), String> {
    let expected_mode = usage_type.capacity_mode();
    if let Some(m) = expected_mode.filter(|m| *m != mode) {
        return Err(format!(
            "usage_type {usage_type} needs mode {m}, not {mode}"
        ));
    }
    if expected_mode.is_none() && matches!(mode, Mode::OnDemand | Mode::Batch).not() {
        return Err(format!(
            "mode {mode} does not apply to usage_type {usage_type}"
        ));
    }
    let commitment = match (usage_type, commitment) {
        (UsageType::MuHours, c) => Some(Commitment::parse(c).ok_or_else(|| {
            format!(
                "usage_type mu_hours needs a commitment (one of: {}), found \"{c}\"",
                Commitment::expected()
            )
        })?),
        (_, "") => None,
        (_, c) => {
            return Err(format!(
                "commitment \"{c}\" applies only to usage_type mu_hours, not {usage_type}"
            ));
        }
    };
    let cmu_meter = matches!(
        usage_type,
        UsageType::CmuMinutes | UsageType::CmuStorageMonths
    );
    if !cmu_meter && !cmu_version.is_empty() {
        return Err(format!(
            "cmu_version applies only to usage_types cmu_minutes and cmu_storage_months, not {usage_type}"
        ));
    }
    Ok((
        commitment,
        Some(super::terms::cmu_version(cmu_version).to_string()).filter(|v| !v.is_empty()),
    ))
}

/// `*` is any; empty is a mistake here (say `*` to mean any).
fn wildcard(value: &str, column: &str) -> Result<Option<String>, String> {
    match value {
        "*" => Ok(None),
        "" => Err(format!("{column} is empty (use * for any)")),
        v => Ok(Some(v.to_string())),
    }
}

fn optional<T>(
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    column: &str,
) -> Result<Option<T>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    parse(value)
        .map(Some)
        .ok_or_else(|| format!("{column} \"{value}\" is not valid"))
}
