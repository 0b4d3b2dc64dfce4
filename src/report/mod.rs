//! The reports: summary, line items, rejects and the manifest.
//!
//! Schemas are fixed and documented in `docs/reports.md`; money is DECIMAL(38, 12)
//! in Parquet and a plain decimal string in CSV.

pub mod focus;
pub mod manifest;
pub mod outdir;
pub mod output;
pub mod sink;
pub mod table;

use crate::catalog::PriceCatalog;
use crate::catalog::terms::UsageType;
use crate::pricing::group::Tallies;
use crate::pricing::rate::{LineItem, Reject};
use crate::vocab::money::{Money, Quantity};
use polars::prelude::{DataFrame, PolarsResult, polars_err};
use std::collections::BTreeMap;
use table::{Kind, Schema, Table, Values};

/// One summary row's measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SummaryCell {
    pub quantity: Quantity,
    pub cost: Money,
    pub records: u64,
}

/// Summary rows keyed (and so sorted) by group values, usage type, currency.
pub type Summary = BTreeMap<(Vec<String>, UsageType, String), SummaryCell>;

/// Folds per-(group, catalog row) tallies into summary rows: one multiplication per
/// tally; charges add their own costs. `None` if a cost or quantity overflows
/// DECIMAL(38, 12).
pub fn summarize(tallies: &Tallies, catalog: &PriceCatalog) -> Option<Summary> {
    if tallies.overflowed {
        return None;
    }
    let mut summary = Summary::new();
    let mut add = |group: u32, price: usize, usage: UsageType, measures: SummaryCell| {
        let cell = summary
            .entry((
                tallies.groups.values(group),
                usage,
                catalog.rows[price].currency.clone(),
            ))
            .or_default();
        *cell = SummaryCell {
            quantity: cell.quantity.checked_add(measures.quantity)?,
            cost: cell.cost.checked_add(measures.cost)?,
            records: cell.records + measures.records,
        };
        Some(())
    };
    for (&(group, price), tally) in &tallies.by_price {
        let row = &catalog.rows[price];
        let measures = SummaryCell {
            quantity: Quantity::whole(tally.quantity)?,
            cost: row.unit_price.times(tally.quantity)?,
            records: tally.records,
        };
        add(group, price, row.usage_type, measures)?;
    }
    for (&(group, price, usage), charged) in &tallies.charged {
        let measures = SummaryCell {
            quantity: charged.quantity,
            cost: charged.cost,
            records: charged.records,
        };
        add(group, price, usage, measures)?;
    }
    Some(summary)
}

pub fn summary_schema(group_columns: &[String]) -> Schema {
    let mut schema: Schema = group_columns
        .iter()
        .map(|c| (c.clone(), Kind::Text))
        .collect();
    schema.extend([
        ("usage_type".to_string(), Kind::Text),
        ("quantity".to_string(), Kind::Quantity),
        ("cost".to_string(), Kind::Money),
        ("currency".to_string(), Kind::Text),
        ("records".to_string(), Kind::Int),
    ]);
    schema
}

pub fn summary_table(group_columns: &[String], summary: &Summary) -> Table {
    let mut keys: Vec<Vec<Option<String>>> = vec![Vec::new(); group_columns.len()];
    let (mut usage, mut qty, mut cost, mut cur, mut recs) =
        (vec![], vec![], vec![], vec![], vec![]);
    for ((group, usage_type, currency), cell) in summary {
        for (k, v) in keys.iter_mut().zip(group) {
            k.push(Some(v.clone()));
        }
        usage.push(Some(usage_type.to_string()));
        qty.push(cell.quantity);
        cost.push(cell.cost);
        cur.push(Some(currency.clone()));
        recs.push(Some(cell.records as i64));
    }
    let mut columns: Vec<Values> = keys.into_iter().map(Values::Text).collect();
    columns.extend([
        Values::Text(usage),
        Values::Quantity(qty),
        Values::Money(cost),
        Values::Text(cur),
        Values::Int(recs),
    ]);
    Table {
        names: summary_schema(group_columns)
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
        columns,
    }
}

pub fn line_item_schema() -> Schema {
    use Kind::*;
    [
        ("source", Text),
        ("row", Int),
        ("request_id", Text),
        ("timestamp", Instant),
        ("account_id", Text),
        ("principal", Text),
        ("model_id", Text),
        ("requested_model_id", Text),
        ("scope", Text),
        ("region", Text),
        ("mode", Text),
        ("service_tier", Text),
        ("usage_type", Text),
        ("quantity", Quantity),
        ("unit_price", Money),
        ("cost", Money),
        ("currency", Text),
        ("catalog_line", Int),
        ("tags", Text),
        ("inference_region", Text),
        ("cost_center", Text),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_string(), k))
    .collect()
}

/// Consumes the items: their strings move into the columns, none is copied.
/// Consumes the items: their strings move into the columns; shared text is shared.
pub fn line_item_table(items: Vec<LineItem>) -> Table {
    use std::sync::Arc;
    let n = items.len();
    fn column<T>(n: usize) -> Vec<T> {
        Vec::with_capacity(n)
    }
    // Text columns in schema order: shared ones, then the per-row ones.
    let mut shared: [Vec<Option<Arc<str>>>; 13] = std::array::from_fn(|_| column(n));
    let (mut request, mut center) = (column(n), column(n));
    let (mut row, mut qty, mut line) = (column(n), column(n), column(n));
    let (mut at, mut unit, mut cost) = (column(n), column(n), column(n));
    let mut labels = crate::pricing::rate::Labels::default();
    for i in items {
        let values = [
            Some(i.source),
            i.account_id,
            i.principal,
            Some(i.model_id),
            Some(i.requested_model_id),
            Some(labels.get(i.scope.as_str())),
            Some(i.region),
            Some(labels.get(i.mode.as_str())),
            i.service_tier.map(|t| labels.get(t.as_str())),
            Some(labels.get(i.usage_type.as_str())),
            Some(i.currency),
            i.tags,
            i.inference_region,
        ];
        for (c, v) in shared.iter_mut().zip(values) {
            c.push(v);
        }
        request.push(i.request_id);
        center.push(i.cost_center);
        row.push(Some(i.row));
        at.push(i.timestamp);
        qty.push(i.quantity);
        unit.push(i.unit_price);
        cost.push(i.cost);
        line.push(Some(i.catalog_line as i64));
    }
    let [
        source,
        account,
        principal,
        model,
        requested,
        scope,
        region,
        mode,
        tier,
        usage,
        currency,
        tags,
        inference,
    ] = shared.map(Values::Shared);
    let columns = vec![
        source,
        Values::Int(row),
        Values::Text(request),
        Values::Instant(at),
        account,
        principal,
        model,
        requested,
        scope,
        region,
        mode,
        tier,
        usage,
        Values::Quantity(qty),
        Values::Money(unit),
        Values::Money(cost),
        currency,
        Values::Int(line),
        tags,
        inference,
        Values::Text(center),
    ];
    Table {
        names: line_item_schema().into_iter().map(|(n, _)| n).collect(),
        columns,
    }
}

pub fn reject_schema() -> Schema {
    use Kind::*;
    [
        ("source", Text),
        ("row", Int),
        ("request_id", Text),
        ("reason", Text),
        ("message", Text),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_string(), k))
    .collect()
}

pub fn reject_table(rejects: &[Reject]) -> Table {
    let columns = vec![
        Values::Text(rejects.iter().map(|r| Some(r.source.to_string())).collect()),
        Values::Int(rejects.iter().map(|r| Some(r.row)).collect()),
        Values::Text(rejects.iter().map(|r| r.request_id.clone()).collect()),
        Values::Text(
            rejects
                .iter()
                .map(|r| Some(r.reason.code().to_string()))
                .collect(),
        ),
        Values::Text(rejects.iter().map(|r| Some(r.message.clone())).collect()),
    ];
    Table {
        names: reject_schema().into_iter().map(|(n, _)| n).collect(),
        columns,
    }
}

/// The rows of a rejects table (`reject_table`'s inverse): a source repeated in
/// the table is shared.
pub fn reject_rows(frame: &DataFrame) -> PolarsResult<Vec<Reject>> {
    use crate::vocab::rows::{Ints, Texts};
    let source = Texts::of(frame.column("source")?)?;
    let row = Ints::of(frame.column("row")?.i64()?);
    let id = Texts::of(frame.column("request_id")?)?;
    let reason = Texts::of(frame.column("reason")?)?;
    let message = Texts::of(frame.column("message")?)?;
    let mut sources: std::collections::HashMap<String, std::sync::Arc<str>> = Default::default();
    let mut out = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let s = source.get(i).unwrap_or_default();
        let shared = sources
            .entry(s.to_string())
            .or_insert_with(|| std::sync::Arc::from(s))
            .clone();
        let code = reason.get(i).unwrap_or_default();
        out.push(Reject {
            source: shared,
            row: row.get(i).unwrap_or(0),
            request_id: id.get(i).map(str::to_string),
            reason: crate::vocab::reasons::Reason::from_code(code)
                .ok_or_else(|| polars_err!(ComputeError: "unknown reject reason {code:?}"))?,
            message: message.get(i).unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::rate::Tally;

    #[test]
    fn a_quantity_beyond_decimal_38_12_fails_the_summary_instead_of_clamping() {
        let catalog = PriceCatalog::embedded().unwrap();
        let mut tallies = Tallies::new(1);
        let a = tallies.groups.dim(0).code("a");
        let group = tallies.groups.id(&[a]);
        // DECIMAL(38, 12) holds 26 integer digits.
        let almost = Tally {
            quantity: 10u128.pow(26) - 1,
            records: 1,
        };
        tallies.add(group, 0, almost);
        assert!(summarize(&tallies, &catalog).is_some());
        let one = Tally {
            quantity: 1,
            records: 1,
        };
        tallies.add(group, 0, one);
        assert!(summarize(&tallies, &catalog).is_none());
    }
}
