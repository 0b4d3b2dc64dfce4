//! The rating kernel: a slice of usage rows → exact quantities per (group, catalog
//! row), rejects with reasons, and optionally one line item per priced meter.
//!
//! Quantities are summed per catalog row before any multiplication (pricing is
//! linear), so a summary needs one multiplication per group and price, not per row.

use super::allocate::{Allocation, CapacitySplit, UNALLOCATED};
use super::group::{Charged, GroupKey, Interner, Tallies};
use crate::catalog::terms::{ImageQuality, Mode, Tier, UsageType};
use crate::catalog::{PriceCatalog, Query};
use crate::resolve::{Scope, Unresolved, resolve_model_id};
use crate::time::{MICROS_PER_DAY, format_instant};
use crate::vocab::money::{Money, Quantity};
use crate::vocab::reasons::Reason;
use crate::vocab::rows::{BadInstant, SliceMeters, Texts, UsageColumns, trimmed};
use capacity::{CapacityModels, Invocations};
use polars::prelude::{PlHashMap, PlHashSet};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

/// What rating needs besides the rows.
pub struct RateContext<'a> {
    pub catalog: &'a PriceCatalog,
    pub group_by: &'a [GroupKey],
    pub line_items: bool,
    /// `--from` (inclusive) and `--to` (exclusive): rows outside are counted, not priced.
    pub window: (Option<i64>, Option<i64>),
    /// Application-inference-profile ARN → model id (`--profiles`).
    pub profiles: &'a HashMap<String, String>,
    /// Provisioned and imported models: their invocations are billed by capacity
    /// time, not per token.
    pub capacity: &'a CapacityModels,
    /// `--allocation` rules (empty: every row is `unallocated`).
    pub allocation: &'a Allocation,
    /// `--split-capacity`: keep each cost center's tokens per capacity model.
    pub split: Option<CapacitySplit>,
}

#[cfg(test)]
impl<'a> RateContext<'a> {
    /// A context without time window or profile mappings, for tests.
    pub fn plain(
        catalog: &'a PriceCatalog,
        group_by: &'a [GroupKey],
        line_items: bool,
    ) -> RateContext<'a> {
        static NO_PROFILES: std::sync::LazyLock<HashMap<String, String>> =
            std::sync::LazyLock::new(HashMap::new);
        static NO_CAPACITY: std::sync::LazyLock<CapacityModels> =
            std::sync::LazyLock::new(HashMap::new);
        static NO_RULES: std::sync::LazyLock<Allocation> =
            std::sync::LazyLock::new(Allocation::default);
        RateContext {
            catalog,
            group_by,
            line_items,
            window: (None, None),
            profiles: &NO_PROFILES,
            capacity: &NO_CAPACITY,
            allocation: &NO_RULES,
            split: None,
        }
    }
}

/// Summed usage of one (group, catalog row).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub quantity: u128,
    /// Rows that contributed.
    pub records: u64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.quantity += other.quantity;
        self.records += other.records;
    }
}

/// A row that could not be priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub source: Arc<str>,
    pub row: i64,
    pub request_id: Option<String>,
    pub reason: Reason,
    pub message: String,
}

/// One priced meter of one usage row.
#[derive(Clone, Debug, PartialEq, Eq)]
/// Repeated text (models, regions, accounts, tags...) is shared, not copied per meter.
pub struct LineItem {
    pub source: Arc<str>,
    pub row: i64,
    pub request_id: Option<String>,
    pub timestamp: i64,
    pub account_id: Option<Arc<str>>,
    pub principal: Option<Arc<str>>,
    pub model_id: Arc<str>,
    pub requested_model_id: Arc<str>,
    pub scope: Scope,
    pub region: Arc<str>,
    pub mode: Mode,
    /// `None` for capacity charges, which have no service tier.
    pub service_tier: Option<Tier>,
    pub usage_type: UsageType,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub cost: Money,
    pub currency: Arc<str>,
    pub catalog_line: usize,
    pub tags: Option<Arc<str>>,
    /// Where the request ran, when Bedrock rerouted it (logs only).
    pub inference_region: Option<Arc<str>>,
    /// With `--allocation`: the cost center the meter is charged to.
    pub cost_center: Option<String>,
}

/// Interned `Arc<str>`s: a line item's repeated text costs a reference count, not an
/// allocation and a copy.
#[derive(Default)]
pub struct Labels(PlHashMap<Box<str>, Arc<str>>);

impl Labels {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(s.into(), a.clone());
        a
    }
}

/// The outcome of rating a slice.
#[derive(Default)]
pub struct Rated {
    pub tallies: Tallies,
    pub rejects: Vec<Reject>,
    pub line_items: Vec<LineItem>,
    pub priced: u64,
    /// Error records with no usage: counted, neither priced nor rejected.
    pub not_billable: u64,
    /// Rows whose timestamp is outside `--from`/`--to`.
    pub out_of_range: u64,
    /// Successful invocations of imported models whose copies are derived from them.
    pub invocations: Invocations,
    /// Tokens per (capacity model ARN, cost center), for `--split-capacity`.
    pub shares: HashMap<(String, String), u128>,
}

type Failure = (Reason, String);

/// What became of a row that was not rejected.
enum Outcome {
    Priced,
    NotBillable,
    OutOfRange,
}

/// A logged error with no usage at all (not a single non-zero meter) bills nothing.
fn not_billable(cols: &UsageColumns, meters: &SliceMeters, i: usize) -> bool {
    !text(&cols.error_code, i).is_empty() && unmetered(cols, meters, i)
}

/// Every meter of row `i` reads as 0 (a count that is not a number is not 0).
fn unmetered(cols: &UsageColumns, meters: &SliceMeters, i: usize) -> bool {
    (0..cols.meters.len()).all(|m| meters.get(cols, m, i) == Ok(0))
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PriceKey {
    model: u32,
    region: u32,
    scope: Scope,
    mode: Mode,
    tier: Tier,
    usage: UsageType,
    epoch: usize,
    image: Option<(ImageQuality, u64)>,
}

/// A row that passed validation, ready to be priced.
struct Valid<'r> {
    at: i64,
    region: &'r str,
    mode: Mode,
    tier: Tier,
    quantities: [u64; 5],
    image: Option<(ImageQuality, u64)>,
    tags: Option<BTreeMap<String, String>>,
}

/// Rates rows `range` of `cols`, skipping those marked duplicate.
#[cfg(test)]
pub fn rate_slice(
    ctx: &RateContext,
    cols: &UsageColumns,
    duplicate: &[bool],
    range: Range<usize>,
    source: &Arc<str>,
) -> Rated {
    rate_slice_with(
        ctx,
        &mut RateCache::default(),
        cols,
        duplicate,
        range,
        source,
    )
}

/// `rate_slice` with the lookups a rating thread keeps across slices.
pub fn rate_slice_with(
    ctx: &RateContext,
    cache: &mut RateCache,
    cols: &UsageColumns,
    duplicate: &[bool],
    range: Range<usize>,
    source: &Arc<str>,
) -> Rated {
    let mut rater = SliceRater::new(ctx, cache, cols, range.clone());
    for i in range {
        if duplicate[i] {
            continue;
        }
        match rater.rate_row(cols, i, source) {
            Ok(Outcome::Priced) => rater.out.priced += 1,
            Ok(Outcome::NotBillable) => rater.out.not_billable += 1,
            Ok(Outcome::OutOfRange) => rater.out.out_of_range += 1,
            Err((reason, message)) => rater.out.rejects.push(Reject {
                source: source.clone(),
                row: cols.row.get(i).unwrap_or(0),
                request_id: cols.request_id.get(i).map(str::to_string),
                reason,
                message,
            }),
        }
    }
    rater.finish()
}

/// Lookups that depend only on the run's context (catalog, profiles, allocation), not
/// on a slice's groups: each rating thread keeps one for the whole run, so a slice
/// does not warm them again (at 16M rows, two threads made 558k catalog lookups
/// instead of 280k when every slice started cold).
#[derive(Default)]
pub struct RateCache {
    models: Interner,
    regions: Interner,
    resolved: PlHashMap<String, Result<(u32, Scope), Failure>>,
    prices: PlHashMap<PriceKey, Option<usize>>,
    /// Tags strings already checked to be a JSON object of strings.
    valid_tags: PlHashSet<String>,
    /// Meter prices per row key (`row_prices`).
    row_prices: PlHashMap<PriceKey, [Option<usize>; 5]>,
    /// Shared copies of the text line items repeat.
    labels: Labels,
    /// Cost center by `account \u{1f} principal \u{1f} tags`.
    centers: PlHashMap<String, String>,
}

/// What the rows of one price key and group bucket added up to in a slice.
struct RowSums {
    prices: [Option<usize>; 5],
    /// The largest quantity of each meter whose cost fits DECIMAL(38, 12).
    limits: [u128; 5],
    /// Set by the first row priced (a rejected row makes no group).
    group: Option<u32>,
    tallies: [Tally; 5],
}

/// The views of the texts that decide a row's validity, model and region (error
/// code, region, model id, mode, service tier, tags). A view names its bytes exactly
/// within one Arrow array (text up to 12 bytes inline, longer text by buffer and
/// offset), so rows of one batch with equal views have equal texts; equal texts
/// with different views only miss. A null is the empty text's view (0): both read
/// as "".
#[derive(Clone, Copy)]
struct TextViews([u128; 6]);

/// Compared without a call to `memcmp` (what the derived comparison became).
impl PartialEq for TextViews {
    fn eq(&self, other: &TextViews) -> bool {
        let differ = self.0.iter().zip(&other.0).fold(0, |d, (a, b)| d | (a ^ b));
        differ == 0
    }
}

impl TextViews {
    /// The columns, in the order of the views.
    fn columns<'a, 'r>(cols: &'a UsageColumns<'r>) -> [&'a Texts<'r>; 6] {
        [
            &cols.error_code,
            &cols.region,
            &cols.model_id,
            &cols.mode,
            &cols.service_tier,
            &cols.tags,
        ]
    }

    /// `None` when a column is not one Arrow array (its rows have no views).
    fn of(cols: &UsageColumns, i: usize) -> Option<TextViews> {
        let mut views = [0; 6];
        for (view, column) in views.iter_mut().zip(TextViews::columns(cols)) {
            *view = column.view(i)?;
        }
        Some(TextViews(views))
    }

    /// Whether equal texts of these columns share views, as when decoded from a
    /// Parquet dictionary (readers that copy each value give equal long texts
    /// views of their own: looking them up would only miss).
    fn shared(cols: &UsageColumns) -> bool {
        TextViews::columns(cols).iter().all(|c| c.views_shared())
    }

    /// The first slot to probe: the views folded and multiplied (Fibonacci
    /// hashing), top bits.
    fn slot(&self) -> usize {
        let h = self.0.iter().fold(0u64, |h, v| {
            (h ^ (*v as u64) ^ ((*v >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        });
        (h >> (64 - KNOWN_SLOTS.trailing_zeros())) as usize
    }
}

/// What a row's texts decided when all of them were valid, the model known and not
/// a capacity model: everything `rate_row` reads from them.
#[derive(Clone, Copy)]
struct Known {
    model: u32,
    region: u32,
    scope: Scope,
    mode: Mode,
    tier: Tier,
    /// The error code is not empty (`not_billable` asks).
    error: bool,
    /// The sums the last rows of these texts went to, by (price epoch, group
    /// bucket, image): rows mostly share them, or alternate between a few.
    sums: [Option<(SumsOf, usize)>; 4],
    /// The entry of `sums` to replace next.
    next: u8,
}

/// What besides its texts decides the sums a row goes to.
type SumsOf = (usize, i64, Option<ImageSpec>);

/// An image's quality and pixels (width × height).
type ImageSpec = (ImageQuality, u64);

/// Slots of a slice's known texts (a power of two), and how many texts it keeps:
/// a few hundred distinct texts per slice are typical; past the limit rows just
/// take the full path.
const KNOWN_SLOTS: usize = 4096;
const KNOWN_MAX: usize = KNOWN_SLOTS / 4;

/// Known texts of one slice, an open-addressing table on the views' hash. Views
/// mean nothing outside their batch, so each slice starts empty.
struct KnownTexts {
    /// 1 + the entry of each slot; 0: empty.
    slots: Vec<u16>,
    entries: Vec<(TextViews, Known)>,
}

impl Default for KnownTexts {
    fn default() -> KnownTexts {
        KnownTexts {
            slots: vec![0; KNOWN_SLOTS],
            entries: Vec::new(),
        }
    }
}

impl KnownTexts {
    /// The entry of `views`, or the empty slot where it would go.
    fn probe(&self, views: &TextViews) -> Result<usize, usize> {
        let mut at = views.slot();
        loop {
            match self.slots[at] {
                0 => return Err(at),
                e if self.entries[usize::from(e) - 1].0 == *views => return Ok(usize::from(e) - 1),
                _ => at = (at + 1) % KNOWN_SLOTS,
            }
        }
    }

    fn find(&self, views: &TextViews) -> Option<usize> {
        self.probe(views).ok()
    }

    /// Keeps what `views` decided (texts not yet known); `None` once full.
    fn insert(&mut self, views: TextViews, known: Known) -> Option<usize> {
        let slot = self.probe(&views).err()?;
        if self.entries.len() >= KNOWN_MAX {
            return None;
        }
        self.entries.push((views, known));
        self.slots[slot] = self.entries.len() as u16;
        Some(self.entries.len() - 1)
    }
}

struct SliceRater<'c> {
    ctx: &'c RateContext<'c>,
    cache: &'c mut RateCache,
    day_codes: Vec<PlHashMap<i64, u32>>,
    /// Group ids per row key, when the keys allow (`fast_group_id`), and the time
    /// bucket that key uses.
    group_cache: PlHashMap<(u32, u32, Scope, Mode, Tier, i64), u32>,
    group_bucket: Option<i64>,
    /// With a group bucket, rows are summed per (price key, bucket) and added to the
    /// tallies when the slice ends: one lookup a row instead of one per meter.
    sums: Vec<RowSums>,
    sums_at: PlHashMap<(PriceKey, i64), usize>,
    scratch: Vec<u32>,
    /// What the texts of rows priced in this slice decided, by their views; only
    /// when rows' tags are not kept and equal texts have equal views.
    known: KnownTexts,
    by_views: bool,
    /// Rows' tags are parsed for grouping or allocation.
    need_tags: bool,
    /// Key buffer for `RateCache::centers`.
    center_key: String,
    meters: SliceMeters,
    out: Rated,
}

impl<'c> SliceRater<'c> {
    /// A rater for rows `rows` of `cols`.
    fn new(
        ctx: &'c RateContext<'c>,
        cache: &'c mut RateCache,
        cols: &UsageColumns,
        rows: Range<usize>,
    ) -> SliceRater<'c> {
        let dims = ctx.group_by.len();
        let need_tags = ctx.allocation.needs_tags()
            || ctx
                .group_by
                .iter()
                .any(|k| matches!(k, GroupKey::Tag(_) | GroupKey::Tags));
        SliceRater {
            ctx,
            cache,
            day_codes: vec![PlHashMap::default(); dims],
            group_cache: PlHashMap::default(),
            group_bucket: row_key_bucket(ctx.group_by),
            sums: Vec::new(),
            sums_at: PlHashMap::default(),
            scratch: Vec::with_capacity(dims),
            known: KnownTexts::default(),
            by_views: !need_tags && TextViews::shared(cols),
            need_tags,
            center_key: String::new(),
            meters: SliceMeters::of(cols, rows),
            out: Rated {
                tallies: Tallies::new(dims),
                ..Rated::default()
            },
        }
    }

    fn rate_row(
        &mut self,
        cols: &UsageColumns,
        i: usize,
        source: &Arc<str>,
    ) -> Result<Outcome, Failure> {
        let views = match self.by_views {
            true => TextViews::of(cols, i),
            false => None,
        };
        if let Some(at) = views.as_ref().and_then(|v| self.known.find(v)) {
            return self.rate_known(cols, i, source, at);
        }
        if not_billable(cols, &self.meters, i) {
            return Ok(Outcome::NotBillable);
        }
        let tags = (self.need_tags, &mut self.cache.valid_tags);
        let row = validate(cols, &self.meters, i, tags)?;
        if self.outside_window(row.at) {
            return Ok(Outcome::OutOfRange);
        }
        let raw_model = Some(text(&cols.model_id, i))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| (Reason::MissingValue, "model_id is empty".to_string()))?;
        if let Some(target) = self.ctx.capacity.get(raw_model) {
            return self.rate_capacity_invocation(cols, i, source, raw_model, target, row);
        }
        // No usage at all (a guardrail blocked the request: 0 in, 0 out) needs no
        // price, so an unknown model is no reason to reject it.
        if row.quantities.iter().all(|q| *q == 0) {
            return Ok(Outcome::NotBillable);
        }
        let (model, scope) = self.resolve(raw_model)?;
        let region = self.cache.regions.code(row.region);
        let known = views.and_then(|views| {
            self.known.insert(
                views,
                Known {
                    model,
                    region,
                    scope,
                    mode: row.mode,
                    tier: row.tier,
                    error: !text(&cols.error_code, i).is_empty(),
                    sums: [None; 4],
                    next: 0,
                },
            )
        });
        self.price_row(cols, i, source, (model, region, scope), row, known)
    }

    /// Instant `at` is before `--from` or not before `--to`.
    fn outside_window(&self, at: i64) -> bool {
        let (from, to) = self.ctx.window;
        from.is_some_and(|f| at < f) || to.is_some_and(|t| at >= t)
    }

    /// `rate_row` for a row whose texts are those of a row already priced in this
    /// slice (`known` is their entry): only what differs between such rows is
    /// checked, in `rate_row`'s order, so the outcome and any reject are the same.
    fn rate_known(
        &mut self,
        cols: &UsageColumns,
        i: usize,
        source: &Arc<str>,
        known: usize,
    ) -> Result<Outcome, Failure> {
        let k = self.known.entries[known].1;
        if k.error && unmetered(cols, &self.meters, i) {
            return Ok(Outcome::NotBillable);
        }
        let at = instant(cols, i)?;
        let (quantities, image) = metered(cols, &self.meters, i)?;
        if self.outside_window(at) {
            return Ok(Outcome::OutOfRange);
        }
        if quantities.iter().all(|q| *q == 0) {
            return Ok(Outcome::NotBillable);
        }
        let row = Valid {
            at,
            region: text(&cols.region, i),
            mode: k.mode,
            tier: k.tier,
            quantities,
            image,
            tags: None,
        };
        self.price_row(
            cols,
            i,
            source,
            (k.model, k.region, k.scope),
            row,
            Some(known),
        )
    }

    /// Prices a valid row of a known model: its meters' catalog rows and costs, then
    /// its quantities added to its group (or to its price key's sums).
    fn price_row(
        &mut self,
        cols: &UsageColumns,
        i: usize,
        source: &Arc<str>,
        (model, region, scope): (u32, u32, Scope),
        row: Valid,
        known: Option<usize>,
    ) -> Result<Outcome, Failure> {
        let key = self.price_key(model, region, scope, &row);
        let bucket = self.group_bucket.map(|b| row.at.div_euclid(b));
        let sums = bucket.map(|bucket| match known {
            Some(k) => self.known_sums(k, key, bucket, &row),
            None => self.row_sums(key, bucket, &row),
        });
        let prices = match sums {
            Some(at) => self.sums[at].prices,
            None => self.row_prices(key, &row),
        };
        let mut priced = [None; 5];
        for (m, usage) in UsageType::METERS.iter().enumerate() {
            if row.quantities[m] > 0 {
                priced[m] =
                    Some(prices[m].ok_or_else(|| self.no_price(model, scope, *usage, &row))?);
            }
        }
        let overflow = |m: usize| {
            let message = format!("cost of {} overflows DECIMAL(38, 12)", UsageType::METERS[m]);
            (Reason::Overflow, message)
        };
        // Costs are needed only by line items; sums know where each meter's cost
        // would overflow, so rows added to them are checked without a product.
        let mut costs = [Money::ZERO; 5];
        for m in 0..5 {
            let quantity = u128::from(row.quantities[m]);
            match (priced[m], sums) {
                (None, _) => {}
                (Some(_), Some(at)) if !self.ctx.line_items => {
                    if quantity > self.sums[at].limits[m] {
                        return Err(overflow(m));
                    }
                }
                (Some(p), _) => {
                    let unit = self.ctx.catalog.rows[p].unit_price;
                    costs[m] = unit.times(quantity).ok_or_else(|| overflow(m))?;
                }
            }
        }
        // Nothing below refuses the row: its group may be made and kept.
        let group = match sums.and_then(|at| self.sums[at].group) {
            Some(group) => group,
            None => {
                let group = self.fast_group_id(cols, i, (model, region, scope), &row);
                if let Some(at) = sums {
                    self.sums[at].group = Some(group);
                }
                group
            }
        };
        for m in 0..5 {
            if let Some(p) = priced[m] {
                let tally = Tally {
                    quantity: u128::from(row.quantities[m]),
                    records: 1,
                };
                match sums {
                    Some(at) => self.sums[at].tallies[m].add(tally),
                    None => self.out.tallies.add(group, p, tally),
                }
                if self.ctx.line_items {
                    let mut item =
                        self.line_item(cols, i, source, model, scope, &row, m, p, costs[m]);
                    item.cost_center = self.allocated(cols, i, &row);
                    self.out.line_items.push(item);
                }
            }
        }
        Ok(Outcome::Priced)
    }

    /// `row_sums` for a row of known texts: the entry remembers the last four sums
    /// its rows went to (rows of one model and region mostly share epoch, bucket
    /// and image, or alternate between a few).
    fn known_sums(&mut self, known: usize, key: PriceKey, bucket: i64, row: &Valid) -> usize {
        let of = (key.epoch, bucket, key.image);
        let entry = &self.known.entries[known].1;
        if let Some((_, at)) = entry.sums.iter().flatten().find(|(o, _)| *o == of) {
            return *at;
        }
        let at = self.row_sums(key, bucket, row);
        let entry = &mut self.known.entries[known].1;
        entry.sums[usize::from(entry.next)] = Some((of, at));
        entry.next = (entry.next + 1) % entry.sums.len() as u8;
        at
    }

    /// The row's sums by (price key, group time bucket), made on the key's first row.
    fn row_sums(&mut self, key: PriceKey, bucket: i64, row: &Valid) -> usize {
        if let Some(&at) = self.sums_at.get(&(key, bucket)) {
            return at;
        }
        let prices = self.row_prices(key, row);
        let rows = &self.ctx.catalog.rows;
        self.sums.push(RowSums {
            prices,
            limits: prices.map(|p| p.map_or(0, |p| rows[p].unit_price.max_quantity())),
            group: None,
            tallies: [Tally::default(); 5],
        });
        self.sums_at.insert((key, bucket), self.sums.len() - 1);
        self.sums.len() - 1
    }

    fn resolve(&mut self, raw: &str) -> Result<(u32, Scope), Failure> {
        if let Some(r) = self.cache.resolved.get(raw) {
            return r.clone();
        }
        let mapped = self.ctx.profiles.get(raw).map(String::as_str);
        let resolved = resolve_model_id(mapped.unwrap_or(raw)).map(|mut m| {
            m.model_id = self.ctx.catalog.aliases.canonical(&m.model_id).to_string();
            m
        });
        let r = match resolved {
            Ok(m) if self.ctx.catalog.knows_model(&m.model_id) => {
                Ok((self.cache.models.code(&m.model_id), m.scope))
            }
            Ok(m) => Err((
                Reason::UnknownModel,
                format!(
                    "model \"{}\" (from \"{raw}\") is not in the price catalog",
                    m.model_id
                ),
            )),
            Err(Unresolved::ApplicationProfile) => Err((
                Reason::UnknownModel,
                format!(
                    "\"{raw}\" is an application inference profile: map it to a model with --profiles"
                ),
            )),
            Err(Unresolved::UnsupportedArn) => Err((
                Reason::UnknownModel,
                format!(
                    "\"{raw}\" is an ARN that does not name a foundation model or inference profile (list imported models with --imported-models; custom models are billed as Provisioned Throughput)"
                ),
            )),
            Err(Unresolved::Empty) => Err((Reason::MissingValue, "model_id is empty".to_string())),
        };
        self.cache.resolved.insert(raw.to_string(), r.clone());
        r
    }

    /// What the row's prices depend on: model, region, scope, mode, tier, price epoch
    /// and image.
    fn price_key(&self, model: u32, region: u32, scope: Scope, row: &Valid) -> PriceKey {
        PriceKey {
            model,
            region,
            scope,
            mode: row.mode,
            tier: row.tier,
            usage: UsageType::InputTokens,
            epoch: self.ctx.catalog.epoch(row.at),
            image: row.image,
        }
    }

    /// The catalog row of each meter for the row's price key: one cache lookup (a
    /// miss asks the catalog for all five meters).
    fn row_prices(&mut self, key: PriceKey, row: &Valid) -> [Option<usize>; 5] {
        let catalog = self.ctx.catalog;
        let scope = key.scope;
        let model_id = self.cache.models.value(key.model);
        *self.cache.row_prices.entry(key).or_insert_with(|| {
            UsageType::METERS.map(|usage| {
                catalog.find(&Query {
                    model_id,
                    region: row.region,
                    scope,
                    mode: row.mode,
                    tier: row.tier,
                    usage_type: usage,
                    at: row.at,
                    image: row.image.filter(|_| usage == UsageType::Images),
                    commitment: None,
                    cmu_version: None,
                })
            })
        })
    }

    fn no_price(&self, model: u32, scope: Scope, usage: UsageType, row: &Valid) -> Failure {
        let model_id = self.cache.models.value(model);
        let image = row.image.filter(|_| usage == UsageType::Images);
        (
            Reason::NoPrice,
            format!(
                "no price for {usage} of {model_id} (mode {}, tier {}, region {}, scope {scope}{}) at {}",
                row.mode,
                row.tier,
                row.region,
                image.map_or(String::new(), |(q, px)| format!(
                    ", {q} image of {px} pixels"
                )),
                format_instant(row.at)
            ),
        )
    }

    /// `group_id`, cached by (model, region, scope, mode, tier, time bucket) when the
    /// group keys depend on nothing else (the default keys do not).
    fn fast_group_id(
        &mut self,
        cols: &UsageColumns,
        i: usize,
        (model, region, scope): (u32, u32, Scope),
        row: &Valid,
    ) -> u32 {
        let Some(bucket) = self.group_bucket else {
            return self.group_id(cols, i, model, scope, row);
        };
        let key = (
            model,
            region,
            scope,
            row.mode,
            row.tier,
            row.at.div_euclid(bucket),
        );
        if let Some(&g) = self.group_cache.get(&key) {
            return g;
        }
        let g = self.group_id(cols, i, model, scope, row);
        self.group_cache.insert(key, g);
        g
    }

    fn group_id(
        &mut self,
        cols: &UsageColumns,
        i: usize,
        model: u32,
        scope: Scope,
        row: &Valid,
    ) -> u32 {
        self.scratch.clear();
        for (d, key) in self.ctx.group_by.iter().enumerate() {
            let code = match key {
                GroupKey::Hour | GroupKey::Day | GroupKey::Month => {
                    // Instants in one bucket share the value: format once per bucket.
                    let bucket = row
                        .at
                        .div_euclid(key.time_bucket().unwrap_or(MICROS_PER_DAY));
                    let (codes, dim) = (&mut self.day_codes[d], self.out.tallies.groups.dim(d));
                    *codes
                        .entry(bucket)
                        .or_insert_with(|| dim.code(&key.time_value(row.at).unwrap_or_default()))
                }
                GroupKey::Tags => {
                    let v = row.tags.as_ref().map_or(String::new(), canonical_tags);
                    self.out.tallies.groups.dim(d).code(&v)
                }
                GroupKey::Resource => self.out.tallies.groups.dim(d).code(""),
                GroupKey::CostCenter => {
                    let center = self.cost_center(cols, i, row);
                    self.out.tallies.groups.dim(d).code(&center)
                }
                GroupKey::ModelId => {
                    let v = self.cache.models.value(model).to_string();
                    self.out.tallies.groups.dim(d).code(&v)
                }
                GroupKey::Mode => self.out.tallies.groups.dim(d).code(row.mode.as_str()),
                GroupKey::Region => self.out.tallies.groups.dim(d).code(row.region),
                GroupKey::Scope => self.out.tallies.groups.dim(d).code(scope.as_str()),
                GroupKey::ServiceTier => self.out.tallies.groups.dim(d).code(row.tier.as_str()),
                GroupKey::AccountId => self
                    .out
                    .tallies
                    .groups
                    .dim(d)
                    .code(text(&cols.account_id, i)),
                GroupKey::Principal => self
                    .out
                    .tallies
                    .groups
                    .dim(d)
                    .code(text(&cols.principal, i)),
                GroupKey::Tag(k) => {
                    let v = row
                        .tags
                        .as_ref()
                        .and_then(|t| t.get(k))
                        .map_or("", String::as_str);
                    self.out.tallies.groups.dim(d).code(v)
                }
            };
            self.scratch.push(code);
        }
        self.out.tallies.groups.id(&self.scratch)
    }

    #[allow(clippy::too_many_arguments)]
    fn line_item<'r>(
        &mut self,
        cols: &UsageColumns<'r>,
        i: usize,
        source: &Arc<str>,
        model: u32,
        scope: Scope,
        row: &Valid,
        m: usize,
        p: usize,
        cost: Money,
    ) -> LineItem {
        let price = &self.ctx.catalog.rows[p];
        let present = |v: &Texts<'r>| Some(text(v, i)).filter(|s| !s.is_empty());
        let labels = &mut self.cache.labels;
        let mut shared = |v: &Texts<'r>| present(v).map(|s| labels.get(s));
        LineItem {
            source: source.clone(),
            row: cols.row.get(i).unwrap_or(0),
            request_id: present(&cols.request_id).map(str::to_string),
            timestamp: row.at,
            account_id: shared(&cols.account_id),
            principal: shared(&cols.principal),
            tags: shared(&cols.tags),
            inference_region: shared(&cols.inference_region),
            model_id: labels.get(self.cache.models.value(model)),
            requested_model_id: labels.get(text(&cols.model_id, i)),
            scope,
            region: labels.get(row.region),
            mode: row.mode,
            service_tier: Some(row.tier),
            usage_type: UsageType::METERS[m],
            quantity: Quantity::whole(u128::from(row.quantities[m])).unwrap_or_default(),
            unit_price: price.unit_price,
            cost,
            currency: labels.get(&price.currency),
            catalog_line: price.line,
            cost_center: None,
        }
    }

    /// With `--allocation`, the row's cost center (for line items).
    fn allocated(&mut self, cols: &UsageColumns, i: usize, row: &Valid) -> Option<String> {
        match self.ctx.allocation.is_empty() {
            true => None,
            false => Some(self.cost_center(cols, i, row)),
        }
    }

    /// The cost center of row `i`, by the first matching `--allocation` rule.
    fn cost_center(&mut self, cols: &UsageColumns, i: usize, row: &Valid) -> String {
        if self.ctx.allocation.is_empty() {
            return UNALLOCATED.to_string();
        }
        let (account, principal) = (text(&cols.account_id, i), text(&cols.principal, i));
        self.center_key.clear();
        for part in [account, "\u{1f}", principal, "\u{1f}", text(&cols.tags, i)] {
            self.center_key.push_str(part);
        }
        if let Some(c) = self.cache.centers.get(&self.center_key) {
            return c.clone();
        }
        let center = self
            .ctx
            .allocation
            .cost_center(account, principal, row.tags.as_ref())
            .to_string();
        self.cache
            .centers
            .insert(self.center_key.clone(), center.clone());
        center
    }

    fn finish(mut self) -> Rated {
        for sums in &self.sums {
            let Some(group) = sums.group else { continue };
            for (price, tally) in sums.prices.iter().zip(sums.tallies) {
                if let (Some(p), true) = (price, tally.records > 0) {
                    self.out.tallies.add(group, *p, tally);
                }
            }
        }
        self.out
    }
}

fn text<'r>(v: &Texts<'r>, i: usize) -> &'r str {
    v.get(i).map_or("", trimmed)
}

/// When every group key is a function of (model, region, scope, mode, tier, time),
/// the time bucket the group cache keys on (the finest time key; a year for none).
fn row_key_bucket(keys: &[GroupKey]) -> Option<i64> {
    let row_only = keys.iter().all(|k| {
        matches!(
            k,
            GroupKey::ModelId
                | GroupKey::Mode
                | GroupKey::Region
                | GroupKey::Scope
                | GroupKey::ServiceTier
                | GroupKey::Hour
                | GroupKey::Day
                | GroupKey::Month
        )
    });
    let finest = keys.iter().filter_map(GroupKey::time_bucket).min();
    row_only.then(|| finest.unwrap_or(i64::MAX))
}

/// Checks everything about a row that does not need the catalog.
fn validate<'r>(
    cols: &UsageColumns<'r>,
    meters: &SliceMeters,
    i: usize,
    (need_tags, valid_tags): (bool, &mut PlHashSet<String>),
) -> Result<Valid<'r>, Failure> {
    let at = instant(cols, i)?;
    let region = Some(text(&cols.region, i))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| (Reason::MissingValue, "region is empty".to_string()))?;
    let mode_text = text(&cols.mode, i);
    let mode = Mode::parse_or_on_demand(mode_text)
        .filter(|m| matches!(m, Mode::OnDemand | Mode::Batch))
        .ok_or_else(|| {
            (
                Reason::BadMode,
                format!("mode \"{mode_text}\" is not one of: on_demand, batch"),
            )
        })?;
    let tier_text = text(&cols.service_tier, i);
    let tier = Tier::parse_or_standard(tier_text).ok_or_else(|| {
        (
            Reason::BadServiceTier,
            format!(
                "service_tier \"{tier_text}\" is not one of: {}",
                Tier::expected()
            ),
        )
    })?;
    let (quantities, image) = metered(cols, meters, i)?;
    let tags = parse_tags(text(&cols.tags, i), need_tags, valid_tags)?;
    Ok(Valid {
        at,
        region,
        mode,
        tier,
        quantities,
        image,
        tags,
    })
}

/// Row `i`'s instant in microseconds.
fn instant(cols: &UsageColumns, i: usize) -> Result<i64, Failure> {
    cols.timestamp.get(i).map_err(|e| match e {
        BadInstant::Missing => (Reason::MissingValue, "timestamp is empty".to_string()),
        BadInstant::Unparsable(s) => (
            Reason::BadTimestamp,
            format!("timestamp \"{s}\" is not RFC 3339"),
        ),
        BadInstant::OutOfRange(s) => (
            Reason::BadTimestamp,
            format!("timestamp {s} after the epoch is outside years 1-9999"),
        ),
    })
}

/// Row `i`'s token and image counts, in `UsageType::METERS` order, and its image's
/// quality and pixels when it has images.
fn metered(
    cols: &UsageColumns,
    meters: &SliceMeters,
    i: usize,
) -> Result<([u64; 5], Option<ImageSpec>), Failure> {
    let mut quantities = [0u64; 5];
    for (m, usage) in UsageType::METERS.iter().enumerate() {
        quantities[m] = meters.get(cols, m, i).map_err(|v| {
            (
                Reason::BadQuantity,
                format!("{usage} \"{v}\" is not a non-negative integer"),
            )
        })?;
    }
    let image = match quantities[4] {
        0 => None,
        images => Some(image_spec(cols, i, images)?),
    };
    Ok((quantities, image))
}

fn image_spec(cols: &UsageColumns, i: usize, images: u64) -> Result<(ImageQuality, u64), Failure> {
    let bad = |what: String| (Reason::BadImage, format!("images = {images} but {what}"));
    let width = cols
        .image_width
        .get(i)
        .map_err(|v| bad(format!("image_width \"{v}\" is not a positive integer")))?;
    let height = cols
        .image_height
        .get(i)
        .map_err(|v| bad(format!("image_height \"{v}\" is not a positive integer")))?;
    if width == 0 || height == 0 {
        return Err(bad("image_width and image_height are required".to_string()));
    }
    let q = text(&cols.image_quality, i);
    let quality = ImageQuality::parse(q).ok_or_else(|| {
        bad(format!(
            "image_quality \"{q}\" is not one of: {}",
            ImageQuality::expected()
        ))
    })?;
    let pixels = width
        .checked_mul(height)
        .ok_or_else(|| bad("width × height overflows".to_string()))?;
    Ok((quality, pixels))
}

/// Tags must be a JSON object of strings; parsed only as far as grouping needs.
/// Tags strings repeat: when they are only checked, not kept, a string seen valid
/// once is not parsed again.
fn parse_tags(
    raw: &str,
    keep: bool,
    valid: &mut PlHashSet<String>,
) -> Result<Option<BTreeMap<String, String>>, Failure> {
    if raw.is_empty() || (!keep && valid.contains(raw)) {
        return Ok(None);
    }
    let tags: BTreeMap<String, String> = serde_json::from_str(raw).map_err(|e| {
        (
            Reason::BadTags,
            format!("tags is not a JSON object of strings: {e}"),
        )
    })?;
    if !keep {
        valid.insert(raw.to_string());
    }
    Ok(keep.then_some(tags))
}

/// Tags as one compact JSON object, keys sorted: the same tags, the same text.
pub fn canonical_tags(tags: &BTreeMap<String, String>) -> String {
    match tags.is_empty() {
        true => String::new(),
        false => serde_json::to_string(tags).unwrap_or_default(),
    }
}

pub mod capacity;
#[cfg(test)]
mod tests;
