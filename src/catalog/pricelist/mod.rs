//! `billrun prices import`: AWS Price List data → catalog rows, each carrying where it
//! came from (offer, version, SKU, rate code, AWS usage type, AWS model name).
//!
//! Every SKU becomes catalog rows or a line of the import report with its reason:
//! outside billrun's meters (guardrails, knowledge bases, custom-model inference,
//! long-context tiers, 1-hour cache writes...), or not understood (an unknown usage
//! type pattern, unit or model name). Nothing is guessed: prices are the exact
//! `pricePerUnit` strings; models are found through the alias data only.

mod read;

use super::aliases::{Aliases, Kind};
use std::collections::BTreeMap;

pub use read::{Offer, Price, Product};

/// A SKU not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    pub offer: String,
    pub sku: String,
    pub usage_type: String,
    pub model: String,
    pub reason: String,
    /// `true`: billrun did not understand it (a problem: exit 1); `false`: it is
    /// outside billrun's meters on purpose.
    pub unknown: bool,
}

/// What an import made.
#[derive(Debug, Default)]
pub struct Imported {
    /// Catalog rows, in `COLUMNS` order.
    pub rows: Vec<Vec<String>>,
    pub skipped: Vec<Skipped>,
}

use super::column::{CURRENCY, EFFECTIVE_FROM, EFFECTIVE_TO, OFFER_VERSION, PER, PRICE};

/// The columns that make a meter (`column::METER`).
fn meter_of(row: &[String]) -> Vec<String> {
    super::column::METER
        .iter()
        .map(|&i| row[i].clone())
        .collect()
}

/// Reads and maps every file; two SKUs that price one meter (in one offer version)
/// are an error naming both. With `history`, the files are versions of an offer (and
/// maybe its version index): each meter's prices become effective-dated rows, a
/// changed price closing the row before it; without, one meter twice is an error.
pub fn import(
    texts: &[(String, String)],
    aliases: &Aliases,
    history: bool,
) -> Result<Imported, String> {
    let mut out = Imported::default();
    let mut seen: BTreeMap<(Vec<String>, String), (String, String)> = BTreeMap::new();
    let mut begins: BTreeMap<String, String> = BTreeMap::new();
    for (name, text) in texts {
        let offer = read::read(text).map_err(|e| format!("{name}: {e}"))?;
        begins.extend(offer.versions.clone());
        for product in &offer.products {
            match map_product(&offer, product, aliases) {
                Ok(rows) => {
                    for row in rows {
                        let version = if history {
                            row[OFFER_VERSION].clone()
                        } else {
                            String::new()
                        };
                        let here = (name.clone(), product.sku.clone());
                        if let Some((file, sku)) = seen.insert((meter_of(&row), version), here) {
                            return Err(format!(
                                "{name}: SKUs {sku} ({file}) and {} both price {} {} {} in {}: the Price List is ambiguous here, import one of them{}",
                                product.sku,
                                row[0],
                                row[3],
                                row[2],
                                row[1],
                                if history {
                                    ""
                                } else {
                                    " (or pass --history for versions of one offer)"
                                }
                            ));
                        }
                        out.rows.push(row);
                    }
                }
                Err((reason, unknown)) => out.skipped.push(Skipped {
                    offer: offer.code.clone(),
                    sku: product.sku.clone(),
                    usage_type: attr(product, "usagetype").to_string(),
                    model: model_name(product).to_string(),
                    reason,
                    unknown,
                }),
            }
        }
    }
    if history {
        out.rows = effective_dated(std::mem::take(&mut out.rows), &begins)?;
        out.skipped.sort();
        out.skipped.dedup();
    }
    out.rows.sort();
    out.skipped
        .sort_by(|a, b| (&a.offer, &a.sku).cmp(&(&b.offer, &b.sku)));
    Ok(out)
}

/// One meter's prices over versions → rows that follow one another: a price starts at
/// its term's effective date, or at its version's begin date when that is later; an
/// unchanged price stays one row; a changed one ends the row before it.
fn effective_dated(
    rows: Vec<Vec<String>>,
    begins: &BTreeMap<String, String>,
) -> Result<Vec<Vec<String>>, String> {
    let mut by_meter: BTreeMap<Vec<String>, Vec<Vec<String>>> = BTreeMap::new();
    for mut row in rows {
        let begin = begins
            .get(&row[OFFER_VERSION])
            .map_or("", |b| b.get(..10).unwrap_or(b));
        if begin > row[EFFECTIVE_FROM].as_str() {
            row[EFFECTIVE_FROM] = begin.to_string();
        }
        by_meter.entry(meter_of(&row)).or_default().push(row);
    }
    let mut out = Vec::new();
    for (_, mut prices) in by_meter {
        prices.sort_by(|a, b| {
            (&a[EFFECTIVE_FROM], &a[OFFER_VERSION]).cmp(&(&b[EFFECTIVE_FROM], &b[OFFER_VERSION]))
        });
        let mut kept: Vec<Vec<String>> = Vec::new();
        for row in prices {
            // Per and currency as written, the price by value (`0.03` = `0.0300`).
            let same_price = |last: &Vec<String>| {
                last[PER] == row[PER]
                    && last[CURRENCY] == row[CURRENCY]
                    && same_decimal(&last[PRICE], &row[PRICE])
            };
            match kept.last_mut() {
                Some(last) if same_price(last) => {}
                Some(last) if last[EFFECTIVE_FROM] == row[EFFECTIVE_FROM] => {
                    return Err(format!(
                        "versions {} and {} price {} {} in {} differently from the same date {}",
                        last[OFFER_VERSION],
                        row[OFFER_VERSION],
                        row[0],
                        row[3],
                        row[1],
                        row[EFFECTIVE_FROM]
                    ));
                }
                Some(last) => {
                    last[EFFECTIVE_TO] = row[EFFECTIVE_FROM].clone();
                    kept.push(row);
                }
                None => kept.push(row),
            }
        }
        out.extend(kept);
    }
    Ok(out)
}

/// `0.0300000000` and `0.03` are one price.
fn same_decimal(a: &str, b: &str) -> bool {
    use std::str::FromStr;
    match (
        rust_decimal::Decimal::from_str(a),
        rust_decimal::Decimal::from_str(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn attr<'a>(p: &'a Product, key: &str) -> &'a str {
    p.attributes.get(key).map_or("", String::as_str)
}

/// The model name AWS gives the SKU: `model`, `titanModel`, or a Marketplace offer's
/// `servicename`.
fn model_name(p: &Product) -> &str {
    ["model", "titanmodel"]
        .iter()
        .map(|k| attr(p, k))
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| attr(p, "servicename"))
}

/// Why a SKU or usage type was not mapped, and whether it is unknown (`true`: a
/// pattern billrun does not know) or outside billrun's meters (`false`).
pub(crate) type Failure = (String, bool);

fn outside(reason: &str) -> Failure {
    (reason.to_string(), false)
}

fn unknown(reason: String) -> Failure {
    (reason, true)
}

/// A meter as the catalog names it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Meter {
    pub usage_type: &'static str,
    pub mode: &'static str,
    pub scope: &'static str,
    pub tier: &'static str,
    pub commitment: &'static str,
    pub image_quality: &'static str,
    pub image_max_pixels: String,
}

fn map_product(offer: &Offer, p: &Product, aliases: &Aliases) -> Result<Vec<Vec<String>>, Failure> {
    let usage_type = attr(p, "usagetype");
    let feature = attr(p, "feature");
    if usage_type.is_empty() {
        return Err(unknown("no usagetype attribute".into()));
    }
    let meter = match usage_type.split_once("MP:") {
        Some((_, rest)) => marketplace_meter(rest)?,
        None => bedrock_meter(usage_type, feature)?,
    };
    let region = attr(p, "regioncode");
    if region.is_empty() {
        return Err(unknown("no regionCode attribute".into()));
    }
    let name = model_name(p);
    let kind = match usage_type.contains("MP:")
        || attr(p, "model").is_empty() && attr(p, "titanmodel").is_empty()
    {
        true => Kind::ServiceName,
        false => Kind::PriceList,
    };
    let model = aliases.model(kind, name).ok_or_else(|| {
        unknown(format!(
            "no alias for the model name \"{name}\" (add one with --aliases: alias,kind,model_id,source)"
        ))
    })?;
    let mut rows = Vec::new();
    for price in &p.prices {
        rows.push(catalog_row(offer, p, &meter, model, region, price)?);
    }
    if rows.is_empty() {
        return Err(outside("no on-demand price (reserved or other terms only)"));
    }
    Ok(rows)
}

fn catalog_row(
    offer: &Offer,
    p: &Product,
    meter: &Meter,
    model: &str,
    region: &str,
    price: &Price,
) -> Result<Vec<String>, Failure> {
    if !matches!(price.begin_range.as_str(), "" | "0") {
        return Err(outside("a tiered price (beginRange above 0)"));
    }
    let per = per(&price.unit, &price.description, meter.usage_type)?;
    let effective = price.effective_date.get(..10).unwrap_or("").to_string();
    let usage_type = attr(p, "usagetype");
    Ok(vec![
        model.to_string(),
        region.to_string(),
        meter.mode.to_string(),
        meter.usage_type.to_string(),
        price.price.clone(),
        per.to_string(),
        price.currency.clone(),
        meter.scope.to_string(),
        meter.tier.to_string(),
        meter.commitment.to_string(),
        String::new(), // cmu_version
        meter.image_quality.to_string(),
        meter.image_max_pixels.clone(),
        effective,
        String::new(), // effective_to
        format!("AWS Price List {} {} {region}", offer.code, offer.version),
        offer.code.clone(),
        offer.version.clone(),
        p.sku.clone(),
        price.rate_code.clone(),
        usage_type.to_string(),
        model_name(p).to_string(),
    ])
}

/// Units per price: read from the unit, never from the amount in the description;
/// a Marketplace `Units` price says in its description whether it is per million.
fn per(unit: &str, description: &str, usage_type: &str) -> Result<u64, Failure> {
    let lower = description.to_ascii_lowercase();
    let per = match unit.trim().to_ascii_lowercase().as_str() {
        "1k tokens" => 1_000,
        "1m tokens" => 1_000_000,
        "units" if lower.contains("million") => 1_000_000,
        "units" if lower.contains("thousand") => 1_000,
        "hour" | "hours" | "hrs" if usage_type == "mu_hours" => 1,
        "image" | "images" if usage_type == "images" => 1,
        other => {
            return Err(unknown(format!(
                "unit \"{other}\" is not one billrun reads for {usage_type}"
            )));
        }
    };
    Ok(per)
}

/// `AmazonBedrock` / `AmazonBedrockService` usage types:
/// `USE1-<Model>-<meter>[-<variant>...]`, `USE1-<Model>-ProvisionedThroughput-<term>-ModelUnits`,
/// `USE1-<Model>-T2I-<size>-<Quality>`.
pub(crate) fn bedrock_meter(usage_type: &str, feature: &str) -> Result<Meter, Failure> {
    let lower = usage_type.to_ascii_lowercase();
    let rest = lower.split_once('-').map_or("", |(_, r)| r);
    if let Some(meter) = provisioned(rest)? {
        return Ok(meter);
    }
    if let Some(meter) = image(rest)? {
        return Ok(meter);
    }
    // `-cache-read-tokens` / `-cache-write-tokens`: the mantle endpoint's CUR names.
    const METERS: [(&str, &str); 7] = [
        ("-cache-read-input-token-count", "cache_read_tokens"),
        ("-cache-write-1h-input-token-count", "cache_write_1h"),
        ("-cache-write-input-token-count", "cache_write_tokens"),
        ("-cache-read-tokens", "cache_read_tokens"),
        ("-cache-write-tokens", "cache_write_tokens"),
        ("-input-tokens", "input_tokens"),
        ("-output-tokens", "output_tokens"),
    ];
    let found = METERS
        .iter()
        .filter_map(|(token, meter)| rest.rfind(token).map(|at| (at, token, *meter)))
        .max_by_key(|(at, token, _)| (*at + token.len(), token.len()));
    let Some((at, token, usage)) = found else {
        return Err(not_a_token_meter(usage_type, feature));
    };
    let variants: Vec<&str> = rest[at + token.len()..]
        .split('-')
        .filter(|w| !w.is_empty())
        .collect();
    let mut meter = token_meter(usage)?;
    if feature.eq_ignore_ascii_case("Batch Inference") {
        meter.mode = "batch";
    }
    apply_variants(&mut meter, &join_variants(&variants))?;
    Ok(meter)
}

/// Variant words, with the multi-word variants joined back (`cross region global` →
/// `cross-region-global`).
fn join_variants(words: &[&str]) -> Vec<String> {
    const JOINED: [&[&str]; 4] = [
        &["cross", "region", "global"],
        &["latency", "optimized"],
        &["custom", "model"],
        &["long", "context"],
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match JOINED.iter().find(|j| words[i..].starts_with(j)) {
            Some(j) => {
                out.push(j.join("-"));
                i += j.len();
            }
            None => {
                out.push(words[i].to_string());
                i += 1;
            }
        }
    }
    out
}

fn token_meter(usage: &str) -> Result<Meter, Failure> {
    if usage == "cache_write_1h" {
        return Err(outside(
            "1-hour cache writes: billrun's cache_write_tokens meter is the 5-minute write, and logs do not tell the two apart",
        ));
    }
    Ok(Meter {
        usage_type: match usage {
            "cache_read_tokens" => "cache_read_tokens",
            "cache_write_tokens" => "cache_write_tokens",
            "input_tokens" => "input_tokens",
            _ => "output_tokens",
        },
        mode: "on_demand",
        ..Meter::default()
    })
}

/// Scope, mode and tier words after the meter (both grammars, lower case).
fn apply_variants(meter: &mut Meter, variants: &[String]) -> Result<(), Failure> {
    for v in variants {
        match v.as_str() {
            "cross-region-global" | "global" => meter.scope = "global",
            "batch" => meter.mode = "batch",
            "flex" => meter.tier = "flex",
            "priority" => meter.tier = "priority",
            "latency-optimized" | "latencyoptimized" => meter.tier = "latency_optimized",
            "standard" => {}
            "custom-model" | "custom" => {
                return Err(outside(
                    "on-demand inference of a custom model (billrun bills custom models as Provisioned Throughput)",
                ));
            }
            "long-context" | "longcontext" | "lc" => {
                return Err(outside(
                    "a long-context tier (priced per request over 200K tokens)",
                ));
            }
            other => return Err(unknown(format!("unknown usage type variant \"{other}\""))),
        }
    }
    Ok(())
}

/// `<Model>-ProvisionedThroughput-<1month|6month|NoCommit>-ModelUnits`.
fn provisioned(rest: &str) -> Result<Option<Meter>, Failure> {
    let Some(at) = rest.find("-provisionedthroughput-") else {
        return Ok(None);
    };
    let term = rest[at + "-provisionedthroughput-".len()..]
        .trim_end_matches("-modelunits")
        .trim_end_matches("-modelunit");
    let commitment = match term {
        "1month" | "1-month" => "1-month",
        "6month" | "6-month" => "6-month",
        "nocommit" | "no-commit" | "nocommitment" | "hourly" => "none",
        other => {
            return Err(unknown(format!(
                "unknown Provisioned Throughput term \"{other}\""
            )));
        }
    };
    Ok(Some(Meter {
        usage_type: "mu_hours",
        mode: "provisioned",
        commitment,
        ..Meter::default()
    }))
}

/// `<Model>-T2I-<size>-<Standard|Premium>`: text-to-image at up to size × size pixels.
fn image(rest: &str) -> Result<Option<Meter>, Failure> {
    let Some(at) = rest.find("-t2i-") else {
        return Ok(None);
    };
    let parts: Vec<&str> = rest[at + 5..].split('-').collect();
    let (Some(size), Some(quality)) = (parts.first(), parts.get(1)) else {
        return Err(unknown(
            "an image usage type without size and quality".into(),
        ));
    };
    let size: u64 = size
        .parse()
        .map_err(|_| unknown(format!("image size \"{size}\" is not a number")))?;
    let quality = match *quality {
        "standard" => "standard",
        "premium" => "premium",
        other => return Err(unknown(format!("unknown image quality \"{other}\""))),
    };
    Ok(Some(Meter {
        usage_type: "images",
        mode: "on_demand",
        image_quality: quality,
        image_max_pixels: (size * size).to_string(),
        ..Meter::default()
    }))
}

/// Bedrock SKUs that are not per-request model inference.
fn not_a_token_meter(usage_type: &str, feature: &str) -> Failure {
    const OUTSIDE: [&str; 12] = [
        "guardrail",
        "knowledgebase",
        "knowledge-base",
        "agent",
        "dataautomation",
        "data-automation",
        "flow",
        "evaluation",
        "rerank",
        "customization",
        "storage",
        "reserved",
    ];
    let lower = format!("{usage_type} {feature}").to_ascii_lowercase();
    match OUTSIDE.iter().find(|w| lower.contains(*w)) {
        Some(w) => outside(&format!("outside billrun's meters ({w})")),
        None => unknown(format!("unknown usage type pattern \"{usage_type}\"")),
    }
}

/// Marketplace (`AmazonBedrockFoundationModels`) usage types after `MP:`:
/// `USE1_InputTokenCount_Global-Units` (camel) or `USE1_input_tokens_global_standard-Units`
/// (snake).
pub(crate) fn marketplace_meter(rest: &str) -> Result<Meter, Failure> {
    let body = rest.split_once('_').map_or(rest, |(_, b)| b);
    let body = body.trim_end_matches("-Units").trim_end_matches("-units");
    let words = words(body);
    let has = |w: &str| words.iter().any(|x| x == w);
    let usage = if has("cache") && has("read") {
        "cache_read_tokens"
    } else if has("cache") && has("write") && (has("1h") || has("1hour")) {
        "cache_write_1h"
    } else if has("cache") && has("write") {
        "cache_write_tokens"
    } else if has("input") {
        "input_tokens"
    } else if has("output") {
        "output_tokens"
    } else {
        return Err(unknown(format!(
            "unknown Marketplace usage type \"{rest}\""
        )));
    };
    let mut meter = token_meter(usage)?;
    let meter_words = [
        "cache", "read", "write", "1h", "1hour", "5m", "input", "output", "token", "tokens",
        "count",
    ];
    let variants: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| !meter_words.contains(w))
        .collect();
    apply_variants(&mut meter, &join_variants(&variants))?;
    Ok(meter)
}

/// `CacheWrite1hInputTokenCount_Global` → cache, write, 1h, input, token, count, global;
/// `input_tokens_global_standard` → input, tokens, global, standard. A word starts at
/// an upper-case letter after a lower-case one or a digit, and at a digit after a letter.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c == '_' || c == '-' {
            out.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            continue;
        }
        let last = current.chars().last();
        let starts = match last {
            Some(l) if c.is_ascii_uppercase() => l.is_ascii_lowercase() || l.is_ascii_digit(),
            Some(l) if c.is_ascii_digit() => l.is_ascii_alphabetic(),
            _ => false,
        };
        if starts {
            out.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    out.extend((!current.is_empty()).then_some(current));
    out
}

#[cfg(test)]
mod tests;
