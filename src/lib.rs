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
    dispatch(cli).unwrap_or_else(|e| {
        eprintln!("billrun: error: {e}");
        EXIT_FATAL
    })
}

/// Runs a parsed command line: its exit code (0 or 1), or the error that stopped it
/// (exit 2). What the Python package calls for every command.
pub fn dispatch(cli: Cli) -> error::Result<i32> {
    match cli.command {
        Command::Run(args) => run_command(*args),
        Command::Prices(args) => prices::run(args),
        Command::Statement(args) => statement::run(&args).map(|()| EXIT_OK),
        Command::Reconcile(args) => reconcile::run(&args),
        Command::Map(args) => map_command(&args),
        Command::Reduce(args) => reduce_command(*args),
        Command::Merge(args) => merge_command(*args),
    }
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
    Ok(exit_code(&report))
}

/// `billrun map`: one shard of the input bucketed by request id.
pub fn map_command(args: &cli::MapArgs) -> error::Result<i32> {
    let cfg = config::map_config(args)?;
    let report = run::map(&cfg)?;
    if !args.quiet {
        eprintln!(
            "billrun: map shard {}/{}: {} file(s), {} records in {} buckets -> {}",
            cfg.shard,
            cfg.shards,
            report.files,
            report.rows,
            cfg.buckets,
            cfg.out.display()
        );
    }
    Ok(EXIT_OK)
}

/// `billrun reduce`: one bucket rated into a partial.
pub fn reduce_command(args: cli::ReduceArgs) -> error::Result<i32> {
    let quiet = args.run.quiet;
    let cfg = config::run_config(args.run)?;
    let p = run::reduce(&cfg, args.bucket)?;
    if !quiet {
        let r = p.rows;
        eprintln!(
            "billrun: bucket {}/{}: {} rows read: {} priced, {} rejected, {} duplicate -> {}",
            p.bucket,
            p.buckets,
            r.read,
            r.priced,
            r.rejected,
            r.duplicate,
            cfg.out.display()
        );
    }
    Ok(EXIT_OK)
}

/// `billrun merge`: the partials into reports; exit codes as for `run`.
pub fn merge_command(args: cli::RunArgs) -> error::Result<i32> {
    let quiet = args.quiet;
    let cfg = config::run_config(args)?;
    let report = run::merge(&cfg)?;
    if !quiet {
        eprintln!("{}", closing_line(&report, &cfg.out));
    }
    Ok(exit_code(&report))
}

fn exit_code(report: &run::RunReport) -> i32 {
    let flagged = report.derived_rejected + report.duplicate_conflicts;
    match report.rows.rejected + flagged > 0 {
        true => EXIT_REJECTS,
        false => EXIT_OK,
    }
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
