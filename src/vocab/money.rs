//! Exact money: a signed fixed-point amount with 12 decimal places.
//!
//! Every report stores money as Parquet DECIMAL(38, 12); `Money` is that value's
//! unscaled integer, so arithmetic here is integer arithmetic and nothing is ever
//! rounded. Catalog prices enter through `rust_decimal` (exact parsing) and are
//! converted once, at load, with a check that they fit the scale.

use rust_decimal::Decimal;
use std::fmt;

/// Decimal places of every money value billrun writes.
pub const SCALE: u32 = 12;
/// Precision of the Parquet DECIMAL money columns.
pub const PRECISION: usize = 38;
const ONE: i128 = 1_000_000_000_000;
/// Largest magnitude DECIMAL(38, 12) can hold.
const MAX_UNSCALED: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// An exact amount of money at scale 12 (`unscaled / 10^12`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i128);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_unscaled(unscaled: i128) -> Money {
        Money(unscaled)
    }

    pub fn unscaled(self) -> i128 {
        self.0
    }

    /// `price / per` as an exact scale-12 amount, or `None` when the quotient
    /// needs more than 12 decimal places (or does not fit).
    pub fn unit_price(price: Decimal, per: u64) -> Option<Money> {
        if per == 0 {
            return None;
        }
        let mantissa = price.mantissa();
        let scale = price.scale();
        let numerator = if scale <= SCALE {
            mantissa.checked_mul(10i128.checked_pow(SCALE - scale)?)?
        } else {
            let divisor = 10i128.checked_pow(scale - SCALE)?;
            if mantissa % divisor != 0 {
                return None;
            }
            mantissa / divisor
        };
        let per = i128::from(per);
        (numerator % per == 0).then(|| Money(numerator / per))
    }

    /// A decimal as money, when it has at most 12 places and fits DECIMAL(38, 12).
    pub fn from_decimal(d: Decimal) -> Option<Money> {
        let scale = d.scale();
        if scale > SCALE {
            return None;
        }
        let unscaled = d
            .mantissa()
            .checked_mul(10i128.checked_pow(SCALE - scale)?)?;
        (unscaled.abs() <= MAX_UNSCALED).then_some(Money(unscaled))
    }

    /// `quantity × self`, exact; `None` on overflow of DECIMAL(38, 12).
    pub fn times(self, quantity: u128) -> Option<Money> {
        let q = i128::try_from(quantity).ok()?;
        self.0
            .checked_mul(q)
            .filter(|v| v.abs() <= MAX_UNSCALED)
            .map(Money)
    }

    /// The largest quantity `times` takes without overflow: `times(q)` is `Some`
    /// exactly when `q` is at most this.
    pub fn max_quantity(self) -> u128 {
        match self.0.unsigned_abs() {
            0 => u128::MAX,
            unit => MAX_UNSCALED as u128 / unit,
        }
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0
            .checked_add(other.0)
            .filter(|v| v.abs() <= MAX_UNSCALED)
            .map(Money)
    }
}

/// Running exact sums of the prorated pieces of one record in one period (a calendar
/// month): each piece gets the difference between the rounded running totals, so the
/// pieces add up to the once-rounded total however the period is cut (by day, by a
/// price change). Fractions (exact hours, storage months) are rounded half-even to
/// 12 places; whole units are exact.
#[derive(Debug, Default)]
pub struct Prorater {
    key: Option<(i64, i128)>,
    cost: i128,
    quantity: i128,
    cost_out: i128,
    quantity_out: i128,
}

impl Prorater {
    /// `numerator ÷ denominator` units at `unit` each, in `period`: the piece's
    /// quantity and cost. `None` on overflow of DECIMAL(38, 12).
    pub fn piece(
        &mut self,
        period: i64,
        unit: Money,
        numerator: i128,
        denominator: i128,
    ) -> Option<(Quantity, Money)> {
        if self.key != Some((period, denominator)) {
            *self = Prorater {
                key: Some((period, denominator)),
                ..Prorater::default()
            };
        }
        self.cost = self.cost.checked_add(unit.0.checked_mul(numerator)?)?;
        self.quantity = self.quantity.checked_add(numerator.checked_mul(ONE)?)?;
        let cost = div_half_even(self.cost, denominator)?;
        let quantity = div_half_even(self.quantity, denominator)?;
        if cost.abs() > MAX_UNSCALED || quantity.abs() > MAX_UNSCALED {
            return None;
        }
        let piece = (
            Quantity(quantity - self.quantity_out),
            Money(cost - self.cost_out),
        );
        (self.cost_out, self.quantity_out) = (cost, quantity);
        Some(piece)
    }
}

/// `n ÷ d` rounded to the nearest integer, ties to even; `None` if `d` is not positive.
fn div_half_even(n: i128, d: i128) -> Option<i128> {
    if d <= 0 {
        return None;
    }
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    let twice = r.checked_mul(2)?;
    Some(if twice > d || (twice == d && q % 2 != 0) {
        q + 1
    } else {
        q
    })
}

/// A quantity with 12 decimal places (`unscaled / 10^12`): whole for tokens, images,
/// hours and windows; fractional only for prorated capacity (exact hours, months).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i128);

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    /// `n` whole units; `None` beyond DECIMAL(38, 12).
    pub fn whole(n: u128) -> Option<Quantity> {
        i128::try_from(n)
            .ok()?
            .checked_mul(ONE)
            .filter(|v| *v <= MAX_UNSCALED)
            .map(Quantity)
    }

    pub fn from_unscaled(unscaled: i128) -> Quantity {
        Quantity(unscaled)
    }

    pub fn unscaled(self) -> i128 {
        self.0
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.0
            .checked_add(other.0)
            .filter(|v| v.abs() <= MAX_UNSCALED)
            .map(Quantity)
    }
}

impl fmt::Display for Quantity {
    /// Shortest exact decimal: `1000`, `0.5`; never an exponent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / ONE as u128, abs % ONE as u128);
        if frac == 0 {
            return write!(f, "{sign}{whole}");
        }
        let digits = format!("{frac:012}");
        write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Display for Money {
    /// Plain decimal with all 12 places: no exponent, no float formatting.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let one = ONE as u128;
        write!(f, "{sign}{}.{:012}", abs / one, abs % one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn unit_price_divides_exactly() {
        let unit = Money::unit_price(dec("0.003"), 1000).unwrap();
        assert_eq!(unit.unscaled(), 3_000_000); // 0.000003 at scale 12
        assert_eq!(unit.to_string(), "0.000003000000");
    }

    #[test]
    fn unit_price_rejects_more_than_twelve_places() {
        assert!(Money::unit_price(dec("0.00000875"), 1000).is_some());
        assert!(Money::unit_price(dec("0.0000000001"), 1000).is_none());
        assert!(Money::unit_price(dec("1"), 3).is_none());
        assert!(Money::unit_price(dec("1"), 0).is_none());
    }

    #[test]
    fn times_is_exact_and_overflow_is_caught() {
        let unit = Money::unit_price(dec("0.015"), 1000).unwrap();
        assert_eq!(unit.times(150).unwrap().to_string(), "0.002250000000");
        assert!(Money::from_unscaled(MAX_UNSCALED).times(2).is_none());
    }

    #[test]
    fn max_quantity_is_where_times_overflows() {
        let units = [
            1,
            2,
            7,
            15_000_000,
            999_999_999_999,
            MAX_UNSCALED / 3,
            MAX_UNSCALED,
        ];
        for unit in units.into_iter().flat_map(|u| [u, -u]) {
            let m = Money::from_unscaled(unit);
            let max = m.max_quantity();
            assert!(m.times(max).is_some(), "{unit}");
            assert!(m.times(max + 1).is_none(), "{unit}");
        }
        assert_eq!(Money::ZERO.max_quantity(), u128::MAX);
        assert!(Money::ZERO.times(u64::MAX.into()).is_some());
    }

    #[test]
    fn prorating_rounds_half_even_once() {
        let per_hour = Money::unit_price(dec("18.40"), 1).unwrap();
        let mut p = Prorater::default();
        // 2 MU × 744 h: whole units, exact.
        let (q, c) = p.piece(0, per_hour, 2 * 744, 1).unwrap();
        assert_eq!(
            (q.to_string(), c.to_string()),
            ("1488".into(), "27379.200000000000".into())
        );
        // 1 MU for 1 s: 18.40 / 3600 = 0.005111… → 12 places.
        let (q, c) = Prorater::default().piece(0, per_hour, 1, 3600).unwrap();
        assert_eq!(
            (q.to_string(), c.to_string()),
            ("0.000277777778".into(), "0.005111111111".into())
        );
        // Ties go to the even neighbour.
        assert_eq!(div_half_even(5, 2), Some(2));
        assert_eq!(div_half_even(7, 2), Some(4));
        assert_eq!(div_half_even(-5, 2), Some(-2));
        assert_eq!(div_half_even(1, 0), None);
    }

    #[test]
    fn pieces_of_a_period_add_up_to_the_rounded_whole() {
        let per_hour = Money::unit_price(dec("18.40"), 1).unwrap();
        let whole = Prorater::default().piece(0, per_hour, 7, 3600).unwrap().1;
        let mut p = Prorater::default();
        let parts: i128 = (0..7)
            .map(|_| p.piece(0, per_hour, 1, 3600).unwrap().1.unscaled())
            .sum();
        assert_eq!(parts, whole.unscaled());
        // A new period starts its own sums.
        assert_eq!(
            p.piece(1, per_hour, 1, 3600).unwrap().1.to_string(),
            "0.005111111111"
        );
    }

    #[test]
    fn quantities_print_shortest_and_prorate() {
        assert_eq!(Quantity::whole(1000).unwrap().to_string(), "1000");
        let ratio = |n, d| Prorater::default().piece(0, Money::ZERO, n, d).unwrap().0;
        assert_eq!(ratio(1, 2).to_string(), "0.5");
        assert_eq!(ratio(1, 3).to_string(), "0.333333333333");
        assert_eq!(ratio(2, 3).to_string(), "0.666666666667");
        assert!(Quantity::whole(u128::MAX).is_none());
    }

    #[test]
    fn negative_amounts_format_with_sign() {
        assert_eq!(
            Money::from_unscaled(-1_500_000_000_000).to_string(),
            "-1.500000000000"
        );
    }
}
