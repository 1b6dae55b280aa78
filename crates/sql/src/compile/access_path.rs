//! Access-path choice: which key (primary or a secondary index), which
//! equality prefix and range, or which IN list a base-table scan uses.

use crate::catalog::TableDef;
use crate::ir::{Access, CmpOp, Expr};

pub(super) fn access_walk(a: &Access, f: &mut dyn FnMut(&Expr)) {
    match a {
        Access::Full { .. } => {}
        Access::Range { eq, lower, upper, .. } => {
            eq.iter().for_each(&mut *f);
            if let Some((e, _)) = lower {
                f(e);
            }
            if let Some((e, _)) = upper {
                f(e);
            }
        }
        Access::InList { values, .. } => values.iter().for_each(f),
    }
}

/// One usable condition on a column of the table being planned.
struct KeyPred {
    col: usize,
    op: CmpOp,
    value: Expr,
}

/// Picks the access path for `table` (its columns start at `offset` in the
/// row the conditions were bound against).
pub(super) fn choose_access(
    table: &TableDef,
    offset: usize,
    preds: &[Expr],
    wanted_order: Option<&[(usize, bool, bool)]>,
) -> (Access, bool) {
    let width = table.columns.len();
    let own = |e: &Expr| -> Option<usize> {
        match e {
            Expr::Col(c) if *c >= offset && *c < offset + width => Some(c - offset),
            _ => None,
        }
    };
    let mut kp: Vec<KeyPred> = Vec::new();
    let mut inlists: Vec<(usize, Vec<Expr>)> = Vec::new();
    for p in preds {
        match p {
            Expr::Cmp(op, a, b) if *op != CmpOp::NotEq => {
                if let (Some(c), true) = (own(a), b.is_row_independent(offset)) {
                    kp.push(KeyPred { col: c, op: *op, value: (**b).clone() });
                } else if let (Some(c), true) = (own(b), a.is_row_independent(offset)) {
                    kp.push(KeyPred { col: c, op: op.flip(), value: (**a).clone() });
                }
            }
            Expr::Between { expr, low, high, negated: false } => {
                if let Some(c) = own(expr) {
                    if low.is_row_independent(offset) && high.is_row_independent(offset) {
                        kp.push(KeyPred { col: c, op: CmpOp::GtEq, value: (**low).clone() });
                        kp.push(KeyPred { col: c, op: CmpOp::LtEq, value: (**high).clone() });
                    }
                }
            }
            Expr::InList { expr, list, negated: false } => {
                if let Some(c) = own(expr) {
                    if list.iter().all(|e| e.is_row_independent(offset)) && list.len() <= 1024 {
                        inlists.push((c, list.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    // Candidate keys: the primary key, then each index.
    let mut keys: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    if !table.primary_key.is_empty() {
        keys.push((None, table.primary_key.clone()));
    }
    for (i, ix) in table.indexes.iter().enumerate() {
        keys.push((Some(i), ix.columns.clone()));
    }
    let mut best: Option<(usize, Access, bool)> = None;
    for (index, cols) in &keys {
        let mut eq = Vec::new();
        for c in cols {
            match kp.iter().find(|p| p.col == *c && p.op == CmpOp::Eq) {
                Some(p) => eq.push(p.value.clone()),
                None => break,
            }
        }
        let mut lower = None;
        let mut upper = None;
        if let Some(next) = cols.get(eq.len()) {
            for p in kp.iter().filter(|p| p.col == *next) {
                match p.op {
                    CmpOp::Gt | CmpOp::GtEq if lower.is_none() => lower = Some((p.value.clone(), p.op == CmpOp::GtEq)),
                    CmpOp::Lt | CmpOp::LtEq if upper.is_none() => upper = Some((p.value.clone(), p.op == CmpOp::LtEq)),
                    _ => {}
                }
            }
        }
        let full_point = eq.len() == cols.len() && index.is_none();
        let score = eq.len() * 4
            + usize::from(lower.is_some() || upper.is_some()) * 2
            + usize::from(full_point) * 100
            + usize::from(index.is_none());
        if eq.is_empty() && lower.is_none() && upper.is_none() {
            continue;
        }
        // Does the key order after the equality prefix give the wanted order?
        let mut reverse = false;
        let mut done = false;
        if let Some(w) = wanted_order {
            let rest = &cols[eq.len().min(cols.len())..];
            if w.len() <= rest.len() && !w.is_empty() {
                let desc = w[0].1;
                let nullable_ok = |c: usize| table.columns[c].not_null || table.primary_key.contains(&c);
                done = w
                    .iter()
                    .zip(rest)
                    .all(|((wc, wd, wn), kc)| *wc == offset + *kc && *wd == desc && (nullable_ok(*kc) || *wn != desc));
                reverse = desc;
            }
        }
        let key_types = cols.iter().map(|c| table.columns[*c].ty).collect();
        let access = Access::Range { index: *index, eq, lower, upper, reverse, key_types };
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, access, done));
        }
    }
    if let Some((_, access, done)) = best {
        return (access, done);
    }
    for (index, cols) in &keys {
        if let Some((_, list)) = inlists.iter().find(|(c, _)| Some(c) == cols.first()) {
            let key_type = table.columns[cols[0]].ty;
            return (Access::InList { index: *index, values: list.clone(), key_type }, false);
        }
    }
    // Full scan, possibly ordered by the primary key or an index.
    if let Some(w) = wanted_order {
        if !w.is_empty() {
            let desc = w[0].1;
            for (index, cols) in &keys {
                let nullable_ok = |c: usize| table.columns[c].not_null || table.primary_key.contains(&c);
                let ok = w.len() <= cols.len()
                    && w.iter().zip(cols).all(|((wc, wd, wn), kc)| {
                        *wc == offset + *kc && *wd == desc && (nullable_ok(*kc) || *wn != desc)
                    });
                if ok {
                    return match index {
                        None => (Access::Full { reverse: desc }, true),
                        Some(_) => {
                            let key_types = cols.iter().map(|c| table.columns[*c].ty).collect();
                            (
                                Access::Range {
                                    index: *index,
                                    eq: vec![],
                                    lower: None,
                                    upper: None,
                                    reverse: desc,
                                    key_types,
                                },
                                true,
                            )
                        }
                    };
                }
            }
        }
    }
    (Access::Full { reverse: false }, false)
}

/// The access path for a single-table statement (UPDATE/DELETE).
pub fn choose_access_pub(table: &TableDef, preds: &[Expr]) -> Access {
    choose_access(table, 0, preds, None).0
}
