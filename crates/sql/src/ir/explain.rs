//! EXPLAIN: a plan as indented text lines, one operator per line, children
//! below their parent. Columns are written `#n`, their position in the row
//! the expression is evaluated on; a scan's filter and keys read the
//! table's own row, a join's condition the joined row. The text is a pure
//! function of the plan, so it is the same on every node.

use aergo_store::Value;

use super::expr::{CmpOp, Expr};
use super::plan::{Access, JoinKind, Plan, SetOpKind};

/// The plan's lines.
pub fn explain(plan: &Plan) -> Vec<String> {
    explain_annotated(plan, &|_| None)
}

/// The plan's lines, each followed by what `note` says of its operator
/// (EXPLAIN ANALYZE's actual rows and gas).
pub fn explain_annotated(plan: &Plan, note: &dyn Fn(&Plan) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    walk(plan, 0, note, &mut out);
    out
}

fn walk(plan: &Plan, depth: usize, note: &dyn Fn(&Plan) -> Option<String>, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    let line = match plan {
        Plan::Values { rows } => format!("Values rows={}", rows.len()),
        Plan::Scan(s) => {
            let access = match &s.access {
                Access::Full { reverse } => format!("full{}", if *reverse { " reverse" } else { "" }),
                Access::Range { index, eq, lower, upper, reverse, .. } => {
                    let mut a = format!("range on {}", key_name(&s.table.indexes, *index));
                    if !eq.is_empty() {
                        a.push_str(&format!(" eq({})", list(eq)));
                    }
                    if let Some((e, inc)) = lower {
                        a.push_str(&format!(" {} {}", if *inc { ">=" } else { ">" }, expr(e)));
                    }
                    if let Some((e, inc)) = upper {
                        a.push_str(&format!(" {} {}", if *inc { "<=" } else { "<" }, expr(e)));
                    }
                    if *reverse {
                        a.push_str(" reverse");
                    }
                    a
                }
                Access::InList { index, values, .. } => {
                    format!("in-list on {} ({})", key_name(&s.table.indexes, *index), list(values))
                }
            };
            let mut l = format!("Scan {} {access}", s.table.store_name());
            if let Some(f) = &s.filter {
                l.push_str(&format!(" filter {}", expr(f)));
            }
            if let Some(n) = s.est_rows {
                l.push_str(&format!(" (est rows={n})"));
            }
            l
        }
        Plan::Join { kind, cond, right_correlated, hash, est_rows, .. } => {
            let how = match (hash, right_correlated) {
                (Some(h), _) => {
                    let keys: Vec<String> =
                        h.left.iter().zip(&h.right).map(|(l, r)| format!("{} = right {}", expr(l), expr(r))).collect();
                    format!("hash join on {}", keys.join(", "))
                }
                (None, true) => "nested loop, key lookup per row".to_string(),
                (None, false) => "nested loop".to_string(),
            };
            let kind = match kind {
                JoinKind::Inner => "Inner",
                JoinKind::Left => "Left",
            };
            let mut l = format!("{kind} join: {how}");
            if let Some(c) = cond {
                l.push_str(&format!(" cond {}", expr(c)));
            }
            if let Some(n) = est_rows {
                l.push_str(&format!(" (est rows={n})"));
            }
            l
        }
        Plan::Filter { pred, .. } => format!("Filter {}", expr(pred)),
        Plan::Project { exprs, .. } => format!("Project {}", list(exprs)),
        Plan::Aggregate { group_by, aggs, .. } => {
            format!("Aggregate groups={} aggregates={}", group_by.len(), aggs.len())
        }
        Plan::Sort { keys, .. } => {
            let k: Vec<String> =
                keys.iter().map(|k| format!("{}{}", expr(&k.expr), if k.desc { " desc" } else { "" })).collect();
            format!("Sort {}", k.join(", "))
        }
        Plan::Distinct { .. } => "Distinct".to_string(),
        Plan::Limit { limit, offset, .. } => format!(
            "Limit {} offset {}",
            limit.as_ref().map_or("all".to_string(), expr),
            offset.as_ref().map_or("0".to_string(), expr)
        ),
        Plan::SetOp { op, all, .. } => {
            let op = match op {
                SetOpKind::Union => "Union",
                SetOpKind::Except => "Except",
                SetOpKind::Intersect => "Intersect",
            };
            format!("{op}{}", if *all { " all" } else { "" })
        }
    };
    match note(plan) {
        Some(n) => out.push(format!("{pad}{line} {n}")),
        None => out.push(format!("{pad}{line}")),
    }
    match plan {
        Plan::Values { .. } | Plan::Scan(_) => {}
        Plan::Join { left, right, .. } | Plan::SetOp { left, right, .. } => {
            walk(left, depth + 1, note, out);
            walk(right, depth + 1, note, out);
        }
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Distinct { input }
        | Plan::Limit { input, .. } => walk(input, depth + 1, note, out),
    }
}

fn key_name(indexes: &[crate::catalog::IndexDef], index: Option<usize>) -> String {
    match index.and_then(|i| indexes.get(i)) {
        Some(ix) => format!("index {}", ix.name),
        None => "primary key".to_string(),
    }
}

fn list(es: &[Expr]) -> String {
    es.iter().map(expr).collect::<Vec<_>>().join(", ")
}

/// Compact text of the usual condition shapes; anything else as `<expr>`.
fn expr(e: &Expr) -> String {
    match e {
        Expr::Const(v) => match v {
            Value::Null => "NULL".to_string(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            other => crate::types::to_text(other),
        },
        Expr::Col(i) => format!("#{i}"),
        Expr::Outer(d, i) => format!("outer{d}.#{i}"),
        Expr::Param(i) => format!("${}", i + 1),
        Expr::Var(i) => format!("var{i}"),
        Expr::Cmp(op, a, b) => {
            let op = match op {
                CmpOp::Eq => "=",
                CmpOp::NotEq => "<>",
                CmpOp::Lt => "<",
                CmpOp::LtEq => "<=",
                CmpOp::Gt => ">",
                CmpOp::GtEq => ">=",
            };
            format!("{} {op} {}", expr(a), expr(b))
        }
        Expr::And(a, b) => format!("{} AND {}", expr(a), expr(b)),
        Expr::Or(a, b) => format!("({} OR {})", expr(a), expr(b)),
        Expr::Not(a) => format!("NOT {}", expr(a)),
        Expr::IsNull(a, negated) => format!("{} IS {}NULL", expr(a), if *negated { "NOT " } else { "" }),
        Expr::InList { expr: a, list: l, negated } => {
            format!("{} {}IN ({})", expr(a), if *negated { "NOT " } else { "" }, list(l))
        }
        Expr::Between { expr: a, low, high, negated } => {
            format!("{} {}BETWEEN {} AND {}", expr(a), if *negated { "NOT " } else { "" }, expr(low), expr(high))
        }
        Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::Scalar(_) | Expr::Quantified { .. } => {
            "<subquery>".to_string()
        }
        _ => "<expr>".to_string(),
    }
}
