//! Capacity and customization: Provisioned Throughput, imported-model storage and
//! copies (recorded or derived from invocations), customization jobs, billed into the
//! tallies the usage went to, split among cost centers where asked.

use super::plan::Plan;
use super::read::RunState;
use crate::capacity::{self, Billed, Charge};
use crate::catalog::terms::UsageType;
use crate::error::Result;
use crate::pricing::allocate::{CapacitySplit, split_exact};
use crate::pricing::group::{Charged, GroupKey};
use crate::pricing::rate::Rated;
use crate::report::manifest::InputInfo;
use crate::vocab::money::{Money, Quantity};
use std::collections::BTreeMap;

impl RunState<'_> {
    /// Bills the plan's capacity tables and the copy windows derived from the
    /// invocations read, adding each table to `inputs`; returns how many derived
    /// windows could not be priced (rejects that are not input rows).
    pub(super) fn bill_capacity(
        &mut self,
        plan: &mut Plan,
        inputs: &mut Vec<InputInfo>,
    ) -> Result<u64> {
        let biller = &plan.capacity.biller;
        let mut billed = Vec::new();
        for table in &plan.capacity.provisioned {
            billed.push(capacity::bill_provisioned(biller, table)?);
        }
        let mut registry_files = std::mem::take(&mut plan.capacity.registry_files);
        capacity::bill_storage(biller, &self.registry, &mut registry_files);
        billed.extend(registry_files);
        billed.extend(std::mem::take(&mut plan.capacity.copies));
        for path in &self.cfg.capacity.customization {
            billed.push(capacity::bill_customization(biller, path)?);
        }
        for b in billed {
            inputs.push(self.absorb_billed(b)?);
        }
        let invocations = std::mem::take(&mut self.invocations);
        let (derived, derived_rejects) =
            capacity::bill_derived(biller, &self.registry, invocations);
        self.absorb_charges(derived)?;
        let derived_rejected = derived_rejects.len() as u64;
        self.write_rejects(derived_rejects)?;
        Ok(derived_rejected)
    }

    /// Counts a capacity table's records, writes its rejects, adds its charges.
    fn absorb_billed(&mut self, billed: Billed) -> Result<InputInfo> {
        self.counts.read += billed.rows;
        self.counts.priced += billed.priced;
        self.counts.out_of_range += billed.out_of_range;
        self.merge(Rated {
            rejects: billed.rejects,
            ..Rated::default()
        })?;
        self.absorb_charges(billed.charges)?;
        Ok(InputInfo {
            path: billed.input.display().to_string(),
            kind: billed.kind.to_string(),
            bytes: billed.bytes,
            rows: billed.rows,
            problem: None,
            etag: None,
        })
    }

    /// Adds capacity charges to the tallies (grouped like usage) and line items. With
    /// `--allocation`, a charge goes to its account's cost center, or, with
    /// `--split-capacity`, is split exactly among the centers that used the model.
    fn absorb_charges(&mut self, charges: Vec<Charge>) -> Result<()> {
        let mut codes = Vec::with_capacity(self.keys.len());
        let mut items = Vec::new();
        for c in &charges {
            for (center, quantity, cost) in self.allocate(c) {
                codes.clear();
                for (d, key) in self.keys.iter().enumerate() {
                    let value = capacity_group_value(key, c, &center);
                    codes.push(self.tallies.groups.dim(d).code(&value));
                }
                let group = self.tallies.groups.id(&codes);
                let charged = Charged {
                    quantity,
                    cost,
                    records: 1,
                };
                self.tallies.charge(group, c.price, c.usage_type, charged);
                if self.line_items.is_some() {
                    let mut item = c.line_item(&self.cfg.catalog);
                    (item.quantity, item.cost) = (quantity, cost);
                    item.cost_center = (!self.cfg.allocation.is_empty()).then_some(center);
                    items.push(item);
                }
            }
        }
        if let Some(sink) = self.line_items.as_mut() {
            sink.write(super::read::LineRows::Items(items))?;
        }
        Ok(())
    }

    /// A charge's (cost center, quantity, cost) parts: exact splits that add up to it.
    fn allocate(&self, c: &Charge) -> Vec<(String, Quantity, Money)> {
        let by_rule = || {
            let center = self.cfg.allocation.cost_center(&c.account_id, "", None);
            vec![(center.to_string(), c.quantity, c.cost)]
        };
        let Some(split) = self.cfg.split else {
            return by_rule();
        };
        // Shares are kept per model ARN: a provisioned model's id, an imported model's.
        let model = match c.usage_type {
            UsageType::MuHours => &c.resource,
            _ => &c.model_id,
        };
        let users: Vec<(&String, u128)> = self
            .shares
            .iter()
            .filter(|((m, _), _)| m == model)
            .map(|((_, center), tokens)| (center, *tokens))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        if users.is_empty() {
            return by_rule();
        }
        let weights: Vec<u128> = match split {
            CapacitySplit::Tokens => users.iter().map(|(_, t)| *t).collect(),
            CapacitySplit::Even => vec![1; users.len()],
        };
        let costs = split_exact(c.cost.unscaled(), &weights);
        let quantities = split_exact(c.quantity.unscaled(), &weights);
        users
            .iter()
            .zip(costs.into_iter().zip(quantities))
            .map(|((center, _), (cost, quantity))| {
                (
                    center.to_string(),
                    Quantity::from_unscaled(quantity),
                    Money::from_unscaled(cost),
                )
            })
            .collect()
    }
}

/// A capacity charge's value for a report dimension: it has no principal, tags or
/// service tier, and is always served in its own region.
fn capacity_group_value(key: &GroupKey, c: &Charge, center: &str) -> String {
    match key {
        GroupKey::ModelId => c.model_id.clone(),
        GroupKey::Mode => c.mode().to_string(),
        GroupKey::Region => c.region.clone(),
        GroupKey::Scope => crate::resolve::Scope::InRegion.to_string(),
        GroupKey::AccountId => c.account_id.clone(),
        GroupKey::Hour | GroupKey::Day | GroupKey::Month => {
            key.time_value(c.at).unwrap_or_default()
        }
        GroupKey::Resource => c.resource.clone(),
        GroupKey::CostCenter => center.to_string(),
        GroupKey::ServiceTier | GroupKey::Principal | GroupKey::Tag(_) | GroupKey::Tags => {
            String::new()
        }
    }
}
