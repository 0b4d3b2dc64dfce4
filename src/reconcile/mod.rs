//! `billrun reconcile`: a run's line items against the AWS bill (CUR 2.0, legacy
//! CUR, FOCUS 1.2), bucket by bucket; with `--true-up`, the bill's net cost shared
//! over the run's cost centers (or another key) so a statement adds up to the bill.
//!
//! A bucket is (day, account, region, model, meter: usage type, mode, tier, scope,
//! currency). Per bucket: billrun's quantity and list cost against the bill's usage
//! amount (in the row's `pricing_unit`) and public on-demand cost; the bill's
//! unblended and net costs beside them, never mixed in. Credits, refunds, taxes,
//! discounts and fees are buckets of their own, by line-item type.

pub mod bill;
mod map;
mod ours;
mod trueup;

use crate::catalog::aliases::Aliases;
use crate::cli::ReconcileArgs;
use crate::error::{Error, Result};
use crate::report::outdir::{self, Layout};
use crate::report::output::Staging;
use crate::report::sink::{self, Format};
use crate::report::table::{Kind, Schema, Table, Values};
use crate::vocab::money::{Money, Quantity};
use map::{Amounts, Key, ListFrom, Placed};
use ours::Ours;
use std::collections::{BTreeMap, BTreeSet};

/// Report files `reconcile` writes (besides its manifest).
pub use crate::report::outdir::RECONCILE_STEMS as STEMS;

/// The `--true-up` key value for billed cost no usage of the run explains.
pub const UNATTRIBUTED: &str = "(unattributed)";

/// What the bill says of a bucket.
#[derive(Clone, Debug, Default)]
struct Theirs {
    amounts: Amounts,
    rows: u64,
    usage_types: BTreeSet<String>,
}

impl Theirs {
    fn add(&mut self, a: Amounts, usage_type: &str) -> Option<()> {
        let t = &mut self.amounts;
        t.quantity = map::exact_sum(t.quantity, a.quantity)?;
        t.list = map::exact_sum(t.list, a.list)?;
        t.unblended = map::exact_sum(t.unblended, a.unblended)?;
        t.net = map::exact_sum(t.net, a.net)?;
        self.rows += 1;
        if !usage_type.is_empty() {
            self.usage_types.insert(usage_type.to_string());
        }
        Some(())
    }
}

/// A bill row that could not be placed.
struct Unmapped {
    source: String,
    row: u64,
    line_item_type: String,
    product_code: String,
    usage_type: String,
    reason: String,
    unblended: String,
    net: String,
}

#[derive(Default, serde::Serialize)]
struct BillCounts {
    read: u64,
    usage: u64,
    adjustment: u64,
    other_services: u64,
    unmapped: u64,
    /// Usage rows with no public on-demand cost column: their unblended cost is
    /// compared with billrun's list cost.
    list_from_unblended: u64,
}

/// The bucket statuses, in report order.
const STATUSES: [&str; 6] = [
    "matched",
    "quantity_drift",
    "price_drift",
    "only_in_bill",
    "only_in_billrun",
    "adjustment",
];

/// One output row.
struct Compared {
    status: &'static str,
    key: Key,
    ours: Ours,
    theirs: Theirs,
    alert: bool,
}

pub fn run(args: &ReconcileArgs) -> Result<i32> {
    let format = match args.format.as_str() {
        "parquet" => Format::Parquet,
        "csv" => Format::Csv,
        other => return Err(Error::Usage(format!("--format {other}: parquet or csv"))),
    };
    let tolerance = map::unscaled(&args.tolerance)
        .filter(|t| *t >= 0)
        .ok_or_else(|| {
            Error::Usage(format!(
                "--tolerance \"{}\" is not a non-negative decimal of at most 12 places",
                args.tolerance
            ))
        })?;
    let aliases = Aliases::with_file(args.aliases.as_deref())
        .map_err(|errors| Error::Usage(format!("--aliases: {}", errors.join("; "))))?;
    let mut inputs = vec![args.run.clone()];
    inputs.extend(args.bill.iter().cloned());
    let layout = Layout::Flat {
        ext: format.extension().to_string(),
    };
    let out = outdir::claim(&args.out, &layout, args.replace, &inputs)?;

    let by = args.true_up.as_deref();
    let (ours, shares, line_items) = ours::read(&args.run, by)?;
    let mut theirs: BTreeMap<Key, Theirs> = BTreeMap::new();
    let mut adjustments: BTreeMap<Key, Theirs> = BTreeMap::new();
    // Unmapped rows go to their table as they are found, a chunk at a time: a bill
    // of a model the aliases do not know yet can be mostly unmapped.
    let staging = Staging::create(&out)?;
    let mut unmapped_sink = sink::open(format, staging.path(), "unmapped", &unmapped_schema())?;
    let mut unmapped = Vec::new();
    let mut counts = BillCounts::default();
    let mut bills = Vec::new();
    let mut placer = map::Placer::new(&aliases);
    for file in bill::files(&args.bill)? {
        let path = &file.path;
        let source = path.to_string_lossy().into_owned();
        let overflow = || Error::input_msg(path, "a bucket's total overflows DECIMAL(38, 12)");
        let mut rows = 0u64;
        let dialect = bill::read(&file, &mut |dialect, row| {
            rows += 1;
            counts.read += 1;
            let usage_type = row.get(bill::Field::UsageType);
            match placer.place(&row, dialect) {
                Placed::Usage(key, amounts, from) => {
                    counts.usage += 1;
                    counts.list_from_unblended += u64::from(from == ListFrom::Unblended);
                    let t = theirs.entry(key).or_default();
                    t.add(amounts, usage_type).ok_or_else(overflow)?;
                }
                Placed::Adjustment(key, amounts) => {
                    counts.adjustment += 1;
                    let t = adjustments.entry(key).or_default();
                    t.add(amounts, usage_type).ok_or_else(overflow)?;
                }
                Placed::OtherService => counts.other_services += 1,
                Placed::Unmapped(reason) => {
                    counts.unmapped += 1;
                    unmapped.push(Unmapped {
                        source: source.clone(),
                        row: row.row,
                        line_item_type: row.get(bill::Field::ItemType).to_string(),
                        product_code: row.get(bill::Field::ProductCode).to_string(),
                        usage_type: usage_type.to_string(),
                        reason,
                        unblended: row.get(bill::Field::Unblended).to_string(),
                        net: row.get(bill::Field::Net).to_string(),
                    });
                    if unmapped.len() >= UNMAPPED_CHUNK {
                        unmapped_sink.write(unmapped_table(&unmapped))?;
                        unmapped.clear();
                    }
                }
            }
            Ok(())
        })?;
        let etag = file.remote.as_ref().and_then(|o| o.etag.clone());
        bills.push(serde_json::json!({"path": source, "dialect": dialect.name(), "rows": rows, "etag": etag}));
    }

    let compared = compare(&ours, &theirs, &adjustments, tolerance);
    let totals = totals(&compared)?;
    if !unmapped.is_empty() {
        unmapped_sink.write(unmapped_table(&unmapped))?;
    }
    let unmapped_rows = unmapped_sink.finish()?;
    let listed = |stem: &str, rows: u64| {
        let name = format!("{stem}.{}", format.extension());
        serde_json::json!({"name": name, "rows": rows})
    };
    let write = |stem: &str, schema: &Schema, table: Table| -> Result<serde_json::Value> {
        let mut sink = sink::open(format, staging.path(), stem, schema)?;
        sink.write(table)?;
        Ok(listed(stem, sink.finish()?))
    };
    let (schema, table) = reconcile_table(&compared);
    let mut files = vec![
        write("reconcile", &schema, table)?,
        listed("unmapped", unmapped_rows),
    ];
    if let Some(by) = by {
        let rows = true_up(&compared, &shares)?;
        let (schema, table) = trueup_table(by, &rows);
        files.push(write("trueup", &schema, table)?);
    }

    let mut by_status: BTreeMap<&str, u64> = STATUSES.iter().map(|s| (*s, 0)).collect();
    for c in &compared {
        *by_status.entry(c.status).or_default() += 1;
    }
    let alerts = compared.iter().filter(|c| c.alert).count() as u64;
    let manifest = serde_json::json!({
        "billrun_version": env!("CARGO_PKG_VERSION"),
        "command": "reconcile",
        "options": {
            "format": format.extension(),
            "tolerance": Money::from_unscaled(tolerance).to_string(),
            "true_up": by,
        },
        "run": args.run.to_string_lossy(),
        "line_items": line_items,
        "bills": bills,
        "bill_rows": counts,
        "buckets": by_status,
        "alerts": alerts,
        "totals": totals,
        "files": files,
    });
    let path = staging.path().join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    std::fs::write(&path, text).map_err(|e| Error::output(&path, e))?;
    staging.commit()?;

    if !args.quiet {
        eprintln!("{}", summary_line(&by_status, &counts, &totals, alerts));
    }
    Ok(if alerts + counts.unmapped > 0 { 1 } else { 0 })
}

/// Every bucket of either side, with its status; `alert` when it drifts beyond the
/// tolerance (on cost: a quantity drift whose cost difference is within it does not
/// alert, unless the tolerance is 0).
fn compare(
    ours: &ours::Buckets,
    theirs: &BTreeMap<Key, Theirs>,
    adjustments: &BTreeMap<Key, Theirs>,
    tolerance: i128,
) -> Vec<Compared> {
    let keys: BTreeSet<&Key> = ours.keys().chain(theirs.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (o, t) = (ours.get(key), theirs.get(key));
        let status = match (o, t) {
            (Some(_), None) => "only_in_billrun",
            (None, _) => "only_in_bill",
            (Some(o), Some(t)) if o.quantity != t.amounts.quantity => "quantity_drift",
            (Some(o), Some(t)) if o.cost != t.amounts.list => "price_drift",
            _ => "matched",
        };
        let (o, t) = (
            o.copied().unwrap_or_default(),
            t.cloned().unwrap_or_default(),
        );
        let drift = (t.amounts.list - o.cost).abs();
        let alert = status != "matched" && (tolerance == 0 || drift > tolerance);
        out.push(Compared {
            status,
            key: key.clone(),
            ours: o,
            theirs: t,
            alert,
        });
    }
    for (key, t) in adjustments {
        out.push(Compared {
            status: "adjustment",
            key: key.clone(),
            ours: Ours::default(),
            theirs: t.clone(),
            alert: false,
        });
    }
    out
}

/// Totals by currency: billrun's list cost, and the bill's list, unblended and net
/// cost (of usage, and of adjustments).
fn totals(compared: &[Compared]) -> Result<BTreeMap<String, BTreeMap<&'static str, String>>> {
    let mut sums: BTreeMap<String, [i128; 5]> = BTreeMap::new();
    for c in compared {
        let s = sums.entry(c.key.currency.clone()).or_default();
        let a = &c.theirs.amounts;
        let parts: &[(usize, i128)] = match c.status {
            "adjustment" => &[(4, a.net)],
            _ => &[(0, c.ours.cost), (1, a.list), (2, a.unblended), (3, a.net)],
        };
        for &(i, v) in parts {
            s[i] = map::exact_sum(s[i], v).ok_or_else(overflow)?;
        }
    }
    let names = [
        "billrun_list_cost",
        "bill_list_cost",
        "bill_unblended_cost",
        "bill_net_cost",
        "bill_adjustments_net_cost",
    ];
    Ok(sums
        .into_iter()
        .map(|(c, s)| {
            let m = names
                .iter()
                .zip(s)
                .map(|(n, v)| (*n, Money::from_unscaled(v).to_string()))
                .collect();
            (c, m)
        })
        .collect())
}

fn overflow() -> Error {
    Error::Usage("a reconciliation total overflows DECIMAL(38, 12)".into())
}

fn summary_line(
    by_status: &BTreeMap<&str, u64>,
    counts: &BillCounts,
    totals: &BTreeMap<String, BTreeMap<&'static str, String>>,
    alerts: u64,
) -> String {
    let statuses: Vec<String> = STATUSES
        .iter()
        .map(|s| format!("{} {s}", by_status.get(s).copied().unwrap_or(0)))
        .collect();
    let money: Vec<String> = totals
        .iter()
        .map(|(c, t)| {
            format!(
                "{c}: billrun list {}, bill list {}, unblended {}, net {}",
                t["billrun_list_cost"],
                t["bill_list_cost"],
                t["bill_unblended_cost"],
                t["bill_net_cost"]
            )
        })
        .collect();
    format!(
        "billrun reconcile: buckets: {}; {alerts} drifting beyond the tolerance; bill rows: {} read, {} usage, {} adjustments, {} other services, {} unmapped (see unmapped.*); {}",
        statuses.join(", "),
        counts.read,
        counts.usage,
        counts.adjustment,
        counts.other_services,
        counts.unmapped,
        money.join("; ")
    )
}

fn key_columns() -> Vec<(&'static str, Kind)> {
    use Kind::Text;
    vec![
        ("day", Text),
        ("account_id", Text),
        ("line_item_type", Text),
        ("region", Text),
        ("model_id", Text),
        ("usage_type", Text),
        ("mode", Text),
        ("service_tier", Text),
        ("scope", Text),
        ("currency", Text),
    ]
}

fn key_values(keys: &[&Key]) -> Vec<Values> {
    let text = |f: &dyn Fn(&Key) -> &str| {
        Values::Text(
            keys.iter()
                .map(|k| Some(f(k)).filter(|v| !v.is_empty()).map(str::to_string))
                .collect(),
        )
    };
    vec![
        text(&|k| &k.day),
        text(&|k| &k.account),
        text(&|k| &k.line_item_type),
        text(&|k| &k.region),
        text(&|k| &k.model),
        text(&|k| &k.usage_type),
        text(&|k| &k.mode),
        text(&|k| &k.tier),
        text(&|k| &k.scope),
        text(&|k| &k.currency),
    ]
}

fn schema_of(columns: Vec<(&str, Kind)>) -> Schema {
    columns
        .into_iter()
        .map(|(n, k)| (n.to_string(), k))
        .collect()
}

fn table_of(schema: &Schema, columns: Vec<Values>) -> Table {
    Table {
        names: schema.iter().map(|(n, _)| n.clone()).collect(),
        columns,
    }
}

fn reconcile_table(rows: &[Compared]) -> (Schema, Table) {
    use Kind::{Int, Text};
    let mut columns = vec![("status", Text)];
    columns.extend(key_columns());
    columns.extend([
        ("billrun_quantity", Kind::Quantity),
        ("bill_quantity", Kind::Quantity),
        ("quantity_difference", Kind::Quantity),
        ("billrun_list_cost", Kind::Money),
        ("bill_list_cost", Kind::Money),
        ("list_cost_difference", Kind::Money),
        ("bill_unblended_cost", Kind::Money),
        ("bill_net_cost", Kind::Money),
        ("billrun_records", Int),
        ("bill_rows", Int),
        ("bill_usage_types", Text),
        ("alert", Text),
    ]);
    let schema = schema_of(columns);
    let keys: Vec<&Key> = rows.iter().map(|r| &r.key).collect();
    let mut values = vec![Values::Text(
        rows.iter().map(|r| Some(r.status.to_string())).collect(),
    )];
    values.extend(key_values(&keys));
    let quantity = |f: &dyn Fn(&Compared) -> i128| {
        Values::Quantity(rows.iter().map(|r| Quantity::from_unscaled(f(r))).collect())
    };
    let money = |f: &dyn Fn(&Compared) -> i128| {
        Values::Money(rows.iter().map(|r| Money::from_unscaled(f(r))).collect())
    };
    values.extend([
        quantity(&|r| r.ours.quantity),
        quantity(&|r| r.theirs.amounts.quantity),
        quantity(&|r| r.theirs.amounts.quantity - r.ours.quantity),
        money(&|r| r.ours.cost),
        money(&|r| r.theirs.amounts.list),
        money(&|r| r.theirs.amounts.list - r.ours.cost),
        money(&|r| r.theirs.amounts.unblended),
        money(&|r| r.theirs.amounts.net),
        Values::Int(rows.iter().map(|r| Some(r.ours.records as i64)).collect()),
        Values::Int(rows.iter().map(|r| Some(r.theirs.rows as i64)).collect()),
        Values::Text(
            rows.iter()
                .map(|r| {
                    let types: Vec<&str> =
                        r.theirs.usage_types.iter().map(String::as_str).collect();
                    Some(types.join(" ")).filter(|t| !t.is_empty())
                })
                .collect(),
        ),
        Values::Text(rows.iter().map(|r| Some(r.alert.to_string())).collect()),
    ]);
    let table = table_of(&schema, values);
    (schema, table)
}

/// Unmapped rows per table chunk written.
const UNMAPPED_CHUNK: usize = 65_536;

fn unmapped_schema() -> Schema {
    use Kind::{Int, Text};
    schema_of(vec![
        ("source", Text),
        ("row", Int),
        ("line_item_type", Text),
        ("product_code", Text),
        ("usage_type", Text),
        ("reason", Text),
        ("unblended_cost", Text),
        ("net_unblended_cost", Text),
    ])
}

fn unmapped_table(rows: &[Unmapped]) -> Table {
    let text = |f: &dyn Fn(&Unmapped) -> &str| {
        Values::Text(rows.iter().map(|r| Some(f(r).to_string())).collect())
    };
    let values = vec![
        text(&|r| &r.source),
        Values::Int(rows.iter().map(|r| Some(r.row as i64)).collect()),
        text(&|r| &r.line_item_type),
        text(&|r| &r.product_code),
        text(&|r| &r.usage_type),
        text(&|r| &r.reason),
        text(&|r| &r.unblended),
        text(&|r| &r.net),
    ];
    table_of(&unmapped_schema(), values)
}

/// One true-up line: a bucket's billed net cost, or a key's share of it.
struct Share {
    key: Key,
    by: String,
    billrun_cost: i128,
    cost: i128,
}

/// Each compared bucket's billed net cost, shared over the run's `by` values in
/// proportion to their exact list cost (by quantity where the bucket's cost is 0);
/// billed cost with no usage of the run (only in the bill, adjustments, or a
/// bucket whose usage weighs nothing) is `(unattributed)`.
fn true_up(compared: &[Compared], shares: &ours::Shares) -> Result<Vec<Share>> {
    let mut out = Vec::new();
    for c in compared {
        let net = c.theirs.amounts.net;
        let empty = BTreeMap::new();
        let parts = match c.status {
            "adjustment" => &empty,
            _ => shares.get(&c.key).unwrap_or(&empty),
        };
        let by_cost: Vec<u128> = parts.values().map(|o| o.cost.max(0) as u128).collect();
        let by_quantity: Vec<u128> = parts.values().map(|o| o.quantity.max(0) as u128).collect();
        let split = trueup::share(net, &by_cost).or_else(|| trueup::share(net, &by_quantity));
        match split {
            Some(split) => {
                for ((by, o), cost) in parts.iter().zip(split) {
                    out.push(Share {
                        key: c.key.clone(),
                        by: by.clone(),
                        billrun_cost: o.cost,
                        cost,
                    });
                }
            }
            None if net != 0 || parts.is_empty() => out.push(Share {
                key: c.key.clone(),
                by: UNATTRIBUTED.to_string(),
                billrun_cost: parts
                    .values()
                    .try_fold(0, |t, o| map::exact_sum(t, o.cost))
                    .ok_or_else(overflow)?,
                cost: net,
            }),
            None => {}
        }
    }
    Ok(out)
}

fn trueup_table(by: &str, rows: &[Share]) -> (Schema, Table) {
    use Kind::Text;
    let mut columns = key_columns();
    columns.extend([
        (by, Text),
        ("billrun_list_cost", Kind::Money),
        ("cost", Kind::Money),
    ]);
    let schema = schema_of(columns);
    let keys: Vec<&Key> = rows.iter().map(|r| &r.key).collect();
    let mut values = key_values(&keys);
    values.extend([
        Values::Text(rows.iter().map(|r| Some(r.by.clone())).collect()),
        Values::Money(
            rows.iter()
                .map(|r| Money::from_unscaled(r.billrun_cost))
                .collect(),
        ),
        Values::Money(rows.iter().map(|r| Money::from_unscaled(r.cost)).collect()),
    ]);
    let table = table_of(&schema, values);
    (schema, table)
}
