//! Command-line definitions (clap); validation lives in `config`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Exact cost reports from Amazon Bedrock usage.
///
/// Exit codes: 0 every row priced; 1 reports written but some rows rejected (see
/// rejects.*); 2 fatal error (usage, unreadable input or catalog, unwritable output),
/// no reports written.
#[derive(Debug, Parser)]
#[command(name = "billrun", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Price usage files and write reports to --out.
    Run(Box<RunArgs>),
    /// Print the price catalog, or validate one with --check.
    Prices(PricesArgs),
    /// A month's statement per cost center (or other key), rounded to cents, from a
    /// run's reports.
    Statement(StatementArgs),
    /// Compare a run's line items with the AWS bill (CUR 2.0, legacy CUR, FOCUS 1.2),
    /// bucket by bucket; with --true-up, share the billed cost over a key.
    ///
    /// Exit codes: 0 every bucket matched; 1 reports written, but some bucket drifts
    /// beyond --tolerance or some Bedrock bill row could not be mapped (unmapped.*);
    /// 2 fatal error.
    Reconcile(ReconcileArgs),
    /// Stage 1 of a run spread over machines: read one shard of the input files and
    /// write every record to the bucket of its request id (a map shard directory).
    ///
    /// Then `billrun reduce` each bucket over all shards, and `billrun merge` the
    /// partials: the reports equal a single `billrun run` (docs/stages.md).
    Map(MapArgs),
    /// Stage 2: one bucket of every map shard, deduplicated and rated with the run's
    /// options, written as a partial (exact tallies, counts, rejects).
    ///
    /// INPUT: the map shard directories (all of them). --out: the partial's directory.
    Reduce(Box<ReduceArgs>),
    /// Stage 3: the partials of every bucket merged into the reports a single run
    /// writes; capacity tables are billed here.
    ///
    /// INPUT: the partial directories (one per bucket). Exit codes as for `run`.
    Merge(Box<RunArgs>),
}

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Usage files or directories, as for `run` (every shard names the same).
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,

    /// This shard's output directory (new, empty, or a previous map shard).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// How many buckets request ids are spread over (reduce tasks).
    #[arg(long, value_name = "N")]
    pub buckets: u32,

    /// This shard of the input files, K of M (0-based): the files listed K, K+M, ...
    #[arg(long, value_name = "K/M", default_value = "0/1")]
    pub shard: String,

    /// List only usage at or after this instant (S3 hour folders are pruned); give
    /// reduce the same.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// List only usage before this instant; give reduce the same.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// Rows per batch read from a file.
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    pub batch_rows: usize,

    /// Replace a billrun output of another kind in --out.
    #[arg(long)]
    pub replace: bool,

    /// No progress bar and no closing summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ReduceArgs {
    /// The bucket to reduce (0-based, below the map's --buckets).
    #[arg(long, value_name = "B")]
    pub bucket: u32,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// A `run` output directory written with --line-items (single files or
    /// --partition-by partitions).
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,

    /// AWS Data Exports files: CUR 2.0 or legacy CUR (Parquet, CSV, CSV.gz), FOCUS 1.2.
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub bill: Vec<PathBuf>,

    /// Where the reconciliation goes (the same rules as `run --out`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// parquet or csv.
    #[arg(long, default_value = "parquet")]
    pub format: String,

    /// A bucket alerts (exit 1) when its list costs differ by more than this amount;
    /// with 0 (the default) every bucket that is not matched alerts.
    #[arg(long, value_name = "AMOUNT", default_value = "0")]
    pub tolerance: String,

    /// Share each bucket's billed net cost over this line-item column (cost_center,
    /// principal, account_id, tags, ...) in proportion to billrun's exact costs:
    /// writes trueup.<fmt>, which `billrun statement --by <column>` reads.
    #[arg(long, value_name = "COLUMN")]
    pub true_up: Option<String>,

    /// More model aliases (CSV alias,kind,model_id,source) for the bill's model names.
    #[arg(long, value_name = "FILE")]
    pub aliases: Option<PathBuf>,

    /// Replace a previous billrun output of another layout in --out.
    #[arg(long)]
    pub replace: bool,

    /// No summary line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct StatementArgs {
    /// A `run` output directory (single files or `--partition-by` partitions).
    #[arg(value_name = "DIR")]
    pub reports: PathBuf,

    /// The summary column to total by (it must have been a --group-by key).
    #[arg(long, value_name = "KEY", default_value = "cost_center")]
    pub by: String,

    /// The calendar month, YYYY-MM.
    #[arg(long, value_name = "YYYY-MM")]
    pub period: String,

    /// How each line is rounded to cents.
    #[arg(long, value_enum, default_value_t = RoundingArg::HalfEven)]
    pub rounding: RoundingArg,

    /// Write the statement here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoundingArg {
    HalfEven,
    HalfUp,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Usage files or directories (.csv, .csv.gz, .parquet, invocation logs);
    /// directories are read recursively; `s3://bucket/prefix` reads the objects under
    /// the prefix (AWS credential chain, AWS_ENDPOINT_URL). May be omitted when
    /// capacity tables are given.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output directory: new, empty, or holding a previous billrun run of the same
    /// layout; replaced as a whole (or, with --partition-by, the partitions the run
    /// covers), and only when the run succeeds. A directory holding anything else, or
    /// an input, is refused.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Replace a previous billrun run in --out whole even when its layout differs
    /// (flat vs partitioned, day vs month, csv vs parquet). Never replaces files
    /// billrun did not write.
    #[arg(long)]
    pub replace: bool,

    /// Price catalog CSV [default: the embedded list-price catalog].
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,

    /// Report format; `focus` writes Parquet reports plus focus.parquet (FinOps FOCUS 1.2).
    #[arg(long, value_enum, default_value_t = FormatArg::Parquet)]
    pub format: FormatArg,

    /// Write summary, line items and FOCUS as Hive-style partitions
    /// (`<table>/date=YYYY-MM-DD/part-0.<ext>` or `month=YYYY-MM`) under --out; a run
    /// replaces only the partitions it covers.
    #[arg(long, value_enum, value_name = "PERIOD")]
    pub partition_by: Option<PartitionArg>,

    /// FOCUS charge period: one row per meter per hour or per day.
    #[arg(long, value_enum, default_value_t = ChargePeriodArg::Day)]
    pub charge_period: ChargePeriodArg,

    /// Summary keys, comma-separated: model_id, mode, region, scope, service_tier,
    /// account_id, principal, hour, day, month, tag:<key>, tags, resource.
    #[arg(long, value_name = "KEYS", default_value = "model_id,mode,region")]
    pub group_by: String,

    /// Also write line_items.<format>: one row per priced meter.
    #[arg(long)]
    pub line_items: bool,

    /// Worker threads [default: all cores; at most 4 per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// No progress bar and no closing summary line.
    #[arg(long, short)]
    pub quiet: bool,

    /// Only usage at or after this instant (RFC 3339 or YYYY-MM-DD); earlier rows are
    /// counted as out of range.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Only usage before this instant (exclusive); later rows are counted as out of range.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// More model aliases, CSV `alias,kind,model_id,source` (kinds: id, pricelist,
    /// servicename, cur), added to the embedded ones (which they override).
    #[arg(long, value_name = "FILE")]
    pub aliases: Option<PathBuf>,

    /// CSV `arn,model_id` mapping application-inference-profile ARNs to the model they
    /// invoke (unmapped ones are rejected as unknown_model).
    #[arg(long, value_name = "FILE")]
    pub profiles: Option<PathBuf>,

    /// Provisioned Throughput records (CSV or Parquet): provisioned_model_id, model_id,
    /// region, account_id, model_units, commitment, start, end. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub provisioned: Vec<PathBuf>,

    /// How Provisioned Throughput hours are billed: every started hour from the
    /// record's start, or exact fractional hours.
    #[arg(long, value_enum, default_value_t = PtHoursArg::Started)]
    pub pt_hours: PtHoursArg,

    /// Imported-model copy activity (CSV or Parquet): model_arn, copy_id, region,
    /// account_id, active_start, active_end. Needs --imported-models. Repeatable.
    #[arg(long, value_name = "FILE", requires = "imported_models")]
    pub copies: Vec<PathBuf>,

    /// Imported models registry (CSV or Parquet): model_arn, cmu_per_copy,
    /// cmu_version, architecture, created, deleted. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub imported_models: Vec<PathBuf>,

    /// Model customization jobs and custom-model storage (CSV or Parquet). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub customization: Vec<PathBuf>,

    /// Chargeback rules, CSV `rule,cost_center`: `account_id=<id>`,
    /// `principal=<arn or glob>` or `tag:<key>=<value>`; first match wins, the rest is
    /// `unallocated`. Enables `--group-by cost_center`.
    #[arg(long, value_name = "FILE")]
    pub allocation: Option<PathBuf>,

    /// Split a shared Provisioned Throughput or imported model's cost among the cost
    /// centers that invoked it: by their tokens, or evenly (needs --allocation).
    #[arg(long, value_enum, requires = "allocation")]
    pub split_capacity: Option<SplitArg>,

    /// Where request ids are kept to find duplicates: `memory` (fastest; grows with
    /// distinct ids, ~40 bytes each), `disk` (a first pass spills them by hash part:
    /// memory stays flat, inputs are read twice), or `auto` (disk above 256 MiB of input).
    #[arg(long, value_enum, default_value_t = DedupArg::Auto)]
    pub dedup: DedupArg,

    /// Rows per batch read from a file (memory vs. overhead).
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    pub batch_rows: usize,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PricesArgs {
    #[command(subcommand)]
    pub action: Option<PricesAction>,

    /// Catalog to print [default: the embedded list-price catalog].
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub prices: Option<PathBuf>,

    /// Validate this catalog and report every problem as file:line; exit 1 if any.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,

    /// Count the catalog's models, regions and meters, and its rows by source.
    #[arg(long, conflicts_with = "check")]
    pub summary: bool,
}

#[derive(Debug, Subcommand)]
pub enum PricesAction {
    /// Convert AWS Price List files (bulk offer index.json, its index.csv, or `aws
    /// pricing get-products` output; offers AmazonBedrock, AmazonBedrockFoundationModels,
    /// AmazonBedrockService) into a billrun catalog. Exit 1 if some SKU was not
    /// understood (see --report), 2 on a malformed file or two SKUs for one meter.
    Import(ImportArgs),
    /// Download the public AWS Price List offer files (no credentials) into --out:
    /// `<offer>/<region>/index.json`, each region's current version pinned once from
    /// the offer's region index. A failed or partial fetch keeps the previous download.
    Fetch(FetchArgs),
    /// Fetch, import and replace --catalog atomically, printing what changed (rows
    /// added, removed, repriced). Exit codes as for import.
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct FetchFrom {
    /// Regions, comma-separated [default: every region the offers list].
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// Offers, comma-separated.
    #[arg(
        long,
        value_name = "OFFERS",
        value_delimiter = ',',
        default_value = "AmazonBedrock,AmazonBedrockFoundationModels,AmazonBedrockService"
    )]
    pub offers: Vec<String>,

    /// Where the Price List is served.
    #[arg(long, value_name = "URL", default_value = crate::catalog::fetch::ENDPOINT)]
    pub endpoint: String,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Directory for the offer files (replaced whole when the fetch succeeds).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub from: FetchFrom,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The catalog to replace (created if missing).
    #[arg(long, value_name = "FILE")]
    pub catalog: PathBuf,

    #[command(flatten)]
    pub from: FetchFrom,

    /// Write every SKU not imported, with its reason, to this CSV.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// More model aliases (CSV alias,kind,model_id,source).
    #[arg(long, value_name = "FILE")]
    pub aliases: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Price List files.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Write the catalog here (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Write every SKU not imported, with its reason, to this CSV.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// More model aliases (CSV alias,kind,model_id,source) for Price List model names.
    #[arg(long, value_name = "FILE")]
    pub aliases: Option<PathBuf>,

    /// The files are versions of one offer (with, optionally, its version index
    /// `.../<offer>/index.json`): each price becomes effective-dated rows, a changed
    /// price closing the row before it, so old usage keeps its old price.
    #[arg(long)]
    pub history: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PtHoursArg {
    Started,
    Exact,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Parquet,
    Csv,
    Focus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DedupArg {
    Auto,
    Memory,
    Disk,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    Tokens,
    Even,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PartitionArg {
    Day,
    Month,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ChargePeriodArg {
    Hour,
    Day,
}
