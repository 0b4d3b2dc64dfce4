//! A bill row → the bucket it belongs to, in billrun's vocabulary: (day, account,
//! region, model, meter) for usage, (day, account, line-item type, usage type) for
//! credits, refunds, taxes, discounts and fees; or why it cannot be placed.

use super::bill::{BillRow, Dialect, Field};
use crate::catalog::aliases::{Aliases, Kind};
use crate::catalog::pricelist::{Meter, bedrock_meter, marketplace_meter};
use crate::vocab::money::{Money, SCALE};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Where a bill row and a line item meet.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub day: String,
    pub account: String,
    /// `Usage` for every usage row (discounted and covered usage too); else the bill's
    /// line-item type (`Credit`, `Tax`, ...).
    pub line_item_type: String,
    pub region: String,
    pub model: String,
    pub usage_type: String,
    pub mode: String,
    pub tier: String,
    /// `regional` (in-region and geo profiles: one price) or `global`.
    pub scope: String,
    pub currency: String,
}

/// Amounts at scale 12 (unscaled i128), exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amounts {
    pub quantity: i128,
    pub list: i128,
    pub unblended: i128,
    pub net: i128,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Placed {
    Usage(Key, Amounts, ListFrom),
    /// Not usage: kept in its own bucket, never compared with billrun's usage.
    Adjustment(Key, Amounts),
    /// Not a Bedrock row.
    OtherService,
    Unmapped(String),
}

/// Where a usage row's list cost came from.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum ListFrom {
    PublicOnDemand,
    /// The row has no public on-demand cost: its unblended cost stands in.
    Unblended,
}

/// A decimal text at scale 12, exactly, as `Money` holds it; `None` if it is not a
/// plain (or scientific) decimal, has more than 12 significant places, or does not fit
/// DECIMAL(38, 12).
pub fn unscaled(text: &str) -> Option<i128> {
    let text = text.trim();
    let d = Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()?;
    // `1.500000000000000` is 1.5: trailing zeros past 12 places are not precision.
    let d = if d.scale() > SCALE { d.normalize() } else { d };
    Money::from_decimal(d).map(Money::unscaled)
}

/// `a + b` at scale 12 within DECIMAL(38, 12): `Money`'s bounded sum, for the
/// quantities and costs reconcile adds.
pub fn exact_sum(a: i128, b: i128) -> Option<i128> {
    Money::from_unscaled(a)
        .checked_add(Money::from_unscaled(b))
        .map(Money::unscaled)
}

/// Usage line-item types (CUR); FOCUS usage is `ChargeCategory` `Usage` that is not
/// a correction.
fn is_usage(bill: &BillRow, dialect: Dialect) -> bool {
    let t = bill.get(Field::ItemType);
    match dialect {
        Dialect::Focus => {
            t.eq_ignore_ascii_case("Usage")
                && !bill
                    .get(Field::ChargeClass)
                    .eq_ignore_ascii_case("Correction")
        }
        _ => matches!(t, "Usage" | "DiscountedUsage" | "SavingsPlanCoveredUsage"),
    }
}

fn is_bedrock(bill: &BillRow) -> bool {
    let code = bill.get(Field::ProductCode);
    let name = bill.attribute("product_name", Field::ProductName);
    let service = bill.attribute("servicename", Field::ServiceName);
    matches!(
        code,
        "AmazonBedrock" | "AmazonBedrockService" | "AmazonBedrockFoundationModels"
    ) || [name, service]
        .iter()
        .any(|n| *n == "Amazon Bedrock" || n.ends_with("(Amazon Bedrock Edition)"))
}

/// AWS's billing region prefixes of usage types.
const REGION_PREFIXES: [(&str, &str); 31] = [
    ("USE1", "us-east-1"),
    ("USE2", "us-east-2"),
    ("USW1", "us-west-1"),
    ("USW2", "us-west-2"),
    ("UGW1", "us-gov-west-1"),
    ("UGE1", "us-gov-east-1"),
    ("CAN1", "ca-central-1"),
    ("CAW1", "ca-west-1"),
    ("SAE1", "sa-east-1"),
    ("EUC1", "eu-central-1"),
    ("EUC2", "eu-central-2"),
    ("EUW1", "eu-west-1"),
    ("EUW2", "eu-west-2"),
    ("EUW3", "eu-west-3"),
    ("EUN1", "eu-north-1"),
    ("EUS1", "eu-south-1"),
    ("EUS2", "eu-south-2"),
    ("APN1", "ap-northeast-1"),
    ("APN2", "ap-northeast-2"),
    ("APN3", "ap-northeast-3"),
    ("APS1", "ap-southeast-1"),
    ("APS2", "ap-southeast-2"),
    ("APS3", "ap-south-1"),
    ("APS4", "ap-southeast-3"),
    ("APS5", "ap-south-2"),
    ("APS6", "ap-southeast-4"),
    ("APE1", "ap-east-1"),
    ("MES1", "me-south-1"),
    ("MEC1", "me-central-1"),
    ("AFS1", "af-south-1"),
    ("ILC1", "il-central-1"),
];

fn region_of_prefix(usage_type: &str) -> Option<&'static str> {
    let prefix = usage_type.split(['-', ':']).next()?;
    REGION_PREFIXES
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(prefix))
        .map(|(_, r)| *r)
}

/// Tokens (or units) per one of the bill's `pricing_unit`; `None` when unknown.
fn per_unit(unit: &str, usage_type: &str) -> Option<i128> {
    let u = unit.trim().to_ascii_lowercase();
    let tokens = usage_type.ends_with("tokens");
    Some(match u.as_str() {
        "tokens" | "token" | "units" | "unit" | "count" if tokens || u.starts_with("unit") => 1,
        "1k tokens" | "k tokens" | "thousand tokens" | "1000 tokens" | "1,000 tokens" if tokens => {
            1_000
        }
        "1m tokens" | "m tokens" | "million tokens" | "1000000 tokens" if tokens => 1_000_000,
        "hours" | "hour" | "hrs" | "hr" | "model unit-hours" if usage_type == "mu_hours" => 1,
        "images" | "image" if usage_type == "images" => 1,
        _ => return None,
    })
}

/// The model of a usage row: AWS's product `model` attribute, the Marketplace product
/// name, or the usage type's model slug, through the alias data.
fn model_of(bill: &BillRow, usage_type: &str, aliases: &Aliases) -> Result<String, String> {
    let names = [
        (
            Kind::PriceList,
            bill.product.get("model").map_or("", |s| s.trim()),
        ),
        (
            Kind::ServiceName,
            bill.attribute("servicename", Field::ServiceName),
        ),
        (
            Kind::ServiceName,
            bill.attribute("product_name", Field::ProductName),
        ),
    ];
    for (kind, name) in names {
        if name.is_empty() {
            continue;
        }
        if let Some(id) = aliases.model(kind, name) {
            return Ok(id.to_string());
        }
    }
    let slug = slug_of(usage_type);
    if let Some(slug) = slug.filter(|s| !s.is_empty()) {
        if let Some(id) = aliases.model(Kind::Cur, slug) {
            return Ok(id.to_string());
        }
        let id = aliases.canonical(slug);
        if id != slug || slug.contains('.') {
            return Ok(id.to_string());
        }
    }
    let mut named: Vec<String> = Vec::new();
    for (_, n) in names.iter().filter(|(_, n)| !n.is_empty()) {
        let quoted = format!("\"{n}\"");
        if !named.contains(&quoted) {
            named.push(quoted);
        }
    }
    named.extend(slug.map(|s| format!("\"{s}\" (usage type)")));
    Err(format!(
        "no alias for the model {} (add one with --aliases: alias,kind,model_id,source)",
        if named.is_empty() {
            "(none named)".to_string()
        } else {
            named.join(", ")
        }
    ))
}

/// `USE1-<slug>-<meter>...` → the slug (a mantle endpoint's `-mantle` dropped).
fn slug_of(usage_type: &str) -> Option<&str> {
    if usage_type.contains("MP:") {
        return None;
    }
    let (_, rest) = usage_type.split_once('-')?;
    let lower = rest.to_ascii_lowercase();
    const CUTS: [&str; 7] = [
        "-cache-read-",
        "-cache-write-",
        "-input-tokens",
        "-output-tokens",
        "-provisionedthroughput-",
        "-t2i-",
        "-mantle-",
    ];
    let at = CUTS.iter().filter_map(|c| lower.find(c)).min()?;
    Some(&rest[..at])
}

fn normal_scope(scope: &str) -> &'static str {
    match scope {
        "global" => "global",
        _ => "regional",
    }
}

fn normal_tier(tier: &str) -> String {
    match tier {
        "" => "standard".into(),
        t => t.to_string(),
    }
}

/// The bucket key of a billrun line item.
pub fn line_item_key(
    timestamp_micros: i64,
    account: &str,
    region: &str,
    model: &str,
    meter: (&str, &str, &str, &str),
    currency: &str,
) -> Key {
    let (usage_type, mode, tier, scope) = meter;
    Key {
        day: crate::time::format_day(timestamp_micros),
        account: account.to_string(),
        line_item_type: "Usage".into(),
        region: region.to_string(),
        model: model.to_string(),
        usage_type: usage_type.to_string(),
        mode: mode.to_string(),
        tier: normal_tier(tier),
        scope: normal_scope(scope).into(),
        currency: currency.to_string(),
    }
}

/// What a bill row's identity (its product, usage type, unit and line-item type)
/// says, whatever its day and amounts: worked out once per identity.
#[derive(Clone, Debug)]
enum Resolved {
    Other,
    Adjustment,
    Usage {
        region: String,
        model: String,
        usage_type: &'static str,
        mode: &'static str,
        tier: String,
        scope: &'static str,
        per: i128,
    },
    Unmapped(String),
}

fn resolve(bill: &BillRow, dialect: Dialect, aliases: &Aliases) -> Resolved {
    if !is_bedrock(bill) {
        return Resolved::Other;
    }
    if !is_usage(bill, dialect) {
        return Resolved::Adjustment;
    }
    let usage_type = bill.get(Field::UsageType);
    // `Batch Inference` marks batch usage (as in the Price List).
    let feature = bill.product.get("feature").map_or("", |f| f.trim());
    let meter: Result<Meter, (String, bool)> = match usage_type.split_once("MP:") {
        Some((_, rest)) => marketplace_meter(rest),
        None => bedrock_meter(usage_type, feature),
    };
    let meter = match meter {
        Ok(m) => m,
        Err((why, _)) => return Resolved::Unmapped(format!("usage type: {why}")),
    };
    let region = match bill.attribute("region", Field::Region) {
        "" => region_of_prefix(usage_type),
        r => Some(r),
    };
    let Some(region) = region else {
        return Resolved::Unmapped(format!(
            "no region: no product region and no known prefix on \"{usage_type}\""
        ));
    };
    let model = match model_of(bill, usage_type, aliases) {
        Ok(m) => m,
        Err(e) => return Resolved::Unmapped(e),
    };
    let unit = bill.get(Field::Unit);
    let Some(per) = per_unit(unit, meter.usage_type) else {
        return Resolved::Unmapped(format!(
            "pricing unit \"{unit}\" is not one billrun reads for {}",
            meter.usage_type
        ));
    };
    Resolved::Usage {
        region: region.to_string(),
        model,
        usage_type: meter.usage_type,
        mode: meter.mode,
        tier: normal_tier(meter.tier),
        scope: normal_scope(meter.scope),
        per,
    }
}

/// Places bill rows, remembering what each identity and each day text resolved to
/// (a bill repeats a few thousand identities and hours over millions of rows).
pub struct Placer<'a> {
    aliases: &'a Aliases,
    resolved: std::collections::HashMap<String, Resolved>,
    days: std::collections::HashMap<String, Option<String>>,
}

/// Memo entries kept before a memo starts over (bounds memory on odd bills).
const MEMO: usize = 100_000;

impl<'a> Placer<'a> {
    pub fn new(aliases: &'a Aliases) -> Placer<'a> {
        Placer {
            aliases,
            resolved: Default::default(),
            days: Default::default(),
        }
    }

    fn resolved(&mut self, bill: &BillRow, dialect: Dialect) -> Resolved {
        let attr = |k: &str, f: Field| bill.attribute(k, f);
        let product = |k: &str| bill.product.get(k).map_or("", |v| v.trim());
        let identity = [
            dialect.name(),
            bill.get(Field::ItemType),
            bill.get(Field::ChargeClass),
            bill.get(Field::ProductCode),
            bill.get(Field::UsageType),
            attr("product_name", Field::ProductName),
            attr("servicename", Field::ServiceName),
            product("model"),
            product("feature"),
            attr("region", Field::Region),
            bill.get(Field::Unit),
        ]
        .join("\u{1f}");
        if let Some(r) = self.resolved.get(&identity) {
            return r.clone();
        }
        let r = resolve(bill, dialect, self.aliases);
        if self.resolved.len() >= MEMO {
            self.resolved.clear();
        }
        self.resolved.insert(identity, r.clone());
        r
    }

    fn day(&mut self, text: &str) -> Option<String> {
        if let Some(day) = self.days.get(text) {
            return day.clone();
        }
        let day = crate::time::parse_instant(text).map(crate::time::format_day);
        if self.days.len() >= MEMO {
            self.days.clear();
        }
        self.days.insert(text.to_string(), day.clone());
        day
    }

    /// Places one bill row.
    pub fn place(&mut self, bill: &BillRow, dialect: Dialect) -> Placed {
        let resolved = self.resolved(bill, dialect);
        if let Resolved::Other = resolved {
            return Placed::OtherService;
        }
        let Some(day) = self.day(bill.get(Field::Day)) else {
            return Placed::Unmapped(format!(
                "usage start \"{}\" is not a date or time",
                crate::error::clip(bill.get(Field::Day))
            ));
        };
        let money = |f: Field| -> Result<i128, String> {
            let text = bill.get(f);
            if text.is_empty() {
                return Ok(0);
            }
            unscaled(text).ok_or_else(|| {
                format!(
                    "{} \"{}\" is not a decimal of at most 12 places",
                    dialect.column(f).unwrap_or("?"),
                    crate::error::clip(text)
                )
            })
        };
        let (unblended, net) = match (money(Field::Unblended), money(Field::Net)) {
            (Ok(u), Ok(n)) => (u, n),
            (Err(e), _) | (_, Err(e)) => return Placed::Unmapped(e),
        };
        let currency = match bill.get(Field::Currency) {
            "" => "USD".to_string(),
            c => c.to_string(),
        };
        let mut key = Key {
            day,
            account: bill.get(Field::Account).to_string(),
            currency,
            ..Key::default()
        };
        let (region, model, usage_type, mode, tier, scope, per) = match resolved {
            Resolved::Other => return Placed::OtherService,
            Resolved::Unmapped(why) => return Placed::Unmapped(why),
            Resolved::Adjustment => {
                key.line_item_type = match bill.get(Field::ChargeClass) {
                    "" => bill.get(Field::ItemType).to_string(),
                    class => format!("{} {class}", bill.get(Field::ItemType)),
                };
                key.usage_type = bill.get(Field::UsageType).to_string();
                let amounts = Amounts {
                    unblended,
                    net,
                    ..Amounts::default()
                };
                return Placed::Adjustment(key, amounts);
            }
            Resolved::Usage {
                region,
                model,
                usage_type,
                mode,
                tier,
                scope,
                per,
            } => (region, model, usage_type, mode, tier, scope, per),
        };
        let times_per = |q: i128| {
            Money::from_unscaled(q)
                .times(per as u128)
                .map(Money::unscaled)
        };
        let quantity = match money(Field::Amount).map(times_per) {
            Ok(Some(q)) => q,
            Ok(None) => return Placed::Unmapped("usage amount overflows".into()),
            Err(e) => return Placed::Unmapped(e),
        };
        let (list, from) = match bill.has(Field::PublicCost) {
            true => match money(Field::PublicCost) {
                Ok(l) => (l, ListFrom::PublicOnDemand),
                Err(e) => return Placed::Unmapped(e),
            },
            false => (unblended, ListFrom::Unblended),
        };
        key.line_item_type = "Usage".into();
        key.region = region;
        key.model = model;
        key.usage_type = usage_type.to_string();
        key.mode = mode.to_string();
        key.tier = tier;
        key.scope = scope.to_string();
        let amounts = Amounts {
            quantity,
            list,
            unblended,
            net,
        };
        Placed::Usage(key, amounts, from)
    }
}

/// Places one bill row (no memo).
#[cfg(test)]
pub fn place(bill: &BillRow, dialect: Dialect, aliases: &Aliases) -> Placed {
    Placer::new(aliases).place(bill, dialect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Field::*;

    fn aliases() -> Aliases {
        Aliases::embedded().unwrap()
    }

    fn usage(usage_type: &str, unit: &str, amount: &str, product: &[(&str, &str)]) -> Placed {
        let bill = BillRow::of(
            &[
                (Day, "2025-11-01T00:00:00Z"),
                (Account, "111122223333"),
                (ItemType, "Usage"),
                (ProductCode, "AmazonBedrock"),
                (UsageType, usage_type),
                (Amount, amount),
                (Unit, unit),
                (PublicCost, "1.5"),
                (Unblended, "1.5"),
                (Net, "1.2"),
            ],
            product,
        );
        place(&bill, Dialect::Cur2, &aliases())
    }

    fn key_of(p: &Placed) -> (&str, &str, &str, &str, &str, &str, i128) {
        match p {
            Placed::Usage(k, a, _) => (
                k.region.as_str(),
                k.model.as_str(),
                k.usage_type.as_str(),
                k.mode.as_str(),
                k.tier.as_str(),
                k.scope.as_str(),
                a.quantity / 1_000_000_000_000,
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cur_usage_types_map_to_billrun_meters() {
        let p = usage("USE1-Claude4.6Sonnet-input-tokens", "tokens", "1000", &[]);
        assert_eq!(
            key_of(&p),
            (
                "us-east-1",
                "anthropic.claude-sonnet-4-6",
                "input_tokens",
                "on_demand",
                "standard",
                "regional",
                1000
            )
        );
        let p = usage(
            "USE1-Claude4.6Sonnet-output-tokens-cross-region-global",
            "tokens",
            "7",
            &[],
        );
        assert_eq!(key_of(&p).5, "global");
        let p = usage(
            "USE1-Claude4.6Sonnet-cache-read-input-token-count",
            "tokens",
            "7",
            &[],
        );
        assert_eq!(key_of(&p).2, "cache_read_tokens");
        let p = usage("USE1-Nova2.0Lite-input-tokens-flex", "tokens", "7", &[]);
        assert_eq!(
            (key_of(&p).1, key_of(&p).4),
            ("amazon.nova-2-lite-v1:0", "flex")
        );
        let p = usage(
            "USE1-gpt-oss-120b-output-tokens-priority",
            "tokens",
            "7",
            &[],
        );
        assert_eq!(
            (key_of(&p).1, key_of(&p).4),
            ("openai.gpt-oss-120b-1:0", "priority")
        );
        let p = usage(
            "USE1-openai.gpt-oss-120b-mantle-input-tokens-standard",
            "tokens",
            "7",
            &[],
        );
        assert_eq!(key_of(&p).1, "openai.gpt-oss-120b-1:0");
        let p = usage(
            "USW2-Claude4.5Sonnet-cache-write-input-token-count",
            "tokens",
            "7",
            &[],
        );
        assert_eq!(key_of(&p).0, "us-west-2");
    }

    #[test]
    fn the_pricing_unit_is_read_per_row() {
        let k = usage(
            "USW2-Claude4.6Sonnet-input-tokens",
            "1K tokens",
            "17.33",
            &[],
        );
        assert_eq!(key_of(&k).6, 17_330);
        let m = usage("USW2-Claude4.6Sonnet-input-tokens", "1M tokens", "0.5", &[]);
        assert_eq!(key_of(&m).6, 500_000);
        let u = usage("USW2-Claude4.6Sonnet-input-tokens", "Units", "12", &[]);
        assert_eq!(key_of(&u).6, 12);
        let unknown = usage("USW2-Claude4.6Sonnet-input-tokens", "GB-Mo", "12", &[]);
        assert!(matches!(unknown, Placed::Unmapped(m) if m.contains("GB-Mo")));
        let empty = usage("USW2-Claude4.6Sonnet-input-tokens", "", "12", &[]);
        assert!(matches!(empty, Placed::Unmapped(_)));
    }

    #[test]
    fn marketplace_rows_are_named_by_their_product() {
        let product = [
            ("product_name", "Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
            ("servicename", "Claude Sonnet 4.6 (Amazon Bedrock Edition)"),
            ("region", "us-east-1"),
        ];
        let bill = BillRow::of(
            &[
                (Day, "2025-11-01T05:00:00Z"),
                (ItemType, "Usage"),
                (ProductCode, "7zgyu5r4exampleid"),
                (UsageType, "USE1-MP:USE1_InputTokenCount_Global-Units"),
                (Amount, "2000"),
                (Unit, "Units"),
                (Unblended, "0.006"),
                (Net, "0.006"),
            ],
            &product,
        );
        match place(&bill, Dialect::Cur2, &aliases()) {
            Placed::Usage(k, a, from) => {
                assert_eq!(
                    (k.model.as_str(), k.scope.as_str(), k.usage_type.as_str()),
                    ("anthropic.claude-sonnet-4-6", "global", "input_tokens")
                );
                assert_eq!(a.quantity, 2000 * 1_000_000_000_000);
                assert_eq!(from, ListFrom::Unblended);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn credits_taxes_and_other_services_are_kept_apart() {
        let row = |t: &str, code: &str| {
            BillRow::of(
                &[
                    (Day, "2025-11-01T00:00:00Z"),
                    (ItemType, t),
                    (ProductCode, code),
                    (UsageType, "USE1-Claude4.6Sonnet-input-tokens"),
                    (Amount, "1"),
                    (Unblended, "-2.5"),
                    (Net, "-2.5"),
                ],
                &[],
            )
        };
        for t in ["Credit", "Refund", "Tax", "EdpDiscount", "Fee"] {
            match place(&row(t, "AmazonBedrock"), Dialect::Cur2, &aliases()) {
                Placed::Adjustment(k, a) => {
                    assert_eq!(k.line_item_type, t);
                    assert_eq!(a.net, -2_500_000_000_000);
                }
                other => panic!("{t}: {other:?}"),
            }
        }
        assert_eq!(
            place(&row("Usage", "AmazonEC2"), Dialect::Cur2, &aliases()),
            Placed::OtherService
        );
    }

    #[test]
    fn discounted_and_covered_usage_is_usage_and_focus_corrections_are_not() {
        let row = |t: &str, class: &str| {
            BillRow::of(
                &[
                    (Day, "2025-11-01T00:00:00Z"),
                    (ItemType, t),
                    (ChargeClass, class),
                    (ProductCode, "AmazonBedrock"),
                    (UsageType, "USE1-NovaLite-input-tokens"),
                    (Amount, "10"),
                    (Unit, "tokens"),
                    (Unblended, "1"),
                    (Net, "1"),
                ],
                &[],
            )
        };
        for t in ["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"] {
            let placed = place(&row(t, ""), Dialect::Cur2, &aliases());
            assert!(matches!(placed, Placed::Usage(..)), "{t}: {placed:?}");
        }
        let usage = place(&row("Usage", ""), Dialect::Focus, &aliases());
        assert!(matches!(usage, Placed::Usage(..)), "{usage:?}");
        match place(&row("Usage", "Correction"), Dialect::Focus, &aliases()) {
            Placed::Adjustment(k, _) => assert_eq!(k.line_item_type, "Usage Correction"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_values_are_unmapped_with_the_reason() {
        let bad = usage(
            "USE1-Claude4.6Sonnet-input-tokens",
            "tokens",
            "4,800,000",
            &[],
        );
        assert!(matches!(bad, Placed::Unmapped(m) if m.contains("4,800,000")));
        let unknown = usage("USE1-SomeNewModel-input-tokens", "tokens", "1", &[]);
        assert!(matches!(unknown, Placed::Unmapped(m) if m.contains("SomeNewModel")));
        let pattern = usage(
            "USE1-Claude4.6Sonnet-guardrail-text-units",
            "tokens",
            "1",
            &[],
        );
        assert!(matches!(pattern, Placed::Unmapped(m) if m.starts_with("usage type")));
        assert_eq!(unscaled("0.0000000000001"), None);
        assert_eq!(unscaled("1.500000000000000"), Some(1_500_000_000_000));
        assert_eq!(unscaled("1e-3"), Some(1_000_000_000));
        // Beyond DECIMAL(38, 12): not a value billrun can hold, nor a sum of two.
        assert_eq!(unscaled("1e30"), None);
        let max = 99_999_999_999_999_999_999_999_999_999_999_999_999i128;
        assert_eq!(exact_sum(max, 0), Some(max));
        assert_eq!(exact_sum(max, 1), None);
        let huge = usage(
            "USE1-Claude4.6Sonnet-input-tokens",
            "1M tokens",
            "1e25",
            &[],
        );
        assert!(matches!(huge, Placed::Unmapped(m) if m.contains("overflows")));
    }
}
