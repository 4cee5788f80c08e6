//! Which state ifstated is in: the first whose condition holds.
//!
//! The choice is written once, in the state ifstated starts in, which every
//! state goes back to when it is no longer the first whose condition holds.
//! States are tried in order, so a state's condition only has to decide the
//! combinations no earlier state takes: state i may be written as any c'
//! with c' ∧ ¬E = c ∧ ¬E, where E is the disjunction of the earlier
//! conditions. [`first_match`] finds such a c' by dropping the conjuncts of
//! c that ¬E already implies, decided exactly with decision diagrams: a
//! derived state `!a && !b && c` becomes `c`, and `unrouted` becomes `true`.
//! With c' for c, E is unchanged (E ∨ c = E ∨ (c ∧ ¬E) = E ∨ c'), so a
//! state is left exactly when `! c'_i || c'_1 || … || c'_{i-1}`.

use crate::bdd::{self, Bdd, NodeId, TooLarge};
use crate::ir::{Cond, Site};

/// Nodes the diagrams may have before the conditions are kept as written
/// (the checker's own budget, which every clean site fits).
const BUDGET: usize = 1_000_000;

/// Per state, a condition that picks it when the states are tried in
/// order: its own, less the conjuncts the earlier states make redundant.
pub fn first_match(site: &Site) -> Vec<Cond> {
    let mut bdd = Bdd::new(BUDGET);
    let mut earlier = Some(bdd::FALSE);
    site.states
        .iter()
        .map(|state| {
            let Some(before) = earlier else { return state.when.clone() };
            let reduced = reduce(&mut bdd, &state.when, before);
            earlier = state.when.bdd(&mut bdd).and_then(|c| bdd.or(before, c)).ok();
            reduced.unwrap_or_else(|_| state.when.clone())
        })
        .collect()
}

/// `cond` without the conjuncts that the others and ¬`earlier` imply,
/// dropped one at a time from the left.
fn reduce(bdd: &mut Bdd, cond: &Cond, earlier: NodeId) -> Result<Cond, TooLarge> {
    let parts: Vec<&Cond> = match cond {
        Cond::And(parts) => parts.iter().collect(),
        c => vec![c],
    };
    let built = parts.iter().map(|p| p.bdd(bdd)).collect::<Result<Vec<_>, _>>()?;
    // after[k]: the conjunction of the parts after k.
    let mut after = vec![bdd::TRUE; parts.len()];
    for k in (0..parts.len().saturating_sub(1)).rev() {
        after[k] = bdd.and(after[k + 1], built[k + 1])?;
    }
    let mut kept_bdd = bdd.not(earlier)?;
    let mut kept = Vec::new();
    for (k, part) in parts.into_iter().enumerate() {
        let rest = bdd.and(kept_bdd, after[k])?;
        let without = bdd.not(built[k])?;
        if bdd.and(rest, without)? != bdd::FALSE {
            kept.push(part.clone());
            kept_bdd = bdd.and(kept_bdd, built[k])?;
        }
    }
    Ok(match kept.len() {
        0 => Cond::True,
        1 => kept.pop().unwrap_or(Cond::True),
        _ => Cond::And(kept),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(u: usize) -> Cond {
        Cond::Up(u)
    }

    fn down(u: usize) -> Cond {
        Cond::Not(Box::new(Cond::Up(u)))
    }

    fn reduced(conds: &[Cond]) -> Vec<Cond> {
        let mut bdd = Bdd::new(BUDGET);
        let mut earlier = bdd::FALSE;
        conds
            .iter()
            .map(|c| {
                let r = reduce(&mut bdd, c, earlier).expect("small");
                let built = c.bdd(&mut bdd).expect("small");
                earlier = bdd.or(earlier, built).expect("small");
                r
            })
            .collect()
    }

    #[test]
    fn derived_states_keep_only_their_own_uplink() {
        let conds = [
            Cond::And(vec![up(0)]),
            Cond::And(vec![down(0), up(1)]),
            Cond::And(vec![down(0), down(1), up(2)]),
            Cond::And(vec![down(0), down(1), down(2)]),
        ];
        assert_eq!(reduced(&conds), [up(0), up(1), up(2), Cond::True]);
    }

    #[test]
    fn a_conjunct_is_kept_when_the_earlier_states_do_not_imply_it() {
        // `a && b` first: `!b && c` keeps `!b` (a may be down).
        let conds = [Cond::And(vec![up(0), up(1)]), Cond::And(vec![down(1), up(2)]), Cond::True];
        assert_eq!(reduced(&conds), [Cond::And(vec![up(0), up(1)]), Cond::And(vec![down(1), up(2)]), Cond::True]);
        // A repeated conjunct goes once, not twice.
        assert_eq!(reduced(&[Cond::And(vec![up(0), up(0)])]), [up(0)]);
    }

    #[test]
    fn the_reduced_conditions_pick_the_same_state_everywhere() {
        let conds = [
            Cond::CountIn { members: vec![0, 1, 2, 3], min: 3, max: 4 },
            Cond::And(vec![down(0), Cond::Or(vec![up(1), up(2)])]),
            Cond::And(vec![Cond::CountIn { members: vec![0, 1, 2, 3], min: 0, max: 2 }, up(3)]),
            Cond::True,
        ];
        let r = reduced(&conds);
        for bits in 0u32..16 {
            let health = |u: usize| bits >> u & 1 == 1;
            let first = |cs: &[Cond]| cs.iter().position(|c| c.eval(&health));
            assert_eq!(first(&r), first(&conds), "{bits:04b}");
        }
    }
}
