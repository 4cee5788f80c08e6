//! Linux routing table numbers: one per uplink, no clashes, none reserved.

use super::Checker;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::ir;
use crate::source::Span;

/// Tables the kernel reserves: unspec, default, main, local.
const RESERVED: &[(u64, &str)] = &[(0, "unspec"), (253, "default"), (254, "main"), (255, "local")];
/// Where automatic numbering starts: clear of the reserved ones and of the
/// low numbers that hand-written setups tend to use.
const AUTO_FIRST: u32 = 100;

impl Checker<'_, '_> {
    pub fn tables(&mut self, uplinks: &mut [ir::Uplink]) {
        let items = self.items;
        let mut taken: Vec<(u32, Span, usize)> = Vec::new();
        for (i, up) in items.uplinks.iter().enumerate() {
            let Some(value) = self.single(&up.tables, "table") else { continue };
            let Some(n) = self.integer(value, crate::validate::TABLES, "a routing table") else { continue };
            if let Some((_, name)) = RESERVED.iter().find(|(r, _)| *r == n) {
                self.diags.push(
                    Diagnostic::new(Code::TableClash, value.span, format!("table {n} is the kernel's `{name}` table"))
                        .label("reserved by the kernel")
                        .help("choose another number from 1 to 252 or above 255, or leave `table` out"),
                );
                continue;
            }
            if let Some(&(_, first, owner)) = taken.iter().find(|(t, _, _)| u64::from(*t) == n) {
                self.diags.push(
                    Diagnostic::new(Code::TableClash, value.span, format!("table {n} is used by two uplinks"))
                        .label(format!("`{}` asks for table {n}", up.name.name))
                        .with(first, format!("`{}` has it already", items.uplinks[owner].name.name))
                        .help("each uplink needs its own table; choose another number or leave `table` out"),
                );
                continue;
            }
            taken.push((n as u32, value.span, i));
            uplinks[i].table = n as u32;
        }
        let mut next = AUTO_FIRST;
        for up in uplinks.iter_mut().filter(|u| u.table == 0) {
            while taken.iter().any(|(t, _, _)| *t == next) || RESERVED.iter().any(|(r, _)| *r == u64::from(next)) {
                next += 1;
            }
            up.table = next;
            next += 1;
        }
    }
}
