//! Group-by keys and the per-slice interning of their values.

use super::rate::Tally;
use crate::catalog::terms::UsageType;
use crate::time::{MICROS_PER_DAY, MICROS_PER_HOUR, format_day, format_hour, format_month};
use crate::vocab::money::{Money, Quantity};
use polars::prelude::PlHashMap as HashMap;
use std::collections::BTreeMap;

/// A report dimension, as named in `--group-by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKey {
    ModelId,
    Mode,
    Region,
    Scope,
    ServiceTier,
    AccountId,
    Principal,
    Hour,
    Day,
    Month,
    Tag(String),
    /// Every tag, as one canonical JSON object (FOCUS `Tags`).
    Tags,
    /// The billed resource of a capacity charge; empty for per-request usage.
    Resource,
    /// The cost center `--allocation` charges usage to.
    CostCenter,
}

impl GroupKey {
    pub const DEFAULT: [GroupKey; 3] = [GroupKey::ModelId, GroupKey::Mode, GroupKey::Region];

    pub fn parse(s: &str) -> Option<GroupKey> {
        Some(match s {
            "model_id" => GroupKey::ModelId,
            "mode" => GroupKey::Mode,
            "region" => GroupKey::Region,
            "scope" => GroupKey::Scope,
            "service_tier" => GroupKey::ServiceTier,
            "account_id" => GroupKey::AccountId,
            "principal" => GroupKey::Principal,
            "hour" => GroupKey::Hour,
            "day" => GroupKey::Day,
            "month" => GroupKey::Month,
            "tags" => GroupKey::Tags,
            "resource" => GroupKey::Resource,
            "cost_center" => GroupKey::CostCenter,
            _ => GroupKey::Tag(
                s.strip_prefix("tag:")
                    .filter(|k| !k.is_empty())?
                    .to_string(),
            ),
        })
    }

    /// The report column name: the key as written in `--group-by`.
    pub fn column_name(&self) -> String {
        match self {
            GroupKey::ModelId => "model_id".into(),
            GroupKey::Mode => "mode".into(),
            GroupKey::Region => "region".into(),
            GroupKey::Scope => "scope".into(),
            GroupKey::ServiceTier => "service_tier".into(),
            GroupKey::AccountId => "account_id".into(),
            GroupKey::Principal => "principal".into(),
            GroupKey::Hour => "hour".into(),
            GroupKey::Day => "day".into(),
            GroupKey::Month => "month".into(),
            GroupKey::Tag(k) => format!("tag:{k}"),
            GroupKey::Tags => "tags".into(),
            GroupKey::Resource => "resource".into(),
            GroupKey::CostCenter => "cost_center".into(),
        }
    }

    /// For time keys, the length of a bucket whose instants share one value.
    pub fn time_bucket(&self) -> Option<i64> {
        match self {
            GroupKey::Hour => Some(MICROS_PER_HOUR),
            GroupKey::Day | GroupKey::Month => Some(MICROS_PER_DAY),
            _ => None,
        }
    }

    /// For time keys, the value of the instant `at`: `2025-12-03T10:00:00Z`,
    /// `2025-12-03`, `2025-12`.
    pub fn time_value(&self, at: i64) -> Option<String> {
        match self {
            GroupKey::Hour => Some(format_hour(at)),
            GroupKey::Day => Some(format_day(at)),
            GroupKey::Month => Some(format_month(at)),
            _ => None,
        }
    }
}

/// Interns strings to small codes, so a group is a short vector of integers.
#[derive(Default)]
pub struct Interner {
    codes: HashMap<String, u32>,
    values: Vec<String>,
}

impl Interner {
    pub fn code(&mut self, value: &str) -> u32 {
        if let Some(&c) = self.codes.get(value) {
            return c;
        }
        let c = self.values.len() as u32;
        self.values.push(value.to_string());
        self.codes.insert(value.to_string(), c);
        c
    }

    pub fn value(&self, code: u32) -> &str {
        &self.values[code as usize]
    }

    /// The code of `value`, if it has one.
    pub fn find(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }

    /// Every value, in code order.
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

/// Groups, each a vector of per-dimension codes.
#[derive(Default)]
pub struct Groups {
    dims: Vec<Interner>,
    ids: HashMap<Vec<u32>, u32>,
    members: Vec<Vec<u32>>,
}

impl Groups {
    pub fn new(dimensions: usize) -> Groups {
        Groups {
            dims: (0..dimensions).map(|_| Interner::default()).collect(),
            ids: HashMap::default(),
            members: Vec::new(),
        }
    }

    pub fn dim(&mut self, d: usize) -> &mut Interner {
        &mut self.dims[d]
    }

    /// The id of the group with these codes (one per dimension).
    pub fn id(&mut self, codes: &[u32]) -> u32 {
        if let Some(&id) = self.ids.get(codes) {
            return id;
        }
        let id = self.members.len() as u32;
        self.members.push(codes.to_vec());
        self.ids.insert(codes.to_vec(), id);
        id
    }

    /// The id of the group with these values, if there is one.
    pub fn find(&self, values: &[String]) -> Option<u32> {
        let codes: Option<Vec<u32>> = values
            .iter()
            .zip(&self.dims)
            .map(|(v, dim)| dim.find(v))
            .collect();
        self.ids.get(&codes?).copied()
    }

    /// The values of group `id`, in dimension order.
    pub fn values(&self, id: u32) -> Vec<String> {
        let codes = &self.members[id as usize];
        codes
            .iter()
            .enumerate()
            .map(|(d, &c)| self.dims[d].value(c).to_string())
            .collect()
    }
}

/// Summed quantities per (group, catalog row), with the groups interned: what a slice
/// produces and what a run accumulates. Group values become strings only for reports.
#[derive(Default)]
pub struct Tallies {
    pub groups: Groups,
    pub by_price: HashMap<(u32, usize), Tally>,
    /// Charges whose cost is computed per charge (capacity, prorated and rounded once
    /// each; imported-model tokens at zero), per (group, catalog row, usage type).
    pub charged: HashMap<(u32, usize, UsageType), Charged>,
    /// A charged sum left DECIMAL(38, 12): the summary must fail, not clamp.
    pub overflowed: bool,
}

/// Summed charges of one (group, catalog row, usage type).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Charged {
    pub quantity: Quantity,
    pub cost: Money,
    pub records: u64,
}

impl Tallies {
    pub fn new(dimensions: usize) -> Tallies {
        Tallies {
            groups: Groups::new(dimensions),
            ..Tallies::default()
        }
    }

    pub fn add(&mut self, group: u32, price: usize, tally: Tally) {
        self.by_price.entry((group, price)).or_default().add(tally);
    }

    pub fn charge(&mut self, group: u32, price: usize, usage: UsageType, charge: Charged) {
        let sum = self.charged.entry((group, price, usage)).or_default();
        match (
            sum.quantity.checked_add(charge.quantity),
            sum.cost.checked_add(charge.cost),
        ) {
            (Some(quantity), Some(cost)) => {
                *sum = Charged {
                    quantity,
                    cost,
                    records: sum.records + charge.records,
                }
            }
            _ => self.overflowed = true,
        }
    }

    /// Folds `other` in: its codes are remapped to ours once per distinct value and
    /// group, so merging costs what `other` holds, not what it counted.
    pub fn absorb(&mut self, other: Tallies) {
        let remap: Vec<Vec<u32>> = other
            .groups
            .dims
            .iter()
            .enumerate()
            .map(|(d, dim)| {
                dim.values()
                    .iter()
                    .map(|v| self.groups.dim(d).code(v))
                    .collect()
            })
            .collect();
        let ids: Vec<u32> = other
            .groups
            .members
            .iter()
            .map(|codes| {
                let mapped: Vec<u32> = codes
                    .iter()
                    .enumerate()
                    .map(|(d, &c)| remap[d][c as usize])
                    .collect();
                self.groups.id(&mapped)
            })
            .collect();
        for ((group, price), tally) in other.by_price {
            self.add(ids[group as usize], price, tally);
        }
        for ((group, price, usage), charge) in other.charged {
            self.charge(ids[group as usize], price, usage, charge);
        }
        self.overflowed |= other.overflowed;
    }

    /// Takes back `part`, which was absorbed before: its sums are subtracted exactly,
    /// and an entry with no record left is removed. `compacted` then drops the
    /// groups left without entries, so the tallies are those of a run that never
    /// read the part.
    pub fn take_back(&mut self, part: &Tallies) {
        let ids: Vec<Option<u32>> = (0..part.groups.members.len() as u32)
            .map(|g| self.groups.find(&part.groups.values(g)))
            .collect();
        for (&(group, price), t) in &part.by_price {
            let Some(id) = ids[group as usize] else {
                continue;
            };
            if let Some(sum) = self.by_price.get_mut(&(id, price)) {
                sum.quantity -= t.quantity;
                sum.records -= t.records;
                if sum.records == 0 {
                    self.by_price.remove(&(id, price));
                }
            }
        }
        for (&(group, price, usage), c) in &part.charged {
            let Some(id) = ids[group as usize] else {
                continue;
            };
            if let Some(sum) = self.charged.get_mut(&(id, price, usage)) {
                // The part was added to these sums: taking it back cannot overflow.
                sum.quantity =
                    Quantity::from_unscaled(sum.quantity.unscaled() - c.quantity.unscaled());
                sum.cost = Money::from_unscaled(sum.cost.unscaled() - c.cost.unscaled());
                sum.records -= c.records;
                if sum.records == 0 {
                    self.charged.remove(&(id, price, usage));
                }
            }
        }
    }

    /// The same tallies with only the groups that hold an entry.
    pub fn compacted(&self) -> Tallies {
        let mut out = Tallies::new(self.groups.dims.len());
        let mut ids: HashMap<u32, u32> = HashMap::default();
        let mut id_of = |out: &mut Tallies, g: u32| -> u32 {
            *ids.entry(g).or_insert_with(|| {
                let codes: Vec<u32> = self.groups.members[g as usize]
                    .iter()
                    .enumerate()
                    .map(|(d, &c)| out.groups.dim(d).code(self.groups.dims[d].value(c)))
                    .collect();
                out.groups.id(&codes)
            })
        };
        for (&(g, price), t) in &self.by_price {
            let id = id_of(&mut out, g);
            out.by_price.insert((id, price), *t);
        }
        for (&(g, price, usage), c) in &self.charged {
            let id = id_of(&mut out, g);
            out.charged.insert((id, price, usage), *c);
        }
        out.overflowed = self.overflowed;
        out
    }

    /// The same tallies over some of the dimensions (`dims`, in the order wanted):
    /// groups that differ only in the dropped dimensions merge, their sums add.
    pub fn project(&self, dims: &[usize]) -> Tallies {
        let mut out = Tallies::new(dims.len());
        let ids: Vec<u32> = self
            .groups
            .members
            .iter()
            .map(|codes| {
                let mapped: Vec<u32> = dims
                    .iter()
                    .enumerate()
                    .map(|(j, &d)| out.groups.dim(j).code(self.groups.dims[d].value(codes[d])))
                    .collect();
                out.groups.id(&mapped)
            })
            .collect();
        for (&(group, price), tally) in &self.by_price {
            out.add(ids[group as usize], price, *tally);
        }
        for (&(group, price, usage), charge) in &self.charged {
            out.charge(ids[group as usize], price, usage, *charge);
        }
        out.overflowed |= self.overflowed;
        out
    }

    /// The tallies split by the value of dimension `dim`, each part projected to
    /// `keep`: one part per partition of a partitioned report.
    pub fn split(&self, dim: usize, keep: &[usize]) -> BTreeMap<String, Tallies> {
        let mut parts: BTreeMap<String, Tallies> = BTreeMap::new();
        let mut ids: Vec<(String, u32)> = Vec::with_capacity(self.groups.members.len());
        for codes in &self.groups.members {
            let label = self.groups.dims[dim].value(codes[dim]).to_string();
            let part = parts
                .entry(label.clone())
                .or_insert_with(|| Tallies::new(keep.len()));
            let mapped: Vec<u32> = keep
                .iter()
                .enumerate()
                .map(|(j, &d)| part.groups.dim(j).code(self.groups.dims[d].value(codes[d])))
                .collect();
            ids.push((label, part.groups.id(&mapped)));
        }
        for (&(group, price), tally) in &self.by_price {
            let (label, id) = &ids[group as usize];
            if let Some(p) = parts.get_mut(label) {
                p.add(*id, price, *tally);
            }
        }
        for (&(group, price, usage), charge) in &self.charged {
            let (label, id) = &ids[group as usize];
            if let Some(p) = parts.get_mut(label) {
                p.charge(*id, price, usage, *charge);
            }
        }
        for part in parts.values_mut() {
            part.overflowed |= self.overflowed;
        }
        parts
    }

    /// Every group id, with its values.
    pub fn groups(&self) -> impl Iterator<Item = (u32, Vec<String>)> + '_ {
        (0..self.groups.members.len() as u32).map(|g| (g, self.groups.values(g)))
    }

    /// (group values, catalog row) → tally.
    pub fn by_values(&self) -> HashMap<(Vec<String>, usize), Tally> {
        self.by_price
            .iter()
            .map(|(&(g, p), t)| ((self.groups.values(g), p), *t))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key_and_rejects_unknown() {
        for k in [
            "model_id",
            "mode",
            "region",
            "scope",
            "service_tier",
            "account_id",
            "principal",
            "hour",
            "day",
            "month",
            "tags",
            "resource",
            "cost_center",
        ] {
            assert_eq!(GroupKey::parse(k).unwrap().column_name(), k);
        }
        assert_eq!(
            GroupKey::parse("tag:team"),
            Some(GroupKey::Tag("team".into()))
        );
        assert_eq!(GroupKey::parse("tag:"), None);
        assert_eq!(GroupKey::parse("color"), None);
    }

    #[test]
    fn absorbing_remaps_codes_and_adds_tallies() {
        let mut a = Tallies::new(1);
        let x = a.groups.dim(0).code("x");
        let gx = a.groups.id(&[x]);
        a.add(
            gx,
            0,
            Tally {
                quantity: 5,
                records: 1,
            },
        );
        let mut b = Tallies::new(1);
        let y = b.groups.dim(0).code("y");
        let x = b.groups.dim(0).code("x");
        let (gy, gx) = (b.groups.id(&[y]), b.groups.id(&[x]));
        b.add(
            gy,
            0,
            Tally {
                quantity: 1,
                records: 1,
            },
        );
        b.add(
            gx,
            0,
            Tally {
                quantity: 2,
                records: 1,
            },
        );
        a.absorb(b);
        let got = a.by_values();
        assert_eq!(
            got[&(vec!["x".to_string()], 0)],
            Tally {
                quantity: 7,
                records: 2
            }
        );
        assert_eq!(
            got[&(vec!["y".to_string()], 0)],
            Tally {
                quantity: 1,
                records: 1
            }
        );
    }

    #[test]
    fn projecting_merges_groups_and_keeps_every_sum() {
        let mut t = Tallies::new(2);
        let one = Tally {
            quantity: 3,
            records: 1,
        };
        for (a, b) in [("x", "1"), ("x", "2"), ("y", "1")] {
            let codes = [t.groups.dim(0).code(a), t.groups.dim(1).code(b)];
            let g = t.groups.id(&codes);
            t.add(g, 7, one);
        }
        let by_first = t.project(&[0]).by_values();
        assert_eq!(by_first[&(vec!["x".to_string()], 7)].quantity, 6);
        assert_eq!(by_first[&(vec!["y".to_string()], 7)].records, 1);
        let swapped = t.project(&[1, 0]).by_values();
        assert_eq!(
            swapped[&(vec!["2".to_string(), "x".to_string()], 7)].quantity,
            3
        );
        assert_eq!(t.project(&[]).by_values()[&(vec![], 7)].records, 3);
    }

    #[test]
    fn groups_are_stable_ids() {
        let mut g = Groups::new(2);
        let a = [g.dim(0).code("x"), g.dim(1).code("y")];
        let id = g.id(&a);
        assert_eq!(g.id(&a), id);
        assert_eq!(g.values(id), vec!["x".to_string(), "y".to_string()]);
    }
}
