//! `--allocation` and `--split-capacity`: chargeback by cost center, exactly.

use super::*;

fn alloc(name: &str) -> String {
    fixture(&format!("allocation/{name}")).display().to_string()
}

/// The shared-PT fixtures with the rules, `--group-by cost_center,usage...`.
fn run_split(split: &str) -> (Output, tempfile::TempDir) {
    let (rules, pt) = (alloc("rules.csv"), alloc("provisioned.csv"));
    let mut extra = vec![
        "--allocation",
        &rules,
        "--provisioned",
        &pt,
        "--group-by",
        "cost_center",
        "--line-items",
    ];
    if !split.is_empty() {
        extra.extend(["--split-capacity", split]);
    }
    run_csv(&[&fixture("allocation/invocations.csv")], &extra)
}

/// `center usage_type quantity cost` per summary row.
fn by_center(dir: &Path) -> Vec<String> {
    read_csv(&dir.join("out/summary.csv"))
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["cost_center"], r["usage_type"], r["quantity"], r["cost"]
            )
        })
        .collect()
}

#[test]
fn rules_allocate_usage_and_capacity_goes_to_its_account_without_a_split() {
    let (o, dir) = run_split("");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = by_center(dir.path());
    // 10 h × 1 MU × $18.40 = $184, to the PT's account 111122223333 → platform.
    assert!(
        lines.contains(&"platform mu_hours 10 184.000000000000".to_string()),
        "{lines:?}"
    );
    // Nova Micro from an account no rule names.
    assert!(lines.contains(&"unallocated input_tokens 1000 0.000035000000".to_string()));
    let m = manifest(dir.path());
    assert_eq!(m["cost_centers"]["platform"]["USD"], "184.000000000000");
    assert_eq!(m["cost_centers"]["unallocated"]["USD"], "0.000175000000");
    assert_eq!(m["totals"]["USD"], "184.000175000000");
}

#[test]
fn shared_capacity_splits_by_tokens_or_evenly_and_the_parts_add_up_exactly() {
    // Tokens on the shared PT: search 300, ads 100, creative 100 (of 500).
    let (_, dir) = run_split("tokens");
    let lines = by_center(dir.path());
    for want in [
        "search mu_hours 6 110.400000000000",
        "ads mu_hours 2 36.800000000000",
        "creative mu_hours 2 36.800000000000",
    ] {
        assert!(lines.contains(&want.to_string()), "{want} not in {lines:?}");
    }
    // Evenly among 3 centers: $184 / 3 = 61.333…, the leftover 10^-12 to the first.
    let (_, dir) = run_split("even");
    let lines = by_center(dir.path());
    for want in [
        "ads mu_hours 3.333333333334 61.333333333334",
        "creative mu_hours 3.333333333333 61.333333333333",
        "search mu_hours 3.333333333333 61.333333333333",
    ] {
        assert!(lines.contains(&want.to_string()), "{want} not in {lines:?}");
    }
    let m = manifest(dir.path());
    assert_eq!(m["totals"]["USD"], "184.000175000000");
    let centers: rust_decimal::Decimal = m["cost_centers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| {
            c["USD"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(centers.to_string(), "184.000175000000");
    // Line items carry the center and add up to the summary.
    let items = read_csv(&dir.path().join("out/line_items.csv"));
    let summary = read_csv(&dir.path().join("out/summary.csv"));
    assert_eq!(
        sum_money(items.iter().map(|r| r["cost"].clone())),
        sum_money(summary.iter().map(|r| r["cost"].clone()))
    );
    assert!(items.iter().all(|r| !r["cost_center"].is_empty()));
}

#[test]
fn cost_center_grouping_needs_rules() {
    let (o, _) = run_csv(&[&fixture("usage")], &["--group-by", "cost_center"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs --allocation"), "{}", stderr(&o));
}

#[test]
fn a_statement_rounds_each_center_to_cents_and_reconciles_with_a_residue_line() {
    let rules = alloc("rules.csv");
    let (o, dir) = run_csv(
        &[&fixture("usage")],
        &["--allocation", &rules, "--group-by", "cost_center,month"],
    );
    assert!(o.status.code().unwrap() < 2, "{}", stderr(&o));
    let out = dir.path().join("out");
    let statement = dir.path().join("statement.csv");
    let s = billrun(&[
        "statement",
        out.to_str().unwrap(),
        "--period",
        "2025-11",
        "--output",
        statement.to_str().unwrap(),
    ]);
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    let rows = read_csv(&statement);
    let line = |k: &str| rows.iter().find(|r| r["cost_center"] == k).unwrap().clone();
    assert_eq!(line("ads")["cost"], "3.32");
    assert_eq!(line("ads")["exact_cost"], "3.319500000000");
    let centers: Vec<_> = rows
        .iter()
        .filter(|r| !r["cost_center"].starts_with('('))
        .collect();
    let exact = sum_money(centers.iter().map(|r| r["exact_cost"].clone()));
    assert_eq!(
        exact.to_string(),
        manifest(dir.path())["totals"]["USD"].as_str().unwrap()
    );
    let rounded = sum_money(centers.iter().map(|r| r["cost"].clone()));
    let residue = sum_money(std::iter::once(line("(rounding residue)")["cost"].clone()));
    let total = line("(total)");
    // 3.32 + 0.08 + 0.14 + 3.01 + 0.19 = 6.74; 6.74513436 rounds to 6.75.
    assert_eq!(total["cost"], "6.75");
    assert_eq!((rounded + residue).to_string(), "6.75");
    // Another month: nothing but the header and a zero total is not invented.
    let empty = billrun(&["statement", out.to_str().unwrap(), "--period", "2025-12"]);
    assert_eq!(String::from_utf8_lossy(&empty.stdout).lines().count(), 1);
}

#[test]
fn a_statement_refuses_a_summary_it_cannot_place_in_the_month() {
    let (_, dir) = run_csv(&[&fixture("usage")], &[]);
    let s = billrun(&[
        "statement",
        dir.path().join("out").to_str().unwrap(),
        "--by",
        "model_id",
        "--period",
        "2025-11",
    ]);
    assert_eq!(s.status.code(), Some(2));
    assert!(
        stderr(&s).contains("no month or day column"),
        "{}",
        stderr(&s)
    );
}
