//! State conditions as postfix code for a stack machine: leaves push a
//! value, NOT replaces the top one, AND n and OR n replace the top n with
//! one. One machine (`run`) rebuilds a `Cond` on load and renders text in
//! the disassembler; neither it nor `compile` recurses, so no input can
//! exhaust the call stack.

use super::encode::varint;
use super::error::{CondError, LoadError};
use super::format::{opcode, MAX_COND_DEPTH};
use super::reader::Reader;
use crate::ir::{Cond, UplinkId};

#[derive(Clone, Debug, PartialEq)]
pub enum Leaf {
    True,
    Up(UplinkId),
    CountIn { members: Vec<UplinkId>, min: u32, max: u32 },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Push(Leaf),
    Not,
    And(usize),
    Or(usize),
}

/// The postfix code of a condition, children before their operator.
pub fn compile(cond: &Cond) -> Vec<Op> {
    enum Visit<'a> {
        Enter(&'a Cond),
        Emit(Op),
    }
    let mut ops = Vec::new();
    let mut todo = vec![Visit::Enter(cond)];
    while let Some(visit) = todo.pop() {
        let cond = match visit {
            Visit::Emit(op) => {
                ops.push(op);
                continue;
            }
            Visit::Enter(cond) => cond,
        };
        let (op, children): (Op, &[Cond]) = match cond {
            Cond::True => (Op::Push(Leaf::True), &[]),
            Cond::Up(u) => (Op::Push(Leaf::Up(*u)), &[]),
            Cond::CountIn { members, min, max } => {
                (Op::Push(Leaf::CountIn { members: members.clone(), min: *min, max: *max }), &[])
            }
            Cond::Not(inner) => (Op::Not, std::slice::from_ref(inner.as_ref())),
            Cond::And(parts) => (Op::And(parts.len()), parts),
            Cond::Or(parts) => (Op::Or(parts.len()), parts),
        };
        todo.push(Visit::Emit(op));
        todo.extend(children.iter().rev().map(Visit::Enter));
    }
    ops
}

impl Op {
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Op::Push(Leaf::True) => out.push(opcode::TRUE),
            Op::Push(Leaf::Up(u)) => {
                out.push(opcode::UP);
                varint(out, *u as u64);
            }
            Op::Push(Leaf::CountIn { members, min, max }) => {
                out.push(opcode::COUNT_IN);
                varint(out, members.len() as u64);
                for m in members {
                    varint(out, *m as u64);
                }
                varint(out, (*min).into());
                varint(out, (*max).into());
            }
            Op::Not => out.push(opcode::NOT),
            Op::And(n) => {
                out.push(opcode::AND);
                varint(out, *n as u64);
            }
            Op::Or(n) => {
                out.push(opcode::OR);
                varint(out, *n as u64);
            }
        }
    }

    /// Reads one op; uplink numbers are checked against `uplinks`.
    pub fn read(r: &mut Reader, uplinks: usize, state: &str) -> Result<Op, LoadError> {
        Ok(match r.u8()? {
            opcode::TRUE => Op::Push(Leaf::True),
            opcode::UP => Op::Push(Leaf::Up(r.index(uplinks, "uplink")?)),
            opcode::COUNT_IN => {
                let members = r.list(|r| r.index(uplinks, "uplink"))?;
                Op::Push(Leaf::CountIn { members, min: r.int("count")?, max: r.int("count")? })
            }
            opcode::NOT => Op::Not,
            opcode::AND => Op::And(r.int("operand count")?),
            opcode::OR => Op::Or(r.int("operand count")?),
            opcode => return Err(LoadError::UnknownOpcode { state: state.to_string(), opcode }),
        })
    }
}

/// What the machine builds values with.
pub trait Build {
    type Value;
    fn leaf(&self, leaf: &Leaf) -> Self::Value;
    fn not(&self, value: Self::Value) -> Self::Value;
    fn join(&self, and: bool, parts: Vec<Self::Value>) -> Self::Value;
}

/// Runs `ops`, which must leave exactly one value no deeper than
/// `MAX_COND_DEPTH`. Each stack entry carries its depth, so the limit holds
/// for chains of NOT, which never grow the stack.
pub fn run<B: Build>(build: &B, ops: &[Op]) -> Result<B::Value, CondError> {
    let mut stack: Vec<(B::Value, usize)> = Vec::new();
    for op in ops {
        let held = stack.len();
        let (value, depth) = match op {
            Op::Push(leaf) => (build.leaf(leaf), 1),
            Op::Not => {
                let (value, depth) = stack.pop().ok_or(CondError::Underflow { op: "NOT", wanted: 1, held })?;
                (build.not(value), depth + 1)
            }
            Op::And(n) | Op::Or(n) => {
                let and = matches!(op, Op::And(_));
                let start =
                    held.checked_sub(*n).ok_or(CondError::Underflow { op: if and { "AND" } else { "OR" }, wanted: *n, held })?;
                let parts = stack.split_off(start);
                let depth = 1 + parts.iter().map(|p| p.1).max().unwrap_or(0);
                (build.join(and, parts.into_iter().map(|p| p.0).collect()), depth)
            }
        };
        if depth > MAX_COND_DEPTH {
            return Err(CondError::TooDeep);
        }
        stack.push((value, depth));
    }
    match (stack.pop(), stack.len()) {
        (Some((value, _)), 0) => Ok(value),
        (top, rest) => Err(CondError::Leftover(rest + usize::from(top.is_some()))),
    }
}

/// Builds the `Cond` the code stands for.
pub struct ToCond;

impl Build for ToCond {
    type Value = Cond;

    fn leaf(&self, leaf: &Leaf) -> Cond {
        match leaf {
            Leaf::True => Cond::True,
            Leaf::Up(u) => Cond::Up(*u),
            Leaf::CountIn { members, min, max } => Cond::CountIn { members: members.clone(), min: *min, max: *max },
        }
    }

    fn not(&self, value: Cond) -> Cond {
        Cond::Not(Box::new(value))
    }

    fn join(&self, and: bool, parts: Vec<Cond>) -> Cond {
        if and {
            Cond::And(parts)
        } else {
            Cond::Or(parts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(cond: &Cond) -> Result<Cond, CondError> {
        run(&ToCond, &compile(cond))
    }

    #[test]
    fn conditions_survive_compile_and_run() {
        let up = |u| Cond::Up(u);
        for cond in [
            Cond::True,
            Cond::And(vec![]),
            Cond::Or(vec![up(0), Cond::Not(Box::new(Cond::And(vec![up(1), up(2)]))), Cond::Or(vec![])]),
            Cond::CountIn { members: vec![2, 0], min: 1, max: 2 },
        ] {
            assert_eq!(roundtrip(&cond), Ok(cond));
        }
    }

    #[test]
    fn the_stack_must_end_with_one_value() {
        let up = Op::Push(Leaf::Up(0));
        assert_eq!(run(&ToCond, &[]), Err(CondError::Leftover(0)));
        assert_eq!(run(&ToCond, &[up.clone(), up.clone()]), Err(CondError::Leftover(2)));
        assert_eq!(run(&ToCond, &[Op::Not]), Err(CondError::Underflow { op: "NOT", wanted: 1, held: 0 }));
        assert_eq!(run(&ToCond, &[up, Op::Or(usize::MAX)]), Err(CondError::Underflow { op: "OR", wanted: usize::MAX, held: 1 }));
    }

    #[test]
    fn depth_is_limited_even_where_the_stack_is_not() {
        let mut ops = vec![Op::Push(Leaf::True)];
        ops.extend(std::iter::repeat_n(Op::Not, MAX_COND_DEPTH - 1));
        assert!(run(&ToCond, &ops).is_ok());
        ops.push(Op::And(1));
        assert_eq!(run(&ToCond, &ops), Err(CondError::TooDeep));
    }
}
