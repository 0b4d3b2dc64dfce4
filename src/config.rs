//! Raw arguments → a validated `RunConfig` (group keys parsed, catalog loaded,
//! thread pools sized).

use crate::capacity::{CapacityFiles, HourPolicy};
use crate::catalog::PriceCatalog;
use crate::catalog::aliases::Aliases;
use crate::cli::{
    ChargePeriodArg, DedupArg, FormatArg, MapArgs, PartitionArg, PtHoursArg, RunArgs, SplitArg,
};
use crate::error::{Error, Locus, Result, clip};
use crate::pricing::allocate::{Allocation, CapacitySplit};
use crate::pricing::group::GroupKey;
use crate::report::output::Partitioning;
use crate::report::sink::Format;
use crate::run::{DedupMode, MapConfig, RunConfig};
use crate::time::parse_instant;
use std::collections::HashMap;
use std::path::Path;

pub fn run_config(args: RunArgs) -> Result<RunConfig> {
    let group_by = parse_group_by(&args.group_by)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match args.threads {
        Some(0) => return Err(Error::Usage("--threads must be at least 1".into())),
        Some(n) if n > max_threads(cores) => {
            return Err(Error::Usage(format!(
                "--threads {n} is more than {} (4 per core on this machine's {cores}); more threads only add memory",
                max_threads(cores)
            )));
        }
        Some(n) => n,
        None => cores,
    };
    if args.batch_rows == 0 {
        return Err(Error::Usage("--batch-rows must be at least 1".into()));
    }
    let capacity = CapacityFiles {
        provisioned: args.provisioned,
        copies: args.copies,
        imported_models: args.imported_models,
        customization: args.customization,
    };
    if args.inputs.is_empty() && capacity.is_empty() {
        return Err(Error::Usage(
            "nothing to price: give usage INPUT paths or capacity tables (--provisioned, --imported-models, --copies, --customization)".into(),
        ));
    }
    let window = (
        instant(args.from.as_deref(), "--from")?,
        instant(args.to.as_deref(), "--to")?,
    );
    if let (Some(from), Some(to)) = window
        && to <= from
    {
        return Err(Error::Usage(format!(
            "--to {} is not after --from {}: the window [from, to) would hold no usage",
            args.to.as_deref().unwrap_or_default(),
            args.from.as_deref().unwrap_or_default()
        )));
    }
    let partition = args.partition_by.map(|p| Partitioning {
        key: match p {
            PartitionArg::Day => GroupKey::Day,
            PartitionArg::Month => GroupKey::Month,
        },
    });
    if let (Some(p), (Some(from), Some(to))) = (&partition, window) {
        p.covered(from, to)?;
    }
    let allocation = match &args.allocation {
        Some(path) => Allocation::load(path).map_err(Error::Usage)?,
        None => Allocation::default(),
    };
    if allocation.is_empty() && group_by.contains(&GroupKey::CostCenter) {
        return Err(Error::Usage(
            "--group-by cost_center needs --allocation FILE (rules mapping usage to cost centers)"
                .into(),
        ));
    }
    size_thread_pools(threads)?;
    Ok(RunConfig {
        inputs: args.inputs,
        out: args.out,
        format: match args.format {
            FormatArg::Parquet | FormatArg::Focus => Format::Parquet,
            FormatArg::Csv => Format::Csv,
        },
        focus: (args.format == FormatArg::Focus).then_some(match args.charge_period {
            ChargePeriodArg::Hour => GroupKey::Hour,
            ChargePeriodArg::Day => GroupKey::Day,
        }),
        group_by,
        line_items: args.line_items,
        threads,
        quiet: args.quiet,
        catalog: {
            let mut catalog = load_catalog(args.prices.as_deref())?;
            catalog.aliases =
                Aliases::with_file(args.aliases.as_deref()).map_err(Error::Catalog)?;
            catalog
        },
        batch_rows: args.batch_rows,
        window,
        partition,
        allocation,
        replace: args.replace,
        dedup: match args.dedup {
            DedupArg::Auto => DedupMode::Auto,
            DedupArg::Memory => DedupMode::Memory,
            DedupArg::Disk => DedupMode::Disk,
        },
        split: args.split_capacity.map(|s| match s {
            SplitArg::Tokens => CapacitySplit::Tokens,
            SplitArg::Even => CapacitySplit::Even,
        }),
        profiles: match args.profiles {
            Some(path) => load_profiles(&path)?,
            None => HashMap::new(),
        },
        capacity,
        pt_hours: match args.pt_hours {
            PtHoursArg::Started => HourPolicy::Started,
            PtHoursArg::Exact => HourPolicy::Exact,
        },
    })
}

/// Raw `map` arguments → a validated `MapConfig`.
pub fn map_config(args: &MapArgs) -> Result<MapConfig> {
    let bad_shard = || {
        Error::Usage(format!(
            "--shard {}: write K/M with 0 <= K < M, e.g. 0/4",
            args.shard
        ))
    };
    let (k, m) = args.shard.split_once('/').ok_or_else(bad_shard)?;
    let (shard, shards): (u32, u32) = (
        k.trim().parse().map_err(|_| bad_shard())?,
        m.trim().parse().map_err(|_| bad_shard())?,
    );
    if shard >= shards {
        return Err(bad_shard());
    }
    if !(1..=MAX_BUCKETS).contains(&args.buckets) {
        return Err(Error::Usage(format!(
            "--buckets {}: give 1 to {MAX_BUCKETS}",
            args.buckets
        )));
    }
    if args.batch_rows == 0 {
        return Err(Error::Usage("--batch-rows must be at least 1".into()));
    }
    Ok(MapConfig {
        inputs: args.inputs.clone(),
        out: args.out.clone(),
        buckets: args.buckets,
        shard,
        shards,
        window: (
            instant(args.from.as_deref(), "--from")?,
            instant(args.to.as_deref(), "--to")?,
        ),
        batch_rows: args.batch_rows,
        quiet: args.quiet,
        replace: args.replace,
    })
}

/// The most buckets a map spreads ids over: each is a file per shard.
pub const MAX_BUCKETS: u32 = 4096;

/// The most `--threads` allowed: 4 per core.
pub fn max_threads(cores: usize) -> usize {
    4 * cores.max(1)
}

fn instant(value: Option<&str>, flag: &str) -> Result<Option<i64>> {
    value
        .map(|v| {
            parse_instant(v).ok_or_else(|| {
                Error::Usage(format!(
                    "{flag} \"{}\" is not RFC 3339 or YYYY-MM-DD",
                    crate::error::clip(v)
                ))
            })
        })
        .transpose()
}

/// `arn,model_id` rows; a header row is recognised by its `arn` column.
fn load_profiles(path: &Path) -> Result<HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .map_err(|e| Error::input(path, e))?;
    let mut profiles = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::input(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
        let (arn, model) = (
            record.get(0).unwrap_or("").trim(),
            record.get(1).unwrap_or("").trim(),
        );
        if line == 1 && arn == "arn" {
            continue;
        }
        if !arn.starts_with("arn:") || model.is_empty() {
            return Err(Error::input_at(
                path,
                Locus::Line(line),
                format!(
                    "expected `arn,model_id`, found \"{}\", \"{}\"",
                    clip(arn),
                    clip(model)
                ),
            ));
        }
        if profiles
            .insert(arn.to_string(), model.to_string())
            .is_some()
        {
            return Err(Error::input_at(
                path,
                Locus::Line(line),
                format!("{} is mapped twice", clip(arn)),
            ));
        }
    }
    Ok(profiles)
}

/// The catalog in `path`, or the embedded one.
pub fn load_catalog(path: Option<&Path>) -> Result<PriceCatalog> {
    match path {
        Some(p) => PriceCatalog::from_file(p),
        None => PriceCatalog::embedded(),
    }
    .map_err(Error::Catalog)
}

fn parse_group_by(text: &str) -> Result<Vec<GroupKey>> {
    let mut keys = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let key = GroupKey::parse(part).ok_or_else(|| Error::Usage(format!(
            "--group-by: unknown key \"{part}\" (expected model_id, mode, region, scope, service_tier, account_id, principal, hour, day, month, tag:<key>, tags, resource or cost_center)"
        )))?;
        if keys.contains(&key) {
            return Err(Error::Usage(format!(
                "--group-by: \"{part}\" is given twice"
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Sizes rayon's pool and polars' pool before either starts: once per process (a
/// process that runs billrun again, as the Python package may, keeps the size).
fn size_thread_pools(threads: usize) -> Result<()> {
    static SIZED: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let mut outcome = Ok(());
    let sized = *SIZED.get_or_init(|| {
        // SAFETY: the first run of the process, before billrun or polars start a
        // thread (polars reads this variable once, when its pool is first used).
        unsafe { std::env::set_var("POLARS_MAX_THREADS", threads.to_string()) };
        outcome = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| Error::Usage(format!("--threads {threads}: {e}")));
        threads
    });
    outcome?;
    match sized == threads {
        true => Ok(()),
        false => Err(Error::Usage(format!(
            "--threads {threads}: this process already runs billrun on {sized} threads (the pools are sized once per process)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_keeps_order_and_rejects_unknown_or_repeated() {
        let keys = parse_group_by("region, tag:team,day").unwrap();
        assert_eq!(
            keys,
            vec![
                GroupKey::Region,
                GroupKey::Tag("team".into()),
                GroupKey::Day
            ]
        );
        assert!(parse_group_by("region,colour").is_err());
        assert!(parse_group_by("region,region").is_err());
        assert_eq!(parse_group_by("").unwrap(), vec![]);
    }
}
