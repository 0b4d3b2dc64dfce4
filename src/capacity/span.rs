//! Time arithmetic of capacity billing, in UTC microseconds: billing units anchored at
//! a start, calendar months, and the cutting of intervals into priced pieces.

pub use crate::time::{MICROS_PER_HOUR, month_length, month_start, next_month_start};
pub const MICROS_PER_MINUTE: i64 = 60_000_000;
/// Custom Model Import bills copies in 5-minute windows.
pub const WINDOW: i64 = 5 * MICROS_PER_MINUTE;

/// Units of length `unit` needed to cover `[start, end)`: every started unit.
pub fn started_units(start: i64, end: i64, unit: i64) -> i64 {
    ceil_div((end - start).max(0), unit)
}

/// How many of the units `k = 0..count` anchored at `anchor` (unit `k` starts at
/// `anchor + k × unit`) start inside `[lo, hi)`. A unit belongs to the instant it
/// starts at, so a run over a period split in two bills each unit exactly once.
pub fn starts_in(anchor: i64, unit: i64, count: i64, lo: i64, hi: i64) -> i64 {
    let first = ceil_div(lo - anchor, unit).clamp(0, count);
    let end = ceil_div(hi - anchor, unit).clamp(0, count);
    (end - first).max(0)
}

fn ceil_div(n: i64, d: i64) -> i64 {
    -(-n).div_euclid(d)
}

/// Cuts `[lo, hi)` at every instant `next(t)` names (month starts, day starts, price
/// changes): each piece lies in one month, one day when grouping by day, one price.
/// `None` past `limit` pieces, before more are made.
pub fn pieces(
    lo: i64,
    hi: i64,
    limit: usize,
    next: impl Fn(i64) -> i64,
) -> Option<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    let mut t = lo;
    while t < hi {
        if out.len() == limit {
            return None;
        }
        let cut = next(t).clamp(t + 1, hi);
        out.push((t, cut));
        t = cut;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;
    use proptest::prelude::*;

    fn at(s: &str) -> i64 {
        parse_instant(s).unwrap()
    }

    #[test]
    fn months_have_their_calendar_lengths() {
        assert_eq!(
            month_length(at("2025-01-15T10:00:00Z")),
            31 * 24 * MICROS_PER_HOUR
        );
        assert_eq!(month_length(at("2024-02-01")), 29 * 24 * MICROS_PER_HOUR);
        assert_eq!(
            next_month_start(at("2025-12-31T23:59:59Z")),
            at("2026-01-01")
        );
        assert_eq!(month_start(at("2025-12-31T23:59:59Z")), at("2025-12-01"));
    }

    #[test]
    fn started_units_round_up() {
        assert_eq!(started_units(0, 1, MICROS_PER_HOUR), 1);
        assert_eq!(started_units(0, MICROS_PER_HOUR, MICROS_PER_HOUR), 1);
        assert_eq!(started_units(0, MICROS_PER_HOUR + 1, MICROS_PER_HOUR), 2);
        assert_eq!(started_units(5, 5, MICROS_PER_HOUR), 0);
    }

    #[test]
    fn pieces_cut_at_month_starts() {
        let p = pieces(
            at("2025-01-31T12:00:00Z"),
            at("2025-02-01T06:00:00Z"),
            10,
            next_month_start,
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                (at("2025-01-31T12:00:00Z"), at("2025-02-01")),
                (at("2025-02-01"), at("2025-02-01T06:00:00Z"))
            ]
        );
    }

    #[test]
    fn pieces_stop_at_the_limit() {
        let hour = |t: i64| (t.div_euclid(MICROS_PER_HOUR) + 1) * MICROS_PER_HOUR;
        let day = 24 * MICROS_PER_HOUR;
        assert_eq!(pieces(0, day, 24, hour).map(|p| p.len()), Some(24));
        assert_eq!(pieces(0, day + 1, 24, hour), None);
    }

    proptest! {
        /// Units anchored at one instant, counted over a period split anywhere, are
        /// counted once: the property that lets monthly runs add up.
        #[test]
        fn units_split_anywhere_are_counted_once(
            anchor in -1_000_000i64..1_000_000,
            unit in 1i64..10_000,
            count in 0i64..500,
            a in -2_000_000i64..3_000_000,
            len1 in 0i64..3_000_000,
            len2 in 0i64..3_000_000,
        ) {
            let (b, c) = (a + len1, a + len1 + len2);
            prop_assert_eq!(
                starts_in(anchor, unit, count, a, b) + starts_in(anchor, unit, count, b, c),
                starts_in(anchor, unit, count, a, c)
            );
            let all = starts_in(anchor, unit, count, i64::MIN / 4, i64::MAX / 4);
            prop_assert_eq!(all, count);
        }
    }
}
