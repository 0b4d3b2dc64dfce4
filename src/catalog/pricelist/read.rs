//! The three forms AWS publishes its Price List in, read into one shape: the bulk
//! offer file (`index.json`), its CSV sibling (`index.csv`: five preamble lines, then
//! a header), and `aws pricing get-products` output (each `PriceList` element a JSON
//! string holding one product and its terms).

use serde_json::Value;
use std::collections::BTreeMap;

/// One offer file's products with their on-demand prices.
#[derive(Debug, Default)]
pub struct Offer {
    pub code: String,
    /// The offer version (`20260911124408`), or the publication date when none is given.
    pub version: String,
    pub products: Vec<Product>,
    /// From an offer's version index (`.../<offer>/index.json`): each version's
    /// `versionEffectiveBeginDate`.
    pub versions: BTreeMap<String, String>,
}

/// A SKU: its attributes (keys lower-cased, spaces dropped: `regioncode`,
/// `usagetype`, `model`, `titanmodel`, `servicename`, `feature`, `inferencetype`) and
/// its price dimensions.
#[derive(Debug, Default)]
pub struct Product {
    pub sku: String,
    pub attributes: BTreeMap<String, String>,
    pub prices: Vec<Price>,
}

/// One price dimension of an on-demand term.
#[derive(Debug, Clone, Default)]
pub struct Price {
    pub rate_code: String,
    pub effective_date: String,
    pub unit: String,
    pub description: String,
    /// The exact decimal string and its currency (`"0.0000600000"`, `USD`).
    pub price: String,
    pub currency: String,
    /// `beginRange`: a tiered price starts above 0.
    pub begin_range: String,
}

fn key(attribute: &str) -> String {
    attribute
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Reads one file in whichever form it is.
pub fn read(text: &str) -> Result<Offer, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if !trimmed.starts_with('{') {
        return read_csv(trimmed);
    }
    let doc: Value = serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"))?;
    match (doc.get("PriceList"), doc.get("versions")) {
        (Some(list), _) => read_get_products(&doc, list),
        (None, Some(versions)) if doc.get("products").is_none() => {
            read_version_index(&doc, versions)
        }
        _ => read_bulk(&doc),
    }
}

/// `{"offerCode", "versions": {"<version>": {"versionEffectiveBeginDate", ...}}}`.
fn read_version_index(doc: &Value, versions: &Value) -> Result<Offer, String> {
    let versions = versions
        .as_object()
        .ok_or("\"versions\" is not an object")?;
    Ok(Offer {
        code: text(doc, "offerCode"),
        versions: versions
            .iter()
            .map(|(v, info)| (v.clone(), text(info, "versionEffectiveBeginDate")))
            .collect(),
        ..Offer::default()
    })
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn attributes(product: &Value) -> BTreeMap<String, String> {
    product
        .get("attributes")
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .map(|(k, v)| (key(k), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The price dimensions of `terms.OnDemand` for one SKU (`{term key: term}`).
fn on_demand_prices(terms: Option<&Value>) -> Vec<Price> {
    let mut prices = Vec::new();
    let Some(terms) = terms.and_then(Value::as_object) else {
        return prices;
    };
    for term in terms.values() {
        let effective = text(term, "effectiveDate");
        let Some(dims) = term.get("priceDimensions").and_then(Value::as_object) else {
            continue;
        };
        for dim in dims.values() {
            let per_unit = dim.get("pricePerUnit").and_then(Value::as_object);
            for (currency, price) in per_unit.into_iter().flatten() {
                prices.push(Price {
                    rate_code: text(dim, "rateCode"),
                    effective_date: effective.clone(),
                    unit: text(dim, "unit"),
                    description: text(dim, "description"),
                    price: price.as_str().unwrap_or("").to_string(),
                    currency: currency.clone(),
                    begin_range: text(dim, "beginRange"),
                });
            }
        }
    }
    prices.sort_by(|a, b| a.rate_code.cmp(&b.rate_code));
    prices
}

/// `{"offerCode", "version", "products": {sku: product}, "terms": {"OnDemand": ...}}`.
fn read_bulk(doc: &Value) -> Result<Offer, String> {
    let products = doc
        .get("products")
        .and_then(Value::as_object)
        .ok_or("neither a Price List offer file (no \"products\") nor get-products output (no \"PriceList\")")?;
    let on_demand = doc.pointer("/terms/OnDemand");
    let mut out = Offer {
        code: text(doc, "offerCode"),
        version: version(doc),
        ..Offer::default()
    };
    for (sku, product) in products {
        out.products.push(Product {
            sku: sku.clone(),
            attributes: attributes(product),
            prices: on_demand_prices(on_demand.and_then(|t| t.get(sku))),
        });
    }
    Ok(out)
}

fn version(doc: &Value) -> String {
    Some(text(doc, "version"))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| text(doc, "publicationDate"))
}

/// `{"FormatVersion": "aws_v1", "PriceList": ["{\"product\": ..., \"terms\": ...}"]}`.
fn read_get_products(doc: &Value, list: &Value) -> Result<Offer, String> {
    let items = list.as_array().ok_or("\"PriceList\" is not an array")?;
    let mut out = Offer::default();
    for (i, item) in items.iter().enumerate() {
        let parsed: Value;
        let item = match item {
            // Each element is a JSON string holding one product (aws cli output).
            Value::String(s) => {
                parsed = serde_json::from_str(s)
                    .map_err(|e| format!("PriceList element {i} is not valid JSON: {e}"))?;
                &parsed
            }
            other => other,
        };
        let product = item
            .get("product")
            .ok_or(format!("PriceList element {i} has no \"product\""))?;
        let sku = text(product, "sku");
        if out.code.is_empty() {
            out.code = text(item, "serviceCode");
            out.version = version(item);
        }
        out.products.push(Product {
            sku: sku.clone(),
            attributes: attributes(product),
            prices: on_demand_prices(item.pointer("/terms/OnDemand")),
        });
    }
    if out.version.is_empty() {
        out.version = text(doc, "FormatVersion");
    }
    Ok(out)
}

/// `index.csv`: `"FormatVersion","v1.0"`, `"Disclaimer",...`, `"Publication Date",...`,
/// `"Version",...`, `"OfferCode",...`, then a header and one row per price dimension.
fn read_csv(text: &str) -> Result<Offer, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let mut out = Offer::default();
    let mut published = String::new();
    for _ in 0..5 {
        let r = records
            .next()
            .ok_or("a Price List CSV starts with 5 preamble lines")?
            .map_err(|e| e.to_string())?;
        match (r.get(0).map(key).as_deref(), r.get(1)) {
            (Some("version"), Some(v)) => out.version = v.to_string(),
            (Some("offercode"), Some(v)) => out.code = v.to_string(),
            (Some("publicationdate"), Some(v)) => published = v.to_string(),
            _ => {}
        }
    }
    if out.version.is_empty() {
        out.version = published;
    }
    let header: Vec<String> = records
        .next()
        .ok_or("no header after the preamble")?
        .map_err(|e| e.to_string())?
        .iter()
        .map(key)
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let required = |name: &str| column(name).ok_or(format!("no \"{name}\" column in the header"));
    let (sku, term, rate, unit, price) = (
        required("sku")?,
        required("termtype")?,
        required("ratecode")?,
        required("unit")?,
        required("priceperunit")?,
    );
    let (currency, effective, description, begin) = (
        column("currency"),
        column("effectivedate"),
        column("pricedescription"),
        column("startingrange"),
    );
    // The attribute columns follow the price columns.
    let first_attribute = column("currency").map_or(11, |c| c + 1);
    let mut by_sku: BTreeMap<String, Product> = BTreeMap::new();
    for r in records {
        let r = r.map_err(|e| e.to_string())?;
        let get = |i: Option<usize>| i.and_then(|i| r.get(i)).unwrap_or("").to_string();
        if get(Some(term)) != "OnDemand" {
            continue;
        }
        let product = by_sku.entry(get(Some(sku))).or_insert_with(|| Product {
            sku: get(Some(sku)),
            attributes: header
                .iter()
                .enumerate()
                .skip(first_attribute)
                .map(|(i, h)| (h.clone(), get(Some(i))))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            prices: Vec::new(),
        });
        product.prices.push(Price {
            rate_code: get(Some(rate)),
            effective_date: get(effective),
            unit: get(Some(unit)),
            description: get(description),
            price: get(Some(price)),
            currency: get(currency),
            begin_range: get(begin),
        });
    }
    out.products = by_sku.into_values().collect();
    Ok(out)
}
