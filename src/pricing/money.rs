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

    /// `quantity × self`, exact; `None` on overflow of DECIMAL(38, 12).
    pub fn times(self, quantity: u128) -> Option<Money> {
        let q = i128::try_from(quantity).ok()?;
        self.0
            .checked_mul(q)
            .filter(|v| v.abs() <= MAX_UNSCALED)
            .map(Money)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0
            .checked_add(other.0)
            .filter(|v| v.abs() <= MAX_UNSCALED)
            .map(Money)
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
    fn negative_amounts_format_with_sign() {
        assert_eq!(
            Money::from_unscaled(-1_500_000_000_000).to_string(),
            "-1.500000000000"
        );
    }
}
