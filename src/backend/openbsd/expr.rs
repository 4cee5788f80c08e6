//! Conditions of ifstated `if` blocks: built from state conditions and
//! uplink health, folded where constants decide them, and written with
//! every nested `&&`/`||` in parentheses, since ifstated gives the two the
//! same precedence (`%left AND OR` in its parse.y).

use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Const(bool),
    /// A test as ifstated writes it: `$macro` or `"em0".link.up`.
    Test(String),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    pub fn not(e: Expr) -> Expr {
        match e {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Not(inner) => *inner,
            e => Expr::Not(Box::new(e)),
        }
    }

    pub fn all(items: Vec<Expr>) -> Expr {
        Self::join(items, true)
    }

    pub fn any(items: Vec<Expr>) -> Expr {
        Self::join(items, false)
    }

    /// `&&` (`and`) or `||` of `items`: nested joins of the same kind are
    /// flattened, the neutral constant dropped, the absorbing one returned.
    fn join(items: Vec<Expr>, and: bool) -> Expr {
        let mut out = Vec::new();
        for item in items {
            match item {
                Expr::Const(b) if b == and => {}
                Expr::Const(b) => return Expr::Const(b),
                Expr::And(inner) if and => out.extend(inner),
                Expr::Or(inner) if !and => out.extend(inner),
                e => out.push(e),
            }
        }
        match out.len() {
            0 => Expr::Const(and),
            1 => out.pop().unwrap_or(Expr::Const(and)),
            _ if and => Expr::And(out),
            _ => Expr::Or(out),
        }
    }

    /// Whether at least `min` and at most `max` of `items` hold, when
    /// that is a plain `&&` or `||` of them or of their negations (all,
    /// any, none, not all) or a constant; `None` for any other threshold,
    /// which no expression writes in size linear in the items (see
    /// `counting`).
    pub fn plain_count(items: &[Expr], min: usize, max: usize) -> Option<Expr> {
        let n = items.len();
        let max = max.min(n);
        let negated = || items.iter().cloned().map(Expr::not).collect();
        match (min, max) {
            _ if min > max => Some(Expr::Const(false)),
            (0, m) if m == n => Some(Expr::Const(true)),
            (0, 0) => Some(Expr::all(negated())),
            (0, m) if m + 1 == n => Some(Expr::any(negated())),
            (1, m) if m == n => Some(Expr::any(items.to_vec())),
            (k, _) if k == n => Some(Expr::all(items.to_vec())),
            _ => None,
        }
    }

    /// Every test the expression reads, as ifstated writes it.
    pub fn tests<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        match self {
            Expr::Const(_) => {}
            Expr::Test(t) => {
                out.insert(t);
            }
            Expr::Not(e) => e.tests(out),
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| e.tests(out)),
        }
    }

    /// The condition as ifstated reads it; `None` for a constant, which has
    /// no syntax (an unconditional action is written without `if`).
    pub fn render(&self) -> Option<String> {
        match self {
            Expr::Const(_) => None,
            e => Some(e.text(false)),
        }
    }

    fn text(&self, nested: bool) -> String {
        let joined = |items: &[Expr], op: &str| {
            let inner: Vec<String> = items.iter().map(|e| e.text(true)).collect();
            let inner = inner.join(op);
            if nested {
                format!("( {inner} )")
            } else {
                inner
            }
        };
        match self {
            Expr::Const(b) => b.to_string(),
            Expr::Test(t) => t.clone(),
            Expr::Not(e) => format!("! {}", e.text(true)),
            Expr::And(items) => joined(items, " && "),
            Expr::Or(items) => joined(items, " || "),
        }
    }

    /// Evaluates under an assignment of the tests, for tests.
    #[cfg(test)]
    fn eval(&self, test: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Test(t) => test(t),
            Expr::Not(e) => !e.eval(test),
            Expr::And(items) => items.iter().all(|e| e.eval(test)),
            Expr::Or(items) => items.iter().any(|e| e.eval(test)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> Expr {
        Expr::Test(format!("${name}"))
    }

    #[test]
    fn constants_fold() {
        assert_eq!(Expr::all(vec![t("a"), Expr::Const(true)]), t("a"));
        assert_eq!(Expr::all(vec![t("a"), Expr::Const(false)]), Expr::Const(false));
        assert_eq!(Expr::any(vec![t("a"), Expr::Const(true)]), Expr::Const(true));
        assert_eq!(Expr::any(vec![]), Expr::Const(false));
        assert_eq!(Expr::not(Expr::not(t("a"))), t("a"));
        assert_eq!(Expr::Const(true).render(), None);
    }

    #[test]
    fn nested_joins_are_parenthesised() {
        let e = Expr::any(vec![Expr::all(vec![t("a"), Expr::not(t("b"))]), Expr::not(Expr::all(vec![t("c"), t("d")]))]);
        assert_eq!(e.render().as_deref(), Some("( $a && ! $b ) || ! ( $c && $d )"));
    }

    #[test]
    fn plain_counts_are_exact_and_the_rest_are_left_to_a_test() {
        let names = ["a", "b", "c", "d"];
        let items: Vec<Expr> = names.iter().map(|n| t(n)).collect();
        let mut plain = 0;
        for min in 0..=5 {
            for max in 0..=5 {
                let Some(e) = Expr::plain_count(&items, min, max) else {
                    // Only thresholds strictly between none and all.
                    assert!(min <= max.min(4) && !(min == 0 && max >= 3) && min != 4 && !(min == 1 && max >= 4));
                    continue;
                };
                plain += 1;
                for bits in 0u32..16 {
                    let up = |s: &str| names.iter().position(|n| s == format!("${n}")).is_some_and(|i| bits >> i & 1 == 1);
                    let k = bits.count_ones() as usize;
                    assert_eq!(e.eval(&up), min <= k && k <= max, "count {min}..={max} with {bits:04b}: {:?}", e.render());
                }
            }
        }
        assert!(plain > 20);
        // Linear: each item once.
        assert_eq!(Expr::plain_count(&items, 0, 3).and_then(|e| e.render()).as_deref(), Some("! $a || ! $b || ! $c || ! $d"));
        assert_eq!(Expr::plain_count(&items, 2, 4), None);
    }
}
