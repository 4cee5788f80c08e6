//! A small reduced ordered binary decision diagram (ROBDD).
//!
//! State conditions are boolean functions of the uplinks' health. Deciding
//! exhaustiveness ("does every combination select a state?") by enumerating
//! combinations costs 2^n; a BDD decides it exactly in time proportional to
//! the size of the diagrams, which for `&&`, `||`, `!`, `any`, `all` and
//! `count(...) >= k` over uplinks in declaration order stays small (a
//! threshold over n uplinks needs at most n·k nodes).
//!
//! Nodes are hash-consed, so two equal functions are the same `NodeId` and
//! "is this function false" is a comparison with `FALSE`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The keys are small integers; SipHash's protection against crafted keys
/// buys nothing here and costs most of the time.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

pub type NodeId = u32;
pub const FALSE: NodeId = 0;
pub const TRUE: NodeId = 1;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Node {
    var: u32,
    lo: NodeId,
    hi: NodeId,
}

/// Raised when the diagram outgrows its budget; the caller reports E0303.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

pub struct Bdd {
    nodes: Vec<Node>,
    unique: FastMap<Node, NodeId>,
    ite_cache: FastMap<(NodeId, NodeId, NodeId), NodeId>,
    budget: usize,
}

impl Bdd {
    pub fn new(budget: usize) -> Bdd {
        let terminal = Node { var: u32::MAX, lo: 0, hi: 0 };
        Bdd {
            nodes: vec![terminal, Node { var: u32::MAX, lo: 1, hi: 1 }],
            unique: FastMap::default(),
            ite_cache: FastMap::default(),
            budget,
        }
    }

    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    fn mk(&mut self, var: u32, lo: NodeId, hi: NodeId) -> Result<NodeId, TooLarge> {
        if lo == hi {
            return Ok(lo);
        }
        let node = Node { var, lo, hi };
        if let Some(&id) = self.unique.get(&node) {
            return Ok(id);
        }
        if self.nodes.len() >= self.budget {
            return Err(TooLarge);
        }
        let id = self.nodes.len() as NodeId;
        self.nodes.push(node);
        self.unique.insert(node, id);
        Ok(id)
    }

    pub fn var(&mut self, var: u32) -> Result<NodeId, TooLarge> {
        self.mk(var, FALSE, TRUE)
    }

    fn top(&self, f: NodeId) -> u32 {
        self.nodes[f as usize].var
    }

    fn cofactors(&self, f: NodeId, var: u32) -> (NodeId, NodeId) {
        let n = self.nodes[f as usize];
        if n.var == var {
            (n.lo, n.hi)
        } else {
            (f, f)
        }
    }

    /// if-then-else, the one operation the others are made of. Recursion
    /// depth is bounded by the number of variables (uplinks), not by size.
    pub fn ite(&mut self, f: NodeId, g: NodeId, h: NodeId) -> Result<NodeId, TooLarge> {
        if f == TRUE {
            return Ok(g);
        }
        if f == FALSE {
            return Ok(h);
        }
        if g == h {
            return Ok(g);
        }
        if g == TRUE && h == FALSE {
            return Ok(f);
        }
        if let Some(&r) = self.ite_cache.get(&(f, g, h)) {
            return Ok(r);
        }
        let var = self.top(f).min(self.top(g)).min(self.top(h));
        let (f0, f1) = self.cofactors(f, var);
        let (g0, g1) = self.cofactors(g, var);
        let (h0, h1) = self.cofactors(h, var);
        let lo = self.ite(f0, g0, h0)?;
        let hi = self.ite(f1, g1, h1)?;
        let r = self.mk(var, lo, hi)?;
        self.ite_cache.insert((f, g, h), r);
        Ok(r)
    }

    pub fn not(&mut self, f: NodeId) -> Result<NodeId, TooLarge> {
        self.ite(f, FALSE, TRUE)
    }

    pub fn and(&mut self, f: NodeId, g: NodeId) -> Result<NodeId, TooLarge> {
        self.ite(f, g, FALSE)
    }

    pub fn or(&mut self, f: NodeId, g: NodeId) -> Result<NodeId, TooLarge> {
        self.ite(f, TRUE, g)
    }

    /// "at least `k` of `vars` are true", built bottom-up over the sorted
    /// variables: n·k nodes at most.
    pub fn at_least(&mut self, vars: &[u32], k: usize) -> Result<NodeId, TooLarge> {
        let mut vars = vars.to_vec();
        vars.sort_unstable();
        vars.dedup();
        if k == 0 {
            return Ok(TRUE);
        }
        if k > vars.len() {
            return Ok(FALSE);
        }
        // row[j] = "at least j more of the remaining variables are true"
        let mut row: Vec<NodeId> = (0..=k).map(|j| if j == 0 { TRUE } else { FALSE }).collect();
        for &var in vars.iter().rev() {
            let mut next = vec![TRUE; k + 1];
            for j in 1..=k {
                next[j] = self.mk(var, row[j], row[j - 1])?;
            }
            row = next;
        }
        Ok(row[k])
    }

    /// One satisfying assignment: `Some(true)` up, `Some(false)` down, `None`
    /// for a variable the function does not depend on along the path.
    pub fn any_sat(&self, f: NodeId, vars: usize) -> Option<Vec<Option<bool>>> {
        if f == FALSE {
            return None;
        }
        let mut out = vec![None; vars];
        let mut node = f;
        while node != TRUE {
            let n = self.nodes[node as usize];
            // Prefer the branch where the uplink is down: the combinations
            // users forget are the failures.
            if n.lo != FALSE {
                out[n.var as usize] = Some(false);
                node = n.lo;
            } else {
                out[n.var as usize] = Some(true);
                node = n.hi;
            }
        }
        Some(out)
    }

    /// The literals every satisfying assignment of `f` shares: `Some(true)`
    /// for a variable that is true whenever `f` holds, `Some(false)` for one
    /// that is false, `None` otherwise (or for all, when `f` is false).
    ///
    /// One pass over the diagram: a node whose low edge is FALSE forces its
    /// variable true, one whose high edge is FALSE forces it false, and
    /// otherwise only what both branches force is forced. A variable a path
    /// skips is free on it, which the intersection accounts for.
    pub fn implied(&self, f: NodeId, vars: usize) -> Vec<Option<bool>> {
        let words = vars.div_ceil(64).max(1);
        let mut memo: FastMap<NodeId, (Vec<u64>, Vec<u64>)> = FastMap::default();
        let (up, down) = self.forced(f, words, &mut memo);
        (0..vars)
            .map(|v| {
                let bit = |set: &[u64]| set[v / 64] >> (v % 64) & 1 == 1;
                match (f == FALSE, bit(&up), bit(&down)) {
                    (true, _, _) => None,
                    (_, true, _) => Some(true),
                    (_, _, true) => Some(false),
                    _ => None,
                }
            })
            .collect()
    }

    fn forced(&self, f: NodeId, words: usize, memo: &mut FastMap<NodeId, (Vec<u64>, Vec<u64>)>) -> (Vec<u64>, Vec<u64>) {
        if f == TRUE || f == FALSE {
            return (vec![0; words], vec![0; words]);
        }
        if let Some(known) = memo.get(&f) {
            return known.clone();
        }
        let n = self.nodes[f as usize];
        let (word, bit) = (n.var as usize / 64, 1u64 << (n.var % 64));
        let result = if n.lo == FALSE {
            let (mut up, down) = self.forced(n.hi, words, memo);
            up[word] |= bit;
            (up, down)
        } else if n.hi == FALSE {
            let (up, mut down) = self.forced(n.lo, words, memo);
            down[word] |= bit;
            (up, down)
        } else {
            let (up_lo, down_lo) = self.forced(n.lo, words, memo);
            let (up_hi, down_hi) = self.forced(n.hi, words, memo);
            let and = |a: &[u64], b: &[u64]| a.iter().zip(b).map(|(x, y)| x & y).collect::<Vec<u64>>();
            (and(&up_lo, &up_hi), and(&down_lo, &down_hi))
        };
        memo.insert(f, result.clone());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_matches_enumeration() {
        let mut bdd = Bdd::new(1 << 20);
        let f = bdd.at_least(&[0, 1, 2, 3], 2).unwrap();
        let g = bdd.at_least(&[0, 1, 2, 3], 3).unwrap();
        let not_f = bdd.not(f).unwrap();
        // at least 3 implies at least 2
        assert_eq!(bdd.and(g, not_f).unwrap(), FALSE);
        assert_ne!(f, g);
    }

    #[test]
    fn implied_literals() {
        let mut bdd = Bdd::new(1 << 20);
        let (a, b, c) = (bdd.var(0).unwrap(), bdd.var(1).unwrap(), bdd.var(2).unwrap());
        let not_b = bdd.not(b).unwrap();
        let a_not_b = bdd.and(a, not_b).unwrap();
        let a_and_c = bdd.and(a, c).unwrap();
        let f = bdd.or(a_not_b, a_and_c).unwrap();
        assert_eq!(bdd.implied(f, 3), vec![Some(true), None, None]);
        let g = bdd.and(a_not_b, c).unwrap();
        assert_eq!(bdd.implied(g, 3), vec![Some(true), Some(false), Some(true)]);
        assert_eq!(bdd.implied(FALSE, 3), vec![None, None, None]);
    }

    #[test]
    fn sixty_four_uplinks_stay_small() {
        let mut bdd = Bdd::new(1 << 20);
        let vars: Vec<u32> = (0..64).collect();
        let f = bdd.at_least(&vars, 32).unwrap();
        assert!(bdd.size() < 64 * 33 + 2);
        assert!(bdd.any_sat(f, 64).is_some());
    }
}
