//! Invocations of models billed by capacity (provisioned or imported): their tokens
//! are reported at zero cost under the model's capacity price, since the time the
//! capacity ran is what is billed.

use super::*;
use crate::catalog::terms::Commitment;

/// A model billed by capacity whose invocations appear in usage: a provisioned model
/// (by its ARN) or an imported model. Its tokens are reported at zero cost under its
/// capacity price, whose cost is the time billed.
#[derive(Clone, Debug)]
pub struct CapacityModel {
    /// The model the capacity price is found for (a provisioned model's base model;
    /// an imported model's ARN).
    pub priced_model: String,
    /// `mu_hours` or `cmu_minutes`.
    pub usage: UsageType,
    pub commitment: Option<Commitment>,
    pub cmu_version: Option<String>,
    /// Imported models without copy activity: windows come from invocations.
    pub derive_windows: bool,
}

/// Capacity models by the id invocations name them with (ARN).
pub type CapacityModels = std::collections::HashMap<String, CapacityModel>;

/// Successful invocations of imported models without copy activity, per
/// (model ARN, region, account): instants, in any order.
pub type Invocations = std::collections::HashMap<(String, String, String), Vec<i64>>;

impl SliceRater<'_> {
    /// Rates an invocation of `arn`, a provisioned or imported model: tokens at zero
    /// cost, grouped under the priced model and the capacity's mode. Keeps the
    /// instant of a successful invocation when copy windows are derived from them, and
    /// the tokens per cost center when capacity is split by tokens.
    pub(super) fn rate_capacity_invocation(
        &mut self,
        cols: &UsageColumns,
        i: usize,
        source: &Arc<str>,
        arn: &str,
        target: &CapacityModel,
        row: Valid,
    ) -> Result<Outcome, Failure> {
        let mode = target.usage.capacity_mode().unwrap_or(Mode::OnDemand);
        let row = Valid { mode, ..row };
        let price = self.capacity_price(arn, target, &row)?;
        let model = self.cache.models.code(&target.priced_model);
        let group = self.group_id(cols, i, model, Scope::InRegion, &row);
        for (m, usage) in UsageType::METERS.iter().enumerate() {
            let Some(quantity) = Some(row.quantities[m]).filter(|q| *q > 0) else {
                continue;
            };
            let charged = Charged {
                quantity: Quantity::whole(u128::from(quantity)).unwrap_or_default(),
                cost: Money::ZERO,
                records: 1,
            };
            self.out.tallies.charge(group, price, *usage, charged);
            if self.ctx.line_items {
                let mut item = self.line_item(
                    cols,
                    i,
                    source,
                    model,
                    Scope::InRegion,
                    &row,
                    m,
                    price,
                    Money::ZERO,
                );
                item.unit_price = Money::ZERO;
                item.requested_model_id = self.cache.labels.get(arn);
                item.cost_center = self.allocated(cols, i, &row);
                self.out.line_items.push(item);
            }
        }
        let successful = text(&cols.error_code, i).is_empty();
        if target.derive_windows && successful {
            let key = (
                arn.to_string(),
                row.region.to_string(),
                text(&cols.account_id, i).to_string(),
            );
            self.out.invocations.entry(key).or_default().push(row.at);
        }
        if self.ctx.split.is_some() {
            let tokens: u128 = row.quantities[..4].iter().map(|q| u128::from(*q)).sum();
            let center = self.cost_center(cols, i, &row);
            *self
                .out
                .shares
                .entry((arn.to_string(), center))
                .or_default() += tokens;
        }
        Ok(Outcome::Priced)
    }

    /// The catalog row of the model's capacity price at the row's time (cached: the
    /// ARN fixes the model, term and CMU version).
    fn capacity_price(
        &mut self,
        arn: &str,
        target: &CapacityModel,
        row: &Valid,
    ) -> Result<usize, Failure> {
        let key = PriceKey {
            model: self.cache.models.code(arn),
            region: self.cache.regions.code(row.region),
            scope: Scope::InRegion,
            mode: row.mode,
            tier: Tier::Standard,
            usage: target.usage,
            epoch: self.ctx.catalog.epoch(row.at),
            image: None,
        };
        let catalog = self.ctx.catalog;
        let found = *self.cache.prices.entry(key).or_insert_with(|| {
            catalog.find(&Query {
                model_id: &target.priced_model,
                region: row.region,
                scope: Scope::InRegion,
                mode: row.mode,
                tier: Tier::Standard,
                usage_type: target.usage,
                at: row.at,
                image: None,
                commitment: target.commitment,
                cmu_version: target.cmu_version.as_deref(),
            })
        });
        found.ok_or_else(|| {
            (
                Reason::NoPrice,
                format!(
                    "no {} price for {arn} ({}) in {} at {}",
                    target.usage,
                    target.priced_model,
                    row.region,
                    format_instant(row.at)
                ),
            )
        })
    }
}
