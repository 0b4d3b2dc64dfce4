//! Integration tests: the `billrun` binary on fixtures and small inline inputs.
//! This file is the harness; `tables`, `logs` and `capacity` hold the tests.

mod allocation;
mod capacity;
mod dedup;
mod focus;
mod hardening;
mod logs;
mod outdir;
mod partitions;
mod pricelist;
mod reconcile;
mod stages;
mod tables;

use polars::prelude::{DataType, ParquetReader, SerReader};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type Rows = Vec<BTreeMap<String, String>>;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn billrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_billrun"))
        .args(args)
        .output()
        .expect("billrun runs")
}

/// `--provisioned`, `--imported-models`, `--copies` and `--customization` with the
/// capacity fixtures.
fn capacity_flags() -> Vec<String> {
    let cap = |n: &str| fixture(&format!("capacity/{n}")).display().to_string();
    [
        ("--provisioned", "provisioned.csv"),
        ("--imported-models", "imported_models.csv"),
        ("--copies", "copies.csv"),
        ("--customization", "customization.csv"),
    ]
    .into_iter()
    .flat_map(|(flag, file)| [flag.to_string(), cap(file)])
    .collect()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `billrun run INPUTS --out OUT --quiet EXTRA...`.
fn run_into(inputs: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["--out".into(), out.display().to_string(), "--quiet".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(env!("CARGO_BIN_EXE_billrun"))
        .args(&args)
        .output()
        .unwrap()
}

/// Runs `billrun run` with CSV reports into a fresh directory (`<dir>/out`).
fn run_csv(inputs: &[&Path], extra: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let o = run_into(
        inputs,
        &dir.path().join("out"),
        &[&["--format", "csv"], extra].concat(),
    );
    (o, dir)
}

/// Prices inline rows against fixtures/catalogs/price-change.csv, with line items.
fn run_with_test_catalog(header: &str, rows: &[&str]) -> (Output, tempfile::TempDir) {
    let input_dir = tempfile::tempdir().unwrap();
    let input = usage_file(input_dir.path(), "u.csv", header, rows);
    let catalog = fixture("catalogs/price-change.csv");
    run_csv(
        &[&input],
        &["--line-items", "--prices", catalog.to_str().unwrap()],
    )
}

/// The chosen fields of every line item, space-separated.
fn line_item_fields(dir: &Path, fields: &[&str]) -> Vec<String> {
    read_csv(&dir.join("out/line_items.csv"))
        .iter()
        .map(|r| {
            fields
                .iter()
                .map(|f| r[*f].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn read_csv(path: &Path) -> Rows {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .map(String::from)
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("out/manifest.json")).unwrap()).unwrap()
}

/// Writes a canonical usage CSV with the given header and rows.
fn usage_file(dir: &Path, name: &str, header: &str, rows: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path
}

fn sum_money(values: impl Iterator<Item = String>) -> rust_decimal::Decimal {
    values
        .map(|v| v.parse::<rust_decimal::Decimal>().unwrap())
        .sum()
}

/// Runs with parquet output and returns the bytes of every report but the manifest.
fn parquet_reports(inputs: &[&Path], extra: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_into(inputs, &out, &[&["--line-items"], extra].concat());
    assert!(o.status.code().unwrap() < 2, "{}", stderr(&o));
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}
