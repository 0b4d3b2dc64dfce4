//! billrun: exact cost reports from Amazon Bedrock usage.
//!
//! The pipeline reads like the modules: `ingest` finds and reads usage files as
//! columnar batches, `resolve` maps model ids and inference profiles to a base model
//! and scope, `catalog` holds the effective-dated prices, `pricing` rates rows
//! exactly, `report` writes the summary, line items, rejects and manifest. `run` ties
//! them together; `execute` maps an outcome to the documented exit codes.

pub mod capacity;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod error;
pub mod ingest;
pub mod prices;
pub mod pricing;
pub mod progress;
pub mod reconcile;
pub mod replace;
pub mod report;
pub mod resolve;
pub mod run;
pub mod statement;
pub mod time;
pub mod vocab;

use cli::{Cli, Command};

/// Exit code: every row priced.
pub const EXIT_OK: i32 = 0;
/// Exit code: reports written, some rows rejected (or `prices --check` found problems).
pub const EXIT_REJECTS: i32 = 1;
/// Exit code: fatal error, nothing written.
pub const EXIT_FATAL: i32 = 2;

/// Runs a parsed command line and returns the process exit code.
pub fn execute(cli: Cli) -> i32 {
    let outcome = match cli.command {
        Command::Run(args) => run_command(*args),
        Command::Prices(args) => prices::run(args),
        Command::Statement(args) => statement::run(&args).map(|()| EXIT_OK),
        Command::Reconcile(args) => reconcile::run(&args),
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("billrun: error: {e}");
        EXIT_FATAL
    })
}

/// `billrun run`: the exit code (0 or 1) once the reports are written, or the error
/// that stopped it (exit 2). Also what the Python package calls.
pub fn run_command(args: cli::RunArgs) -> error::Result<i32> {
    let quiet = args.quiet;
    let cfg = config::run_config(args)?;
    let report = run::run(&cfg)?;
    if !quiet {
        eprintln!("{}", closing_line(&report, &cfg.out));
    }
    let flagged = report.derived_rejected + report.duplicate_conflicts;
    Ok(match report.rows.rejected + flagged > 0 {
        true => EXIT_REJECTS,
        false => EXIT_OK,
    })
}

fn closing_line(report: &run::RunReport, out: &std::path::Path) -> String {
    let r = report.rows;
    let totals: Vec<String> = report
        .totals
        .iter()
        .map(|(c, m)| format!("{c} {m}"))
        .collect();
    let totals = if totals.is_empty() {
        "0".to_string()
    } else {
        totals.join(", ")
    };
    format!(
        "billrun: {} rows read: {} priced, {} rejected, {} duplicate; total {totals} -> {}",
        r.read,
        r.priced,
        r.rejected,
        r.duplicate,
        out.display()
    )
}
