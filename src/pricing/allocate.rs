//! Chargeback allocation: rules that map usage to cost centers (`--allocation`), and
//! the exact split of shared capacity among the centers that used it.

use std::collections::BTreeMap;
use std::path::Path;

/// Where usage no rule matches goes.
pub const UNALLOCATED: &str = "unallocated";

/// What a rule matches on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Matcher {
    Account(String),
    /// A principal ARN, exact or a glob (`*` any run, `?` one character).
    Principal(String),
    Tag(String, String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    matcher: Matcher,
    cost_center: String,
}

/// The rules of an `--allocation` file, in file order (first match wins).
#[derive(Clone, Debug, Default)]
pub struct Allocation {
    rules: Vec<Rule>,
}

/// `--split-capacity`: how a shared capacity charge is divided among cost centers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacitySplit {
    /// By each center's share of the tokens sent to that model.
    Tokens,
    /// Evenly among the centers that used the model.
    Even,
}

impl Allocation {
    /// Reads a CSV with columns `rule,cost_center`, where a rule is
    /// `account_id=<id>`, `principal=<arn or glob>` or `tag:<key>=<value>`.
    pub fn load(path: &Path) -> Result<Allocation, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Allocation::parse(&path.display().to_string(), &text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Allocation, String> {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{name}: {e}"))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header != ["rule", "cost_center"] {
            return Err(format!(
                "{name}:1: expected the header `rule,cost_center`, found `{}`",
                header.join(",")
            ));
        }
        let mut rules = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("{name}: {e}"))?;
            let line = record.position().map_or(0, |p| p.line());
            let (rule, center) = (record[0].trim(), record[1].trim());
            if center.is_empty() {
                return Err(format!("{name}:{line}: cost_center is empty"));
            }
            rules.push(Rule {
                matcher: matcher(rule).ok_or_else(|| {
                    format!(
                        "{name}:{line}: rule \"{rule}\" is not account_id=<id>, principal=<arn or glob> or tag:<key>=<value>"
                    )
                })?,
                cost_center: center.to_string(),
            });
        }
        Ok(Allocation { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a rule looks at tags (so rows' tags must be parsed).
    pub fn needs_tags(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.matcher, Matcher::Tag(..)))
    }

    /// The cost center of usage by `account` and `principal` with `tags`.
    pub fn cost_center(
        &self,
        account: &str,
        principal: &str,
        tags: Option<&BTreeMap<String, String>>,
    ) -> &str {
        self.rules
            .iter()
            .find(|r| match &r.matcher {
                Matcher::Account(a) => a == account,
                Matcher::Principal(p) => glob_match(p, principal),
                Matcher::Tag(k, v) => tags.and_then(|t| t.get(k)) == Some(v),
            })
            .map_or(UNALLOCATED, |r| r.cost_center.as_str())
    }
}

fn matcher(rule: &str) -> Option<Matcher> {
    let (key, value) = rule.split_once('=')?;
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match key.trim() {
        "account_id" => Some(Matcher::Account(value.to_string())),
        "principal" => Some(Matcher::Principal(value.to_string())),
        k => {
            let tag = k.strip_prefix("tag:").filter(|t| !t.is_empty())?;
            Some(Matcher::Tag(tag.to_string(), value.to_string()))
        }
    }
}

/// `*` matches any run of characters (including none), `?` exactly one.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Splits `total` (an unscaled amount, 10^-12) into parts proportional to `weights`,
/// exactly: each part is rounded down, then the units left over go one each to the
/// parts with the largest remainders (ties: the earlier part). The parts always add
/// up to `total`. All-zero weights split evenly.
pub fn split_exact(total: i128, weights: &[u128]) -> Vec<i128> {
    if weights.is_empty() {
        return Vec::new();
    }
    let mut w: Vec<i128> = weights
        .iter()
        .map(|&x| i128::try_from(x).unwrap_or(i128::MAX))
        .collect();
    if w.iter().all(|x| *x == 0) {
        w.iter_mut().for_each(|x| *x = 1);
    }
    // Keep total × weight within i128 (shares keep their proportions to ~30 digits).
    while w.iter().any(|x| total.checked_mul(*x).is_none()) || w.iter().sum::<i128>() == 0 {
        w.iter_mut().for_each(|x| *x = (*x + 1) / 2);
    }
    let sum: i128 = w.iter().sum();
    let mut parts: Vec<i128> = w.iter().map(|x| (total * x).div_euclid(sum)).collect();
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse((total * w[i]).rem_euclid(sum)), i));
    let left = total - parts.iter().sum::<i128>();
    for &i in order.iter().take(usize::try_from(left).unwrap_or(0)) {
        parts[i] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_matching_rule_wins_and_the_rest_is_unallocated() {
        let a = Allocation::parse(
            "a.csv",
            "rule,cost_center\ntag:team=search,search\nprincipal=arn:aws:iam::*:role/ml-*,ml\naccount_id=111122223333,platform\n",
        )
        .unwrap();
        let tags: BTreeMap<String, String> = [("team".to_string(), "search".to_string())].into();
        assert_eq!(a.cost_center("111122223333", "", Some(&tags)), "search");
        assert_eq!(
            a.cost_center("111122223333", "arn:aws:iam::1:role/ml-train", None),
            "ml"
        );
        assert_eq!(
            a.cost_center("111122223333", "arn:aws:iam::1:user/bob", None),
            "platform"
        );
        assert_eq!(a.cost_center("999", "", None), UNALLOCATED);
        assert!(a.needs_tags());
    }

    #[test]
    fn bad_rules_name_their_line() {
        let e = Allocation::parse("a.csv", "rule,cost_center\nteam=x,y\n").unwrap_err();
        assert!(e.starts_with("a.csv:2: rule \"team=x\""), "{e}");
        assert!(Allocation::parse("a.csv", "x,y\n").is_err());
        assert!(Allocation::parse("a.csv", "rule,cost_center\naccount_id=1,\n").is_err());
    }

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob_match("arn:*:role/ml-*", "arn:aws:iam::1:role/ml-x"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("abc", "abcd"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn splits_are_exact_with_largest_remainders() {
        assert_eq!(split_exact(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(split_exact(100, &[1, 3]), vec![25, 75]);
        assert_eq!(split_exact(7, &[0, 0]), vec![4, 3]);
        assert_eq!(
            split_exact(5, &[2, 1]),
            vec![3, 2],
            "5·2/3 = 3.33, 5/3 = 1.67: the larger remainder gets the unit"
        );
    }

    proptest! {
        #[test]
        fn split_parts_add_up_to_the_whole(
            total in 0i128..1_000_000_000_000_000_000,
            weights in prop::collection::vec(0u128..1_000_000_000_000, 1..12),
        ) {
            let parts = split_exact(total, &weights);
            prop_assert_eq!(parts.iter().sum::<i128>(), total);
            prop_assert!(parts.iter().all(|p| *p >= 0));
            // Each part is within one unit of its exact share: |p·Σw − total·w| ≤ Σw.
            let sum: i128 = weights.iter().map(|w| *w as i128).sum();
            if sum > 0 {
                for (p, w) in parts.iter().zip(&weights) {
                    prop_assert!((p * sum - total * *w as i128).abs() <= sum);
                }
            }
        }
    }
}
