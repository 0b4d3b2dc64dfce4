//! `billrun prices`: print, check, summarise, import, fetch and update price catalogs.

use crate::catalog::column;
use crate::cli::{self, PricesArgs};
use crate::error::Error;
use crate::{EXIT_OK, EXIT_REJECTS, catalog, config};

/// A catalog row's identity: its meter and window, by column name (an older catalog
/// file may order its columns otherwise).
fn identity_columns() -> impl Iterator<Item = &'static str> {
    const WINDOW: [usize; 2] = [column::EFFECTIVE_FROM, column::EFFECTIVE_TO];
    column::METER
        .iter()
        .chain(&WINDOW)
        .map(|&i| catalog::COLUMNS[i])
}

pub fn run(args: PricesArgs) -> Result<i32, Error> {
    match args.action {
        Some(cli::PricesAction::Import(import)) => return import_prices(&import),
        Some(cli::PricesAction::Fetch(fetch)) => return fetch_prices(&fetch),
        Some(cli::PricesAction::Update(update)) => return update_prices(&update),
        None => {}
    }
    if let Some(path) = args.check {
        if !path.is_file() {
            return Err(Error::input_msg(&path, "no such file"));
        }
        return Ok(match catalog::PriceCatalog::from_file(&path) {
            Ok(c) => {
                println!("{}: ok, {} prices", path.display(), c.rows.len());
                EXIT_OK
            }
            Err(problems) => {
                problems.iter().for_each(|p| eprintln!("{p}"));
                EXIT_REJECTS
            }
        });
    }
    let catalog = config::load_catalog(args.prices.as_deref())?;
    if args.summary {
        print!("{}", catalog_summary(&catalog));
        return Ok(EXIT_OK);
    }
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(std::io::stdout().lock());
    let io = |e: csv::Error| Error::output("stdout", e);
    out.write_record(catalog::COLUMNS).map_err(io)?;
    for row in &catalog.rows {
        out.write_record(&row.raw).map_err(io)?;
    }
    out.flush().map_err(|e| Error::output("stdout", e))?;
    Ok(EXIT_OK)
}

/// `billrun prices import`: Price List files → a catalog that `prices --check`
/// accepts (checked before it is written), and the report of what was not imported.
fn import_prices(args: &cli::ImportArgs) -> Result<i32, Error> {
    let (text, imported) = build_catalog(&args.files, args.aliases.as_deref(), args.history)?;
    match &args.out {
        Some(path) => write_atomically(path, text.as_bytes())?,
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| Error::output("stdout", e))?;
        }
    }
    finish_import(&imported, args.report.as_deref())
}

/// Writes the report, says what was imported; exit 1 if some SKU was not understood.
fn finish_import(
    imported: &catalog::pricelist::Imported,
    report: Option<&std::path::Path>,
) -> Result<i32, Error> {
    if let Some(path) = report {
        write_import_report(path, &imported.skipped)?;
    }
    let unknown = imported.skipped.iter().filter(|s| s.unknown).count();
    eprintln!(
        "billrun: {} prices imported; {} SKUs outside billrun's meters, {unknown} not understood{}",
        imported.rows.len(),
        imported.skipped.len() - unknown,
        if report.is_some() {
            " (see --report)"
        } else {
            " (list them with --report FILE)"
        }
    );
    Ok(if unknown > 0 { EXIT_REJECTS } else { EXIT_OK })
}

/// Price List files → checked catalog text.
fn build_catalog(
    files: &[std::path::PathBuf],
    aliases: Option<&std::path::Path>,
    history: bool,
) -> Result<(String, catalog::pricelist::Imported), Error> {
    let aliases = catalog::aliases::Aliases::with_file(aliases).map_err(Error::Catalog)?;
    let mut texts = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
        texts.push((path.display().to_string(), text));
    }
    let imported = catalog::pricelist::import(&texts, &aliases, history).map_err(Error::Usage)?;
    let mut csv_out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::output_msg("catalog", e.to_string());
    csv_out.write_record(catalog::COLUMNS).map_err(io)?;
    for row in &imported.rows {
        csv_out.write_record(row).map_err(io)?;
    }
    let bytes = csv_out
        .into_inner()
        .map_err(|e| Error::output_msg("catalog", e.to_string()))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    catalog::PriceCatalog::parse("imported catalog", &text).map_err(Error::Catalog)?;
    Ok((text, imported))
}

fn fetch_plan(from: &cli::FetchFrom) -> catalog::fetch::FetchPlan<'_> {
    catalog::fetch::FetchPlan {
        endpoint: &from.endpoint,
        offers: from.offers.clone(),
        regions: from.regions.clone(),
        quiet: from.quiet,
    }
}

/// `billrun prices fetch`.
fn fetch_prices(args: &cli::FetchArgs) -> Result<i32, Error> {
    let fetched = catalog::fetch::fetch(&fetch_plan(&args.from), &args.out)?;
    let bytes: u64 = fetched.iter().map(|f| f.bytes).sum();
    eprintln!(
        "billrun: {} offer files ({bytes} bytes) in {}",
        fetched.len(),
        args.out.display()
    );
    Ok(EXIT_OK)
}

/// `billrun prices update`: fetch beside the catalog, import, replace, say what changed.
fn update_prices(args: &cli::UpdateArgs) -> Result<i32, Error> {
    let download = crate::replace::hidden_sibling(&args.catalog, "fetch");
    let fetched = catalog::fetch::fetch(&fetch_plan(&args.from), &download);
    let built = fetched.and_then(|fetched| {
        let files: Vec<_> = fetched.into_iter().map(|f| f.path).collect();
        build_catalog(&files, args.aliases.as_deref(), false)
    });
    std::fs::remove_dir_all(&download).ok();
    let (text, imported) = built?;
    let old = std::fs::read_to_string(&args.catalog).unwrap_or_default();
    let change = catalog_changes(&old, &text);
    write_atomically(&args.catalog, text.as_bytes())?;
    eprintln!(
        "billrun: {}: {} rows added, {} removed, {} repriced",
        args.catalog.display(),
        change.0,
        change.1,
        change.2
    );
    finish_import(&imported, args.report.as_deref())
}

/// (added, removed, repriced) rows between two catalog texts: a row is its meter and
/// window; repriced = the same meter and window at another price.
fn catalog_changes(old: &str, new: &str) -> (usize, usize, usize) {
    use std::collections::BTreeMap;
    let rows = |text: &str| -> BTreeMap<Vec<String>, String> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(String::from).collect(),
            Err(_) => return BTreeMap::new(),
        };
        let at = |n: &str| header.iter().position(|h| h == n);
        // A row is its meter and window: every catalog column but the price and
        // where it came from.
        let key_columns: Vec<Option<usize>> = identity_columns().map(at).collect();
        let (price, per) = (at("price"), at("per"));
        reader
            .records()
            .filter_map(|r| r.ok())
            .map(|r| {
                let get = |i: Option<usize>| i.and_then(|i| r.get(i)).unwrap_or("").to_string();
                let key = key_columns.iter().map(|&i| get(i)).collect();
                (key, format!("{}/{}", get(price), get(per)))
            })
            .collect()
    };
    let (old, new) = (rows(old), rows(new));
    let added = new.keys().filter(|k| !old.contains_key(*k)).count();
    let removed = old.keys().filter(|k| !new.contains_key(*k)).count();
    let repriced = new
        .iter()
        .filter(|(k, p)| old.get(*k).is_some_and(|o| o != *p))
        .count();
    (added, removed, repriced)
}

fn write_import_report(
    path: &std::path::Path,
    skipped: &[catalog::pricelist::Skipped],
) -> Result<(), Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::output_msg(path, e.to_string());
    w.write_record(["offer", "sku", "usage_type", "model", "status", "reason"])
        .map_err(io)?;
    for s in skipped {
        let status = if s.unknown {
            "not_understood"
        } else {
            "outside_meters"
        };
        w.write_record([&s.offer, &s.sku, &s.usage_type, &s.model, status, &s.reason])
            .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::output_msg(path, e.to_string()))?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` beside `path` and renames it into place: a reader sees the old file
/// or the new one, never a part.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = crate::replace::hidden_sibling(path, "tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::output(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        std::fs::remove_file(&tmp).ok();
        Error::output(path, e)
    })
}

/// `prices --summary`: models × regions × meters, and rows by source kind.
fn catalog_summary(catalog: &catalog::PriceCatalog) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    let mut models = BTreeSet::new();
    let mut regions = BTreeSet::new();
    let mut meters: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    let mut cells = BTreeSet::new();
    for r in &catalog.rows {
        let field = |c: usize| r.raw[c].clone();
        let (model, region) = (field(column::MODEL_ID), field(column::REGION));
        let meter = (field(column::USAGE_TYPE), field(column::MODE));
        cells.insert((model.clone(), region.clone(), meter.clone()));
        models.insert(model);
        regions.insert(region);
        *meters.entry(meter).or_default() += 1;
        let source = &r.raw[column::SOURCE];
        let kind = if !r.raw[column::OFFER].is_empty() {
            "AWS Price List".to_string()
        } else if let Some(rest) = source.strip_prefix("litellm ") {
            format!("litellm {}", rest.split(' ').next().unwrap_or(""))
        } else if source.is_empty() {
            "(no source)".to_string()
        } else {
            "curated (AWS pages via the reference)".to_string()
        };
        *sources.entry(kind).or_default() += 1;
    }
    let mut out = format!(
        "{}: {} rows, {} models x {} regions, {} (model, region, meter, mode) cells\n",
        catalog.origin,
        catalog.rows.len(),
        models.len(),
        regions.len(),
        cells.len()
    );
    out += &format!(
        "regions: {}\n",
        regions.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    out += "meters (usage_type, mode: rows):\n";
    for ((usage, mode), n) in &meters {
        out += &format!("  {usage:<22} {mode:<14} {n}\n");
    }
    out += "rows by source:\n";
    for (source, n) in &sources {
        out += &format!("  {source:<40} {n}\n");
    }
    out
}
