//! Capacity billing: hand-computed cases and the split-period invariants.

use super::imported::derived_runs;
use super::span::{MICROS_PER_HOUR, MICROS_PER_MINUTE, WINDOW};
use super::*;
use crate::catalog::PriceCatalog;
use crate::time::parse_instant;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

static CATALOG: LazyLock<PriceCatalog> = LazyLock::new(|| PriceCatalog::embedded().unwrap());

fn at(s: &str) -> i64 {
    parse_instant(s).unwrap()
}

fn biller(window: (Option<i64>, Option<i64>), hours: HourPolicy) -> Biller<'static> {
    Biller {
        catalog: &CATALOG,
        window,
        cut: None,
        hours,
    }
}

fn write(dir: &Path, name: &str, header: &str, rows: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path
}

fn total(charges: &[Charge]) -> i128 {
    charges.iter().map(|c| c.cost.unscaled()).sum()
}

const PT_HEADER: &str =
    "provisioned_model_id,model_id,region,account_id,model_units,commitment,start,end";

fn pt_cost(path: &Path, window: (Option<i64>, Option<i64>), hours: HourPolicy) -> i128 {
    let table = read_provisioned(path).unwrap();
    let billed = bill_provisioned(&biller(window, hours), &table).unwrap();
    assert!(billed.rejects.is_empty(), "{:?}", billed.rejects);
    total(&billed.charges)
}

#[test]
fn partial_hours_under_both_policies() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MU, 10:20 to 12:40: three started hours, or 7/3 exact hours, × $44.00.
    let rows = ["pm,anthropic.claude-instant-v1,us-east-1,1,1,none,2025-12-03T10:20:00Z,2025-12-03T12:40:00Z".to_string()];
    let path = write(dir.path(), "pt.csv", PT_HEADER, &rows);
    let dollars = 1_000_000_000_000;
    assert_eq!(
        pt_cost(&path, (None, None), HourPolicy::Started),
        132 * dollars
    );
    assert_eq!(
        pt_cost(&path, (None, None), HourPolicy::Exact),
        102_666_666_666_667,
        "44 × 7/3 = 102.666…, rounded half-even at 12 places"
    );
}

#[test]
fn derived_windows_scale_to_zero_and_reanchor() {
    let m = |s: &str| at(&format!("2025-12-02T{s}Z"));
    let times = [
        m("09:00:00"),
        m("09:04:00"),
        m("09:07:00"),
        m("09:16:00"),
        m("09:21:30"),
    ];
    // 09:00 anchors [09:00, 09:05) and 09:04 is in it; 09:07 bills [09:05, 09:10);
    // [09:10, 09:15) is empty: scaled to zero. 09:16 anchors a new run; 09:21:30 is in
    // its second window [09:21, 09:26).
    assert_eq!(
        derived_runs(&times),
        vec![(m("09:00:00"), 2), (m("09:16:00"), 2)]
    );
    assert_eq!(derived_runs(&[m("08:03:00")]), vec![(m("08:03:00"), 1)]);
    assert_eq!(derived_runs(&[]), vec![]);
}

fn hours(n: i64) -> i64 {
    n * MICROS_PER_HOUR
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two runs over the halves of a period bill what one run over the whole bills:
    /// exactly for started hours (each hour belongs to the run its start is in) and
    /// for exact hours on whole hours; otherwise within one rounding (10^-12).
    #[test]
    fn provisioned_split_periods_add_up(
        records in prop::collection::vec((0i64..1_400, 1i64..2_000, 1u8..4, 0usize..3), 1..4),
        split in 0i64..1_500,
        minutes in prop::bool::ANY,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = at("2025-11-20");
        // On whole hours, or at odd minutes.
        let unit = if minutes { 7 * MICROS_PER_MINUTE } else { MICROS_PER_HOUR };
        let rows: Vec<String> = records.iter().enumerate().map(|(i, &(start, len, mu, term))| {
            let start = base + start * unit;
            format!(
                "pm{i},anthropic.claude-instant-v1,us-east-1,1,{mu},{},{},{}",
                ["none", "1-month", "6-month"][term],
                crate::time::format_instant(start),
                crate::time::format_instant(start + len * unit),
            )
        }).collect();
        let path = write(dir.path(), "pt.csv", PT_HEADER, &rows);
        let (from, to) = (base, base + hours(24 * 200));
        let cut = base + split * unit;
        for policy in [HourPolicy::Started, HourPolicy::Exact] {
            let whole = pt_cost(&path, (Some(from), Some(to)), policy);
            let parts = pt_cost(&path, (Some(from), Some(cut)), policy)
                + pt_cost(&path, (Some(cut), Some(to)), policy);
            if policy == HourPolicy::Started || !minutes {
                prop_assert_eq!(whole, parts);
            } else {
                prop_assert!((whole - parts).abs() <= rows.len() as i128, "{} vs {}", whole, parts);
            }
        }
    }

    /// Explicit copy activity: windows are anchored at each merged run's start and
    /// belong to the run their start falls in, so any split adds up exactly.
    #[test]
    fn copy_windows_split_anywhere_add_up(
        intervals in prop::collection::vec((0i64..600, 1i64..90, 0u8..2), 1..8),
        split in 0i64..700,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let arn = "arn:aws:bedrock:us-east-1:111122223333:imported-model/m";
        let registry = write(dir.path(), "m.csv", "model_arn,cmu_per_copy,cmu_version,architecture,created,deleted",
            &[format!("{arn},2,1.0,llama,2025-11-01,2026-02-01")]);
        let base = at("2025-12-10");
        let rows: Vec<String> = intervals.iter().map(|&(start, len, copy)| {
            let s = base + start * MICROS_PER_MINUTE;
            format!("{arn},c{copy},us-east-1,1,{},{}",
                crate::time::format_instant(s),
                crate::time::format_instant(s + len * MICROS_PER_MINUTE))
        }).collect();
        let copies = write(dir.path(), "c.csv", "model_arn,copy_id,region,account_id,active_start,active_end", &rows);
        let cost = |window| {
            let b = biller(window, HourPolicy::Started);
            let (mut registry, _) = load_registry(&[&registry], &b).unwrap();
            let billed = bill_copies(&b, &mut registry, &copies).unwrap();
            assert!(billed.rejects.is_empty());
            total(&billed.charges)
        };
        let cut = base + split * MICROS_PER_MINUTE;
        let (from, to) = (at("2025-12-01"), at("2026-01-01"));
        prop_assert_eq!(cost((Some(from), Some(to))), cost((Some(from), Some(cut))) + cost((Some(cut), Some(to))));
    }

    /// Windows derived from invocations add up across runs split between two
    /// activity runs (a split inside one would re-anchor it: documented).
    #[test]
    fn derived_windows_split_between_runs_add_up(
        gaps in prop::collection::vec(1i64..1_200, 1..40),
        pick in 0usize..40,
    ) {
        let arn = "arn:aws:bedrock:us-east-1:111122223333:imported-model/m".to_string();
        let model = ImportedModel::for_tests(2, "1.0");
        let registry: Registry = [(arn.clone(), model)].into_iter().collect();
        let base = at("2025-12-10");
        let times: Vec<i64> = gaps.iter().scan(base, |t, g| { *t += g * 1_000_000; Some(*t) }).collect();
        let anchors: Vec<i64> = derived_runs(&times).iter().map(|r| r.0).collect();
        let cut = anchors[pick % anchors.len()];
        let cost = |window: (Option<i64>, Option<i64>), keep: &dyn Fn(i64) -> bool| {
            let mut invocations = HashMap::new();
            invocations.insert((arn.clone(), "us-east-1".to_string(), "1".to_string()),
                times.iter().copied().filter(|t| keep(*t)).collect::<Vec<_>>());
            let (charges, rejects) = bill_derived(&biller(window, HourPolicy::Started), &registry, invocations);
            assert!(rejects.is_empty());
            total(&charges)
        };
        let whole = cost((None, None), &|_| true);
        let parts = cost((None, Some(cut)), &|t| t < cut) + cost((Some(cut), None), &|t| t >= cut);
        prop_assert_eq!(whole, parts);
        prop_assert_eq!(whole % (5 * 2 * 78_500_000_000), 0, "whole windows of 2 CMU × $0.0785");
        let _ = WINDOW;
    }
}
