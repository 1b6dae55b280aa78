//! Join order: which of the inner-joined FROM items is read first, second,
//! and so on, in a left-deep tree.
//!
//! # The algorithm
//!
//! The input is a compact description of the join: per relation an
//! estimated row count and the column sets that reach few rows (unique
//! keys, leading key columns); per condition the set of relations it reads
//! and the equalities `relation.column = <expression over other
//! relations>` it contains (a constant is an expression over none). A
//! base table counts as the smallest row count of its size class (the bit
//! length of its exact count, which the store keeps per table: 2^(c-1)
//! rows for class c), a VALUES list as its length, and any other derived
//! table as [`DEFAULT_ROWS`]. The size classes a plan was made with are
//! dependencies of the plan, like the catalogue entries it read: a cached
//! plan (a prepared statement, a compiled function) runs only while every
//! class still holds and is made again otherwise, so the plan that runs is
//! a pure function of the query, the catalogue and the size classes of the
//! state it runs on, identical on every node whatever each node had cached.
//! Classes change only when a table doubles or halves, so plans are rarely
//! made again; checking the classes counts the joined tables, which the
//! access sets report as reads of those whole tables.
//!
//! Adding relation `j` to the set `S` already joined keeps, per row of `S`,
//! an estimated number of `j`'s rows: all of them, divided by 10 per
//! equality with a constant; per equality with relations of `S`, divided
//! by the distinct values the column is taken to have, the smaller of
//! `j`'s rows and the largest of those relations' (the foreign-key
//! reading: the column holds about as many values as the table it
//! references has keys), and only by 2 for a further equality with
//! relations already counted (the other columns of a composite key); by 3
//! per range and by 2 per other condition that becomes checkable; a unique
//! key fully bound by equalities caps it at one row. Estimates are integers in
//! thousandths of a row, so the arithmetic is exact and the same on every
//! machine. The cost of a step is the rows of `S` it probes with, plus the
//! rows it produces, plus a scan of `j` unless an equality from `S` reaches
//! the leading column of a key of `j` (an index nested-loop join, whose
//! lookups the probe count already pays for); the first relation costs its
//! scan. A plan costs the sum of its steps, so cross products, whose output
//! is the product of both sides, lose to any chain of equalities.
//!
//! Up to [`DP_LIMIT`] relations the search is exhaustive dynamic
//! programming over subsets (the best left-deep order of every subset,
//! `2^n * n` steps); beyond it the search is greedy: start with the
//! relation that yields the fewest rows alone, then repeatedly add the one
//! whose step yields the fewest rows (then costs the least), so planning
//! stays `O(n^2 * conditions)` for any FROM list. Ties go to the order that
//! is smallest lexicographically in FROM positions, so the choice is
//! deterministic. The estimates are rough, so the chosen order replaces
//! FROM order only if it is estimated at least [`KEEP_FROM_ORDER`] times
//! cheaper: a join the writer ordered well keeps its plan and the row
//! order of its output, and reordering is left to joins it changes by
//! orders of magnitude (cross products avoided, constants read first).

/// Row count assumed for a derived table that is not a VALUES list.
pub(super) const DEFAULT_ROWS: u64 = 1000;

/// Most relations the exhaustive search handles; beyond, greedy.
pub(super) const DP_LIMIT: usize = 8;

/// Most relations one reordered join holds (the width of a relation set).
pub(super) const MAX_RELATIONS: usize = 128;

/// Thousandths of a row: the unit of every estimate.
const UNIT: u128 = 1000;

/// What the search knows about one relation.
#[derive(Clone, Debug, Default)]
pub(super) struct RelInfo {
    pub rows: u64,
    /// Column sets that identify at most one row.
    pub unique: Vec<Vec<usize>>,
    /// Leading columns of keys: an equality on one is a key lookup.
    pub key_leads: Vec<usize>,
}

/// What the search knows about one condition.
#[derive(Clone, Debug, Default)]
pub(super) struct PredInfo {
    /// The relations it reads (bit `i` = relation `i`).
    pub rels: u128,
    /// `(relation, column, relations of the other side)` per equality
    /// between a column and an expression not reading that relation.
    pub eqs: Vec<(usize, usize, u128)>,
    /// A range condition (`<`, `BETWEEN`, `LIKE`, ...).
    pub range: bool,
}

pub(super) fn bit(i: usize) -> u128 {
    1u128 << i
}

/// Rows of `j` per row of `set` (thousandths), and whether a key lookup
/// finds them.
fn per_probe(rels: &[RelInfo], preds: &[PredInfo], set: u128, j: usize) -> (u128, bool) {
    let n = u128::from(rels[j].rows.max(1));
    let mut est = n * UNIT;
    let mut bound: Vec<usize> = Vec::new();
    let mut lookup = false;
    // Relations an equality with `j` has already been counted against.
    let mut matched = 0u128;
    let with_j = set | bit(j);
    for p in preds {
        if p.rels & bit(j) == 0 || p.rels & !with_j != 0 {
            continue;
        }
        let eq = p.eqs.iter().find(|(r, _, other)| *r == j && other & !set == 0);
        match eq {
            Some(&(_, col, other)) => {
                bound.push(col);
                lookup |= other != 0 && rels[j].key_leads.contains(&col);
                if other == 0 {
                    est /= 10;
                } else if other & !matched == 0 {
                    // A second equality with the same relations (a
                    // composite key, as partsupp's (part, supplier)): the
                    // first one's division already counted their rows.
                    est /= 2;
                } else {
                    matched |= other;
                    // Distinct values of the column: at most j's rows, and
                    // about the rows of the other side's largest relation
                    // (a key there, as a foreign key references).
                    let other_rows = rels
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| other & bit(*i) != 0)
                        .map(|(_, r)| u128::from(r.rows.max(1)))
                        .max()
                        .unwrap_or(1);
                    est /= n.min(other_rows);
                }
            }
            None => est /= if p.range { 3 } else { 2 },
        }
    }
    if rels[j].unique.iter().any(|u| !u.is_empty() && u.iter().all(|c| bound.contains(c))) {
        est = est.min(UNIT);
    }
    (est.max(1), lookup)
}

/// Rows read to scan `j` with only constant conditions (thousandths).
fn scan_cost(rels: &[RelInfo], preds: &[PredInfo], j: usize) -> u128 {
    let alone = per_probe(rels, preds, 0, j).0;
    let keyed = preds.iter().any(|p| {
        p.rels == bit(j) && p.eqs.iter().any(|(r, c, other)| *r == j && *other == 0 && rels[j].key_leads.contains(c))
    });
    if keyed {
        alone
    } else {
        u128::from(rels[j].rows.max(1)) * UNIT
    }
}

/// One step: `(cost, rows out)` of joining `j` to `set` holding `rows`.
fn step(rels: &[RelInfo], preds: &[PredInfo], set: u128, rows: u128, j: usize) -> (u128, u128) {
    let (pp, lookup) = per_probe(rels, preds, set, j);
    if set == 0 {
        return (scan_cost(rels, preds, j), pp);
    }
    let out = (rows.saturating_mul(pp) / UNIT).max(1);
    let read = if lookup { 0 } else { scan_cost(rels, preds, j) };
    (rows.saturating_add(out).saturating_add(read), out)
}

/// The join order: positions of `rels`, first read first.
pub(super) fn choose_order(rels: &[RelInfo], preds: &[PredInfo]) -> Vec<usize> {
    let n = rels.len();
    if n <= 1 || n > MAX_RELATIONS {
        return (0..n).collect();
    }
    let best = if n <= DP_LIMIT { dp_order(rels, preds) } else { greedy_order(rels, preds) };
    // The estimates are rough: leave the FROM order (and so the row order
    // its nested loops give) unless the model expects a clear gain.
    let from: Vec<usize> = (0..n).collect();
    if order_cost(rels, preds, &best).saturating_mul(KEEP_FROM_ORDER) >= order_cost(rels, preds, &from) {
        return from;
    }
    best
}

/// A chosen order must be estimated this many times cheaper than FROM
/// order to replace it.
const KEEP_FROM_ORDER: u128 = 2;

/// The model's estimate of the rows after each step of `order` (whole
/// rows, rounded up): what EXPLAIN shows beside each join.
pub(super) fn step_rows(rels: &[RelInfo], preds: &[PredInfo], order: &[usize]) -> Vec<u64> {
    let (mut set, mut rows) = (0u128, UNIT);
    let mut out = Vec::with_capacity(order.len());
    for &j in order {
        let (_, r) = step(rels, preds, set, rows, j);
        set |= bit(j);
        rows = r;
        out.push(u64::try_from(r.div_ceil(UNIT)).unwrap_or(u64::MAX));
    }
    out
}

/// Per step of `order`, the model's rows of that relation per read of it:
/// `(per row of the relations before it, alone)`: a key lookup per row
/// reads the first, a scan run once (a hash join's build side) the second.
pub(super) fn scan_estimates(rels: &[RelInfo], preds: &[PredInfo], order: &[usize]) -> Vec<(u64, u64)> {
    let rows = |r: u128| u64::try_from(r.div_ceil(UNIT)).unwrap_or(u64::MAX);
    let mut set = 0u128;
    let mut out = Vec::with_capacity(order.len());
    for &j in order {
        out.push((rows(per_probe(rels, preds, set, j).0), rows(per_probe(rels, preds, 0, j).0)));
        set |= bit(j);
    }
    out
}

/// The model's cost of joining in `order`.
fn order_cost(rels: &[RelInfo], preds: &[PredInfo], order: &[usize]) -> u128 {
    let (mut set, mut rows, mut cost) = (0u128, UNIT, 0u128);
    for &j in order {
        let (c, out) = step(rels, preds, set, rows, j);
        cost = cost.saturating_add(c);
        set |= bit(j);
        rows = out;
    }
    cost
}

fn dp_order(rels: &[RelInfo], preds: &[PredInfo]) -> Vec<usize> {
    let n = rels.len();
    // best[set] = (cost, rows, order)
    let mut best: Vec<Option<(u128, u128, Vec<usize>)>> = vec![None; 1 << n];
    best[0] = Some((0, UNIT, Vec::new()));
    for set in 0..(1usize << n) {
        let Some((cost, rows, order)) = best[set].clone() else { continue };
        for j in 0..n {
            if set & (1 << j) != 0 {
                continue;
            }
            let (c, out) = step(rels, preds, set as u128, rows, j);
            let total = cost.saturating_add(c);
            let next = set | (1 << j);
            let mut cand = order.clone();
            cand.push(j);
            let better = match &best[next] {
                None => true,
                Some((bc, _, bo)) => total < *bc || (total == *bc && cand < *bo),
            };
            if better {
                best[next] = Some((total, out, cand));
            }
        }
    }
    best[(1 << n) - 1].take().map(|(_, _, o)| o).unwrap_or_else(|| (0..n).collect())
}

fn greedy_order(rels: &[RelInfo], preds: &[PredInfo]) -> Vec<usize> {
    let n = rels.len();
    let mut set = 0u128;
    let mut rows = UNIT;
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        let mut pick: Option<(u128, u128, usize)> = None;
        for j in 0..n {
            if set & bit(j) != 0 {
                continue;
            }
            let (c, out) = step(rels, preds, set, rows, j);
            if pick.is_none_or(|(po, pc, _)| (out, c) < (po, pc)) {
                pick = Some((out, c, j));
            }
        }
        let Some((out, _, j)) = pick else { break };
        set |= bit(j);
        rows = out;
        order.push(j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RelInfo {
        RelInfo { rows: DEFAULT_ROWS, unique: vec![], key_leads: vec![] }
    }

    fn eq(a: usize, ca: usize, b: usize, cb: usize) -> PredInfo {
        PredInfo { rels: bit(a) | bit(b), eqs: vec![(a, ca, bit(b)), (b, cb, bit(a))], range: false }
    }

    #[test]
    fn fan_outs_and_composite_keys_are_estimated() {
        // 64 parts, 32768 line items, 4096 (part, supplier) pairs.
        let sized = |rows| RelInfo { rows, ..table() };
        let (part, line, pairs) = (0, 1, 2);
        let rels = vec![sized(64), sized(32768), sized(4096)];
        // Each part has about 32768 / 64 line items, not one.
        assert_eq!(step_rows(&rels, &[eq(part, 0, line, 0)], &[part, line]), vec![64, 32768]);
        // Two equalities with one relation (a composite key) divide by its
        // rows once: about 32768 / 4096 / 2 line items per pair.
        let both = [eq(pairs, 0, line, 0), eq(pairs, 1, line, 1)];
        assert_eq!(step_rows(&rels, &both, &[pairs, line]), vec![4096, 16384]);
    }

    #[test]
    fn a_chain_is_followed_not_crossed() {
        // FROM t0, t1, t2, t3 WHERE t0 = t3 AND t3 = t1 AND t1 = t2: FROM
        // order would cross t0 with t1.
        let rels = vec![table(); 4];
        let preds = vec![eq(0, 0, 3, 1), eq(3, 0, 1, 1), eq(1, 0, 2, 1)];
        assert_eq!(choose_order(&rels, &preds), vec![0, 3, 1, 2]);
        assert_eq!(greedy_order(&rels, &preds), vec![0, 3, 1, 2]);
    }

    #[test]
    fn a_constant_starts_the_join() {
        // t2's constant reaches an index: reading it first pays.
        let mut rels = vec![table(); 3];
        rels[2].key_leads = vec![1];
        let mut preds = vec![eq(0, 0, 1, 0), eq(1, 1, 2, 0)];
        preds.push(PredInfo { rels: bit(2), eqs: vec![(2, 1, 0)], range: false });
        assert_eq!(choose_order(&rels, &preds), vec![2, 1, 0]);
        assert_eq!(greedy_order(&rels, &preds), vec![2, 1, 0]);
    }

    #[test]
    fn a_small_gain_keeps_from_order() {
        // A filter on the second table of a cross join: reading it first
        // saves a little, not enough to leave FROM order.
        let rels = vec![table(); 2];
        let preds = vec![PredInfo { rels: bit(1), eqs: vec![], range: true }];
        assert_eq!(choose_order(&rels, &preds), vec![0, 1]);
        assert_eq!(dp_order(&rels, &preds), vec![1, 0]);
    }

    #[test]
    fn from_order_wins_ties() {
        let rels = vec![table(); 3];
        assert_eq!(choose_order(&rels, &[]), vec![0, 1, 2]);
        assert_eq!(greedy_order(&rels, &[]), vec![0, 1, 2]);
    }
}
