//! `focus.parquet`: the FinOps FOCUS 1.2 Cost and Usage dataset.
//!
//! One row per priced meter (catalog row) per charge period per group of FOCUS
//! dimensions. Every cost column is the exact cost; ListUnitPrice × PricingQuantity =
//! ListCost exactly for whole-unit meters (the pricing unit is the catalog's `per`).
//! A committed Provisioned Throughput charge is two rows: the recurring "Purchase" of
//! the commitment (billed, effective 0) and its "Usage" covered by the commitment
//! (effective cost, billed 0). Mapping and choices: `docs/focus.md`.

use super::table::{Kind, Schema, Table, Values};
use crate::catalog::terms::{Commitment, UsageType};
use crate::catalog::{CatalogRow, PriceCatalog, column};
use crate::pricing::group::{GroupKey, Tallies};
use crate::time::{MICROS_PER_DAY, MICROS_PER_HOUR, parse_instant};
use crate::time::{month_start, next_month_start};
use crate::vocab::money::{Money, Quantity};

/// The dimensions of a FOCUS row, in this order; the first is the charge period, the
/// last the cost center (`unallocated` for all without `--allocation`).
pub fn keys(period: &GroupKey) -> Vec<GroupKey> {
    vec![
        period.clone(),
        GroupKey::AccountId,
        GroupKey::Region,
        GroupKey::ModelId,
        GroupKey::Mode,
        GroupKey::Scope,
        GroupKey::ServiceTier,
        GroupKey::Tags,
        GroupKey::Resource,
        GroupKey::CostCenter,
    ]
}

/// Columns: FOCUS columns alphabetically, then billrun's `x_` columns.
const COLUMNS: [(&str, Kind); 58] = [
    ("BilledCost", Kind::Money),
    ("BillingAccountId", Kind::Text),
    ("BillingAccountName", Kind::Text),
    ("BillingCurrency", Kind::Text),
    ("BillingPeriodEnd", Kind::Instant),
    ("BillingPeriodStart", Kind::Instant),
    ("ChargeCategory", Kind::Text),
    ("ChargeClass", Kind::Text),
    ("ChargeDescription", Kind::Text),
    ("ChargeFrequency", Kind::Text),
    ("ChargePeriodEnd", Kind::Instant),
    ("ChargePeriodStart", Kind::Instant),
    ("CommitmentDiscountCategory", Kind::Text),
    ("CommitmentDiscountId", Kind::Text),
    ("CommitmentDiscountName", Kind::Text),
    ("CommitmentDiscountQuantity", Kind::MaybeQuantity),
    ("CommitmentDiscountStatus", Kind::Text),
    ("CommitmentDiscountType", Kind::Text),
    ("CommitmentDiscountUnit", Kind::Text),
    ("ConsumedQuantity", Kind::MaybeQuantity),
    ("ConsumedUnit", Kind::Text),
    ("ContractedCost", Kind::Money),
    ("ContractedUnitPrice", Kind::Money),
    ("EffectiveCost", Kind::Money),
    ("InvoiceId", Kind::Text),
    ("InvoiceIssuerName", Kind::Text),
    ("ListCost", Kind::Money),
    ("ListUnitPrice", Kind::Money),
    ("PricingCategory", Kind::Text),
    ("PricingCurrency", Kind::Text),
    ("PricingCurrencyContractedUnitPrice", Kind::Money),
    ("PricingCurrencyEffectiveCost", Kind::Money),
    ("PricingCurrencyListUnitPrice", Kind::Money),
    ("PricingQuantity", Kind::Quantity),
    ("PricingUnit", Kind::Text),
    ("ProviderName", Kind::Text),
    ("PublisherName", Kind::Text),
    ("RegionId", Kind::Text),
    ("RegionName", Kind::Text),
    ("ResourceId", Kind::Text),
    ("ResourceName", Kind::Text),
    ("ResourceType", Kind::Text),
    ("ServiceCategory", Kind::Text),
    ("ServiceName", Kind::Text),
    ("ServiceSubcategory", Kind::Text),
    ("SkuId", Kind::Text),
    ("SkuMeter", Kind::Text),
    ("SkuPriceDetails", Kind::Text),
    ("SkuPriceId", Kind::Text),
    ("SubAccountId", Kind::Text),
    ("SubAccountName", Kind::Text),
    ("Tags", Kind::Text),
    ("x_InferenceScope", Kind::Text),
    ("x_ModelId", Kind::Text),
    ("x_UsageType", Kind::Text),
    ("x_ServiceTier", Kind::Text),
    ("x_Mode", Kind::Text),
    ("x_CostCenter", Kind::Text),
];

pub fn schema() -> Schema {
    COLUMNS.iter().map(|(n, k)| (n.to_string(), *k)).collect()
}

/// One priced meter of one group in one charge period, before it becomes rows.
struct Entry<'c> {
    values: Vec<String>,
    price: &'c CatalogRow,
    usage: UsageType,
    quantity: Quantity,
    cost: Money,
}

/// The FOCUS rows of `tallies` (grouped by `keys(period)`), sorted; `None` if a
/// quantity or cost overflows DECIMAL(38, 12).
/// `allocated`: `--allocation` was given, so `x_CostCenter` is filled.
pub fn table(
    tallies: &Tallies,
    catalog: &PriceCatalog,
    period: &GroupKey,
    allocated: bool,
) -> Option<Table> {
    let values: Vec<Vec<String>> = tallies.groups().map(|(_, v)| v).collect();
    let mut entries = Vec::new();
    for (&(group, price), tally) in &tallies.by_price {
        let row = &catalog.rows[price];
        entries.push(Entry {
            values: values[group as usize].clone(),
            price: row,
            usage: row.usage_type,
            quantity: Quantity::whole(tally.quantity)?,
            cost: row.unit_price.times(tally.quantity)?,
        });
    }
    for (&(group, price, usage), charged) in &tallies.charged {
        // Imported-model tokens are tallied at zero cost against the CMU price (their
        // cost is the copy time): not a priced meter, so not a FOCUS row.
        if usage != catalog.rows[price].usage_type {
            continue;
        }
        entries.push(Entry {
            values: values[group as usize].clone(),
            price: &catalog.rows[price],
            usage,
            quantity: charged.quantity,
            cost: charged.cost,
        });
    }
    entries.sort_by(|a, b| {
        (&a.values, a.price.line, a.usage).cmp(&(&b.values, b.price.line, b.usage))
    });
    let mut out = Rows {
        allocated,
        ..Rows::default()
    };
    for e in &entries {
        out.push_entry(e, catalog, period)?;
    }
    Some(out.into_table())
}

/// The columns being filled, in `schema()` order.
#[derive(Default)]
struct Rows {
    allocated: bool,
    text: Vec<Vec<Option<String>>>,
    money: Vec<Vec<Money>>,
    quantity: Vec<Vec<Quantity>>,
    maybe: Vec<Vec<Option<Quantity>>>,
    instants: Vec<Vec<i64>>,
}

/// What differs between the rows of one entry.
struct Charge {
    category: &'static str,
    frequency: &'static str,
    pricing_category: &'static str,
    billed: Money,
    effective: Money,
    consumed: bool,
    commitment_status: Option<&'static str>,
}

impl Rows {
    fn push_entry(&mut self, e: &Entry, catalog: &PriceCatalog, period: &GroupKey) -> Option<()> {
        let usage = Charge {
            category: "Usage",
            frequency: "Usage-Based",
            pricing_category: "Standard",
            billed: e.cost,
            effective: e.cost,
            consumed: true,
            commitment_status: None,
        };
        let committed = e.usage == UsageType::MuHours
            && matches!(
                e.price.commitment,
                Some(Commitment::OneMonth | Commitment::SixMonth)
            );
        if !committed {
            return self.push(e, catalog, period, &usage);
        }
        let purchase = Charge {
            category: "Purchase",
            frequency: "Recurring",
            billed: e.cost,
            effective: Money::ZERO,
            consumed: false,
            ..usage
        };
        self.push(e, catalog, period, &purchase)?;
        let covered = Charge {
            pricing_category: "Committed",
            billed: Money::ZERO,
            commitment_status: Some("Used"),
            ..usage
        };
        self.push(e, catalog, period, &covered)
    }

    fn push(
        &mut self,
        e: &Entry,
        catalog: &PriceCatalog,
        period: &GroupKey,
        c: &Charge,
    ) -> Option<()> {
        let v = &e.values;
        let (charge_start, charge_end) = charge_period(&v[0], period)?;
        let (account, region, model, mode, scope, tier, tags, resource, cost_center) = (
            &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
        );
        let per = e.price.raw[5].parse::<i128>().ok().filter(|p| *p > 0)?;
        // Price per `per` units when that makes the quantity exact, else per unit.
        let (per, pricing_quantity) = match e.quantity.unscaled() % per {
            0 => (per, Quantity::from_unscaled(e.quantity.unscaled() / per)),
            _ => (1, e.quantity),
        };
        let list_unit_price = Money::from_unscaled(e.price.unit_price.unscaled().checked_mul(per)?);
        let unit = unit_name(e.usage);
        let pricing_unit = match per {
            1 => unit.to_string(),
            n => format!("{n} {unit}"),
        };
        let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        let allocated = self.allocated;
        let billing_account = some(account).unwrap_or_else(|| "unknown".into());
        let commitment = c.commitment_status.is_some() || c.category == "Purchase";
        let committed = |s: String| Some(s).filter(|_| commitment);
        let sku_id = sku_id(e.price);
        let text = [
            Some(billing_account.clone()),
            None,
            Some(e.price.currency.clone()),
            Some(c.category.into()),
            None,
            Some(describe(e, model, region, mode)),
            Some(c.frequency.into()),
            committed("Usage".into()),
            committed(resource.clone()),
            committed(resource.rsplit('/').next().unwrap_or(resource).to_string()),
            c.commitment_status.map(String::from),
            committed(format!(
                "Provisioned Throughput {}",
                e.price.commitment.map_or("", |t| t.as_str())
            )),
            committed(unit.to_string()),
            Some(unit.to_string()).filter(|_| c.consumed),
            Some(invoice_id(&billing_account, charge_start)),
            Some("Amazon Web Services".into()),
            Some(c.pricing_category.into()),
            Some(e.price.currency.clone()),
            Some(pricing_unit),
            Some("Amazon Web Services".into()),
            Some(publisher(e.price).into()),
            some(region),
            some(region).map(|r| region_name(&r).to_string()),
            some(resource),
            None,
            some(resource).map(|_| resource_type(e.usage).to_string()),
            Some("AI and Machine Learning".into()),
            Some("Amazon Bedrock".into()),
            Some("Generative AI".into()),
            Some(sku_id.clone()),
            Some(meter_name(e.usage).into()),
            Some(format!(
                r#"{{"x_CatalogLine":{},"x_CatalogSha256":"{}","x_Per":{}}}"#,
                e.price.line, catalog.sha256, e.price.raw[5]
            )),
            Some(sku_price_id(e.price, &sku_id)),
            some(account),
            some(account),
            some(tags),
            Some(scope.clone()),
            Some(model.clone()),
            Some(e.usage.to_string()),
            some(tier),
            Some(mode.clone()),
            Some(cost_center.clone()).filter(|_| allocated),
        ];
        let list_cost = e.cost;
        // Prices are billed in the currency they are listed in: the PricingCurrency
        // columns repeat the billing ones.
        let money = [
            c.billed,
            list_cost,
            list_unit_price,
            c.effective,
            list_cost,
            list_unit_price,
            list_unit_price,
            c.effective,
            list_unit_price,
        ];
        let commitment_quantity = Some(e.quantity).filter(|_| commitment);
        let maybe = [commitment_quantity, Some(e.quantity).filter(|_| c.consumed)];
        let (period_start, period_end) =
            (month_start(charge_start), next_month_start(charge_start));
        let instants = [period_end, period_start, charge_end, charge_start];
        self.extend(text, money, [pricing_quantity], maybe, instants);
        Some(())
    }

    fn extend<const T: usize, const M: usize>(
        &mut self,
        text: [Option<String>; T],
        money: [Money; M],
        quantity: [Quantity; 1],
        maybe: [Option<Quantity>; 2],
        instants: [i64; 4],
    ) {
        fn add<V, const N: usize>(columns: &mut Vec<Vec<V>>, values: [V; N]) {
            columns.resize_with(N, Vec::new);
            for (c, v) in columns.iter_mut().zip(values) {
                c.push(v);
            }
        }
        add(&mut self.text, text);
        add(&mut self.money, money);
        add(&mut self.quantity, quantity);
        add(&mut self.maybe, maybe);
        add(&mut self.instants, instants);
    }

    /// Deals the typed columns back out in `schema()` order.
    fn into_table(self) -> Table {
        let schema = schema();
        let mut text = self.text.into_iter();
        let mut money = self.money.into_iter();
        let mut quantity = self.quantity.into_iter();
        let mut maybe = self.maybe.into_iter();
        let mut instants = self.instants.into_iter();
        let columns = schema
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Text => Values::Text(text.next().unwrap_or_default()),
                Kind::Money => Values::Money(money.next().unwrap_or_default()),
                Kind::Quantity => Values::Quantity(quantity.next().unwrap_or_default()),
                Kind::MaybeQuantity => Values::MaybeQuantity(maybe.next().unwrap_or_default()),
                Kind::Instant => Values::Instant(instants.next().unwrap_or_default()),
                Kind::Int => Values::Int(Vec::new()),
            })
            .collect();
        Table {
            names: schema.into_iter().map(|(n, _)| n).collect(),
            columns,
        }
    }
}

/// A provisional invoice id: one per billing account and calendar month. billrun
/// does not see AWS's invoices; this is the statement the rows roll up to.
fn invoice_id(account: &str, at: i64) -> String {
    format!("billrun-{account}-{}", crate::time::format_month(at))
}

/// `[start, end)` of the charge period named by a day or hour value.
fn charge_period(value: &str, period: &GroupKey) -> Option<(i64, i64)> {
    let start = parse_instant(value)?;
    let length = match period {
        GroupKey::Hour => MICROS_PER_HOUR,
        _ => MICROS_PER_DAY,
    };
    Some((start, start + length))
}

/// A SKU: what is sold, independent of its price and when the price applies.
/// AWS's SKU where the row came from the Price List, so billrun's rows join AWS's own
/// FOCUS export; else the catalog row's identity.
fn sku_id(r: &CatalogRow) -> String {
    if !r.raw[column::SKU].is_empty() {
        return r.raw[column::SKU].clone();
    }
    let f = |i: usize| match r.raw[i].as_str() {
        "" => "any",
        v => v,
    };
    column::METER
        .iter()
        .map(|&i| f(i))
        .collect::<Vec<_>>()
        .join("/")
}

/// AWS's rate code where the row came from the Price List; else `SkuId@effective_from`.
fn sku_price_id(r: &CatalogRow, sku_id: &str) -> String {
    match r.raw[column::RATE_CODE].as_str() {
        "" => format!("{sku_id}@{}", effective_from(r)),
        rate => rate.to_string(),
    }
}

/// Who publishes the model: its provider for models AWS sells through the Marketplace
/// offer (`AmazonBedrockFoundationModels`), by the model id's vendor; else AWS.
fn publisher(r: &CatalogRow) -> &'static str {
    const PROVIDERS: [(&str, &str); 9] = [
        ("anthropic.", "Anthropic"),
        ("meta.", "Meta"),
        ("mistral.", "Mistral AI"),
        ("cohere.", "Cohere"),
        ("ai21.", "AI21 Labs"),
        ("stability.", "Stability AI"),
        ("openai.", "OpenAI"),
        ("deepseek.", "DeepSeek"),
        ("writer.", "Writer"),
    ];
    let model = r.raw[column::MODEL_ID].as_str();
    match r.raw[column::OFFER].as_str() {
        "AmazonBedrockFoundationModels" => PROVIDERS
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix))
            .map_or("Amazon Web Services", |(_, name)| name),
        _ => "Amazon Web Services",
    }
}

fn effective_from(r: &CatalogRow) -> &str {
    match r.raw[column::EFFECTIVE_FROM].as_str() {
        "" => "always",
        v => v,
    }
}

fn describe(e: &Entry, model: &str, region: &str, mode: &str) -> String {
    format!(
        "Amazon Bedrock {} of {model} ({mode}, {region})",
        meter_name(e.usage)
    )
}

/// The unit a meter is counted in (FOCUS UnitFormat).
fn unit_name(usage: UsageType) -> &'static str {
    match usage {
        UsageType::InputTokens
        | UsageType::OutputTokens
        | UsageType::CacheReadTokens
        | UsageType::CacheWriteTokens
        | UsageType::TrainingTokens => "Tokens",
        UsageType::Images | UsageType::TrainingImages => "Images",
        UsageType::MuHours => "Model Unit-Hours",
        UsageType::CmuMinutes => "CMU-Minutes",
        UsageType::CmuStorageMonths => "CMU-Months",
        UsageType::ModelStorageMonths => "Custom Model-Months",
    }
}

fn meter_name(usage: UsageType) -> &'static str {
    match usage {
        UsageType::InputTokens => "Input Tokens",
        UsageType::OutputTokens => "Output Tokens",
        UsageType::CacheReadTokens => "Cache Read Tokens",
        UsageType::CacheWriteTokens => "Cache Write Tokens",
        UsageType::Images => "Images",
        UsageType::MuHours => "Provisioned Throughput Model Unit Hours",
        UsageType::CmuMinutes => "Custom Model Import Copy Minutes",
        UsageType::CmuStorageMonths => "Custom Model Import Storage",
        UsageType::TrainingTokens => "Customization Training Tokens",
        UsageType::TrainingImages => "Customization Training Images",
        UsageType::ModelStorageMonths => "Custom Model Storage",
    }
}

fn resource_type(usage: UsageType) -> &'static str {
    match usage {
        UsageType::MuHours => "Provisioned Throughput",
        UsageType::CmuMinutes | UsageType::CmuStorageMonths => "Imported Model",
        UsageType::ModelStorageMonths => "Custom Model",
        UsageType::TrainingTokens | UsageType::TrainingImages => "Model Customization Job",
        _ => "Model",
    }
}

/// AWS's display names of regions; an unlisted region is named by its id.
fn region_name(id: &str) -> &str {
    match id {
        "us-east-1" => "US East (N. Virginia)",
        "us-east-2" => "US East (Ohio)",
        "us-west-1" => "US West (N. California)",
        "us-west-2" => "US West (Oregon)",
        "us-gov-west-1" => "AWS GovCloud (US-West)",
        "us-gov-east-1" => "AWS GovCloud (US-East)",
        "ca-central-1" => "Canada (Central)",
        "eu-central-1" => "Europe (Frankfurt)",
        "eu-central-2" => "Europe (Zurich)",
        "eu-west-1" => "Europe (Ireland)",
        "eu-west-2" => "Europe (London)",
        "eu-west-3" => "Europe (Paris)",
        "eu-north-1" => "Europe (Stockholm)",
        "eu-south-1" => "Europe (Milan)",
        "eu-south-2" => "Europe (Spain)",
        "ap-south-1" => "Asia Pacific (Mumbai)",
        "ap-northeast-1" => "Asia Pacific (Tokyo)",
        "ap-northeast-2" => "Asia Pacific (Seoul)",
        "ap-northeast-3" => "Asia Pacific (Osaka)",
        "ap-southeast-1" => "Asia Pacific (Singapore)",
        "ap-southeast-2" => "Asia Pacific (Sydney)",
        "sa-east-1" => "South America (São Paulo)",
        other => other,
    }
}
