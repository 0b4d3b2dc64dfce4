//! Sharing a billed amount over weights by the largest-remainder method, at 12 places:
//! each share is the amount × weight ÷ total rounded toward zero, and the units
//! (10⁻¹²) left over go one each to the largest remainders (ties: the earlier key),
//! so the shares add up to the amount exactly.

/// `amount` (unscaled) shared over `weights` (non-negative); `None` when the weights
/// are all zero.
pub fn share(amount: i128, weights: &[u128]) -> Option<Vec<i128>> {
    let total: u128 = weights.iter().try_fold(0u128, |t, w| t.checked_add(*w))?;
    if total == 0 {
        return None;
    }
    let magnitude = amount.unsigned_abs();
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given = 0u128;
    for (i, w) in weights.iter().enumerate() {
        let (q, r) = mul_div(magnitude, *w, total);
        given += q;
        shares.push(q);
        remainders.push((r, i));
    }
    // Largest remainder first; on equal remainders the earlier weight.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = magnitude - given;
    for (_, i) in remainders.iter().take(left as usize) {
        shares[*i] += 1;
    }
    let sign = if amount < 0 { -1 } else { 1 };
    Some(shares.into_iter().map(|s| sign * s as i128).collect())
}

/// (a × b ÷ c, a × b mod c) for c > 0, with a 256-bit product.
fn mul_div(a: u128, b: u128, c: u128) -> (u128, u128) {
    if let Some(p) = a.checked_mul(b) {
        return (p / c, p % c);
    }
    // a × b as (high, low) 128-bit halves.
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & u64::MAX as u128) + (p10 & u64::MAX as u128);
    let low = (p00 & u64::MAX as u128) | (mid << 64);
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    // Long division of (high, low) by c, a bit at a time; the quotient fits in 128
    // bits because b ≤ c (a weight is at most the total).
    let (mut q, mut r) = (0u128, 0u128);
    for bit in (0..256).rev() {
        let carry = r >> 127;
        r <<= 1;
        r |= if bit >= 128 {
            (high >> (bit - 128)) & 1
        } else {
            (low >> bit) & 1
        };
        if carry == 1 || r >= c {
            r = r.wrapping_sub(c);
            if bit < 128 {
                q |= 1 << bit;
            }
        }
    }
    (q, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shares_add_up_and_follow_the_weights() {
        assert_eq!(share(100, &[1, 1, 1]), Some(vec![34, 33, 33]));
        assert_eq!(share(-100, &[1, 1, 1]), Some(vec![-34, -33, -33]));
        assert_eq!(share(10, &[0, 5]), Some(vec![0, 10]));
        assert_eq!(share(10, &[0, 0]), None);
        assert_eq!(share(0, &[3, 4]), Some(vec![0, 0]));
    }

    #[test]
    fn wide_products_divide_exactly() {
        let a = 10u128.pow(30);
        let (q, r) = mul_div(a, a, 10u128.pow(32));
        assert_eq!((q, r), (10u128.pow(28), 0));
        let (q, r) = mul_div(u128::MAX, u128::MAX - 1, u128::MAX);
        assert_eq!((q, r), (u128::MAX - 1, 0));
    }

    proptest! {
        #[test]
        fn shares_sum_to_the_amount(
            amount in -(10i128.pow(30))..10i128.pow(30),
            weights in proptest::collection::vec(0u128..10u128.pow(24), 1..20),
        ) {
            match share(amount, &weights) {
                None => prop_assert!(weights.iter().all(|w| *w == 0)),
                Some(s) => {
                    prop_assert_eq!(s.iter().sum::<i128>(), amount);
                    let total: u128 = weights.iter().sum();
                    for (s, w) in s.iter().zip(&weights) {
                        // Each share is within one unit of its exact proportion.
                        let (q, _) = mul_div(amount.unsigned_abs(), *w, total);
                        prop_assert!(s.unsigned_abs() == q || s.unsigned_abs() == q + 1);
                    }
                }
            }
        }
    }
}
