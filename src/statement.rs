//! `billrun statement`: one month of a run's summary, totalled per cost center (or
//! another key) and rounded to cents, with the rounding made visible.
//!
//! Lines are the exact totals of each key, rounded to cents by the chosen rule
//! (half-even by default). The rounded lines need not add up to the rounded total,
//! so a `(rounding residue)` line carries the difference: lines + residue = the
//! `(total)` line = the exact total rounded once.

use crate::cli::{RoundingArg, StatementArgs};
use crate::error::{Error, Result};
use crate::vocab::money::Money;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Unscaled units (10^-12) in a cent.
const CENT: i128 = 10_000_000_000;

/// One summary row, as the statement needs it.
struct Line {
    key: String,
    currency: String,
    cost: Money,
    /// The row's `month` or `day` value, when the summary has one.
    when: Option<String>,
}

pub fn run(args: &StatementArgs) -> Result<()> {
    let period = args.period.trim();
    let valid = period.len() == 7 && crate::time::parse_instant(&format!("{period}-01")).is_some();
    if !valid {
        return Err(Error::Usage(format!(
            "--period \"{period}\" is not YYYY-MM"
        )));
    }
    let mut totals: BTreeMap<(String, String), Money> = BTreeMap::new();
    let files = summary_files(&args.reports)?;
    let check_window = files.iter().all(|(_, label)| label.is_none());
    let mut window_checked = false;
    for (file, label) in &files {
        if label.as_deref().is_some_and(|l| !l.starts_with(period)) {
            continue;
        }
        for line in read_summary(file, &args.by)? {
            let in_period = match (&line.when, label) {
                (Some(when), _) => when.starts_with(period),
                (None, Some(_)) => true,
                (None, None) => {
                    if check_window && !window_checked {
                        run_within(&args.reports, period)?;
                        window_checked = true;
                    }
                    true
                }
            };
            if in_period {
                let t = totals.entry((line.currency, line.key)).or_default();
                *t = t
                    .checked_add(line.cost)
                    .ok_or_else(|| Error::input_msg(file, "a total overflows DECIMAL(38, 12)"))?;
            }
        }
    }
    let text = render(&args.by, &totals, args.rounding);
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|e| Error::output(path, e)),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| Error::output("stdout", e)),
    }
}

/// The statement CSV.
fn render(by: &str, totals: &BTreeMap<(String, String), Money>, rule: RoundingArg) -> String {
    let mut out = format!("{by},currency,exact_cost,cost,rounding\n");
    let currencies: Vec<&String> = {
        let mut c: Vec<&String> = totals.keys().map(|(c, _)| c).collect();
        c.dedup();
        c
    };
    for currency in currencies {
        let (mut exact, mut rounded) = (0i128, 0i128);
        for ((c, key), cost) in totals.iter().filter(|((c, _), _)| c == currency) {
            let cents = to_cents(cost.unscaled(), rule);
            exact += cost.unscaled();
            rounded += cents;
            out += &row(key, c, Some(cost.unscaled()), cents);
        }
        let total = to_cents(exact, rule);
        out += &row("(rounding residue)", currency, None, total - rounded);
        out += &row("(total)", currency, Some(exact), total);
    }
    out
}

fn row(key: &str, currency: &str, exact: Option<i128>, cents: i128) -> String {
    let exact_text = exact.map_or(String::new(), |e| Money::from_unscaled(e).to_string());
    let rounding = cents * CENT - exact.unwrap_or(0);
    let quote = |s: &str| match s.contains([',', '"', '\n']) {
        true => format!("\"{}\"", s.replace('"', "\"\"")),
        false => s.to_string(),
    };
    format!(
        "{},{},{exact_text},{},{}\n",
        quote(key),
        quote(currency),
        format_cents(cents),
        Money::from_unscaled(rounding)
    )
}

/// Rounds an unscaled amount to whole cents.
fn to_cents(unscaled: i128, rule: RoundingArg) -> i128 {
    let (q, r) = (unscaled.div_euclid(CENT), unscaled.rem_euclid(CENT));
    let up = match rule {
        RoundingArg::HalfUp => 2 * r > CENT || (2 * r == CENT && unscaled >= 0),
        RoundingArg::HalfEven => 2 * r > CENT || (2 * r == CENT && q % 2 != 0),
    };
    q + i128::from(up)
}

fn format_cents(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// The summary file(s) of a run: `summary.*`, or every `summary/<col>=<value>/part-0.*`
/// with its partition value.
fn summary_files(dir: &Path) -> Result<Vec<(PathBuf, Option<String>)>> {
    // A reconciliation's true-up (`reconcile --true-up`) reads like a summary.
    for stem in ["summary", "trueup"] {
        for ext in ["parquet", "csv"] {
            let single = dir.join(format!("{stem}.{ext}"));
            if single.is_file() {
                return Ok(vec![(single, None)]);
            }
        }
    }
    let parts = dir.join("summary");
    let entries = std::fs::read_dir(&parts).map_err(|_| {
        Error::input_msg(
            dir,
            "no summary.parquet, summary.csv, summary/ partitions or trueup.* here",
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let part = entry.map_err(|e| Error::input(&parts, e))?.path();
        let name = part
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some((_, label)) = name.split_once('=') else {
            continue;
        };
        for ext in ["parquet", "csv"] {
            let file = part.join(format!("part-0.{ext}"));
            if file.is_file() {
                files.push((file, Some(label.to_string())));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A summary without dates counts for the period only if its run's `--from`/`--to`
/// lie within the month.
fn run_within(dir: &Path, period: &str) -> Result<()> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::input(&path, e))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::input(&path, e))?;
    let bound = |k: &str| manifest["options"][k].as_str().map(str::to_string);
    let start = crate::time::parse_instant(&format!("{period}-01")).unwrap_or(0);
    let end = crate::time::next_month_start(start);
    let inside = |v: Option<String>, is_end: bool| {
        v.and_then(|v| crate::time::parse_instant(&v))
            .is_some_and(|t| if is_end { t <= end } else { t >= start })
    };
    if inside(bound("from"), false) && inside(bound("to"), true) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{}: the summary has no month or day column and the run's --from/--to are not inside {period}: rerun with --group-by ...,month, --partition-by, or --from/--to for the month",
        dir.display()
    )))
}

/// Reads the `by`, `currency`, `cost` (and `month` or `day`) columns of a summary.
fn read_summary(file: &Path, by: &str) -> Result<Vec<Line>> {
    let missing = |found: String| Error::MissingColumn {
        path: file.to_path_buf(),
        column: by.to_string(),
        found,
    };
    if file.extension().is_some_and(|e| e == "csv") {
        let mut reader = csv::Reader::from_path(file).map_err(|e| Error::input(file, e))?;
        let header = reader.headers().map_err(|e| Error::input(file, e))?.clone();
        let col = |n: &str| header.iter().position(|h| h == n);
        let (key, currency, cost) = (col(by), col("currency"), col("cost"));
        let when = col("month").or(col("day"));
        let (Some(key), Some(currency), Some(cost)) = (key, currency, cost) else {
            return Err(missing(header.iter().collect::<Vec<_>>().join(", ")));
        };
        let mut lines = Vec::new();
        for record in reader.records() {
            let r = record.map_err(|e| Error::input(file, e))?;
            let money = rust_decimal::Decimal::from_str(&r[cost])
                .ok()
                .and_then(Money::from_decimal)
                .ok_or_else(|| {
                    Error::input_msg(file, format!("cost \"{}\" is not a decimal", &r[cost]))
                })?;
            lines.push(Line {
                key: r[key].to_string(),
                currency: r[currency].to_string(),
                cost: money,
                when: when.map(|w| r[w].to_string()),
            });
        }
        return Ok(lines);
    }
    let f = std::fs::File::open(file).map_err(|e| Error::input(file, e))?;
    let df = ParquetReader::new(f)
        .finish()
        .map_err(|e| Error::input(file, e))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    if !names.iter().any(|n| n == by) {
        return Err(missing(names.join(", ")));
    }
    let text = |n: &str| -> Result<Vec<Option<String>>> {
        let c = df.column(n).map_err(|e| Error::input(file, e))?;
        let s = c.str().map_err(|e| Error::input(file, e))?;
        Ok(s.iter().map(|v| v.map(str::to_string)).collect())
    };
    let cost = df.column("cost").map_err(|e| Error::input(file, e))?;
    if !matches!(cost.dtype(), DataType::Decimal(_, 12)) {
        return Err(Error::input_msg(file, "cost is not DECIMAL(38, 12)"));
    }
    let costs: Vec<Option<i128>> = cost
        .as_materialized_series()
        .decimal()
        .map_err(|e| Error::input(file, e))?
        .physical()
        .iter()
        .collect();
    let when_column = ["month", "day"]
        .into_iter()
        .find(|c| names.iter().any(|n| n == c));
    let when = when_column.map(text).transpose()?;
    let (keys, currencies) = (text(by)?, text("currency")?);
    Ok((0..df.height())
        .map(|i| Line {
            key: keys[i].clone().unwrap_or_default(),
            currency: currencies[i].clone().unwrap_or_default(),
            cost: Money::from_unscaled(costs[i].unwrap_or(0)),
            when: when.as_ref().and_then(|w| w[i].clone()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_round_half_even_or_half_up() {
        let half = CENT / 2;
        assert_eq!(to_cents(2 * CENT + half, RoundingArg::HalfEven), 2);
        assert_eq!(to_cents(3 * CENT + half, RoundingArg::HalfEven), 4);
        assert_eq!(to_cents(2 * CENT + half, RoundingArg::HalfUp), 3);
        assert_eq!(to_cents(2 * CENT + half - 1, RoundingArg::HalfUp), 2);
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(12345), "123.45");
    }

    #[test]
    fn the_residue_line_makes_rounded_lines_add_up_to_the_rounded_total() {
        // Three centers of 0.005 each: each rounds (half-even) to 0.00, the total 0.015
        // to 0.02; the residue line carries the 0.02.
        let t: BTreeMap<(String, String), Money> = ["a", "b", "c"]
            .iter()
            .map(|k| {
                (
                    ("USD".to_string(), k.to_string()),
                    Money::from_unscaled(CENT / 2),
                )
            })
            .collect();
        let text = render("cost_center", &t, RoundingArg::HalfEven);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "a,USD,0.005000000000,0.00,-0.005000000000");
        assert_eq!(lines[4], "(rounding residue),USD,,0.02,0.020000000000");
        assert_eq!(lines[5], "(total),USD,0.015000000000,0.02,0.005000000000");
    }
}
