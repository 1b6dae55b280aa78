#!/usr/bin/env python3
"""Generates joins.test: sqllogictest records in the shape of select5.test
(64 tables of 10 rows, joins of up to 40 of them with FROM and WHERE in
scrambled order), plus the rest of SQL around such joins: OR, IN, ranges,
<> between tables, aggregates, subqueries, explicit JOIN ... ON and LEFT
JOIN. Expected results come from SQLite (Python's sqlite3), as the real
corpus' do. Deterministic: a fixed seed.

Run: python3 gen_joins.py > joins.test
"""

import hashlib
import random
import sqlite3

TABLES = 64
ROWS = 10
# As in the real corpus: results of more values are compared by MD5.
HASH_THRESHOLD = 8
rng = random.Random(20261207)
db = sqlite3.connect(":memory:")
out = ["hash-threshold %d\n" % HASH_THRESHOLD]


def emit_statement(sql):
    db.execute(sql)
    out.append("statement ok\n" + sql + "\n")


def fmt(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return v if v else "(empty)"
    return str(int(v))


def emit_query(sql, types, sort):
    rows = db.execute(sql).fetchall()
    if sort == "rowsort":
        rows = sorted([[fmt(v) for v in r] for r in rows])
    else:
        rows = [[fmt(v) for v in r] for r in rows]
    lines = [v for r in rows for v in r]
    if len(lines) > HASH_THRESHOLD:
        md5 = hashlib.md5("".join(v + "\n" for v in lines).encode()).hexdigest()
        lines = ["%d values hashing to %s" % (len(lines), md5)]
    out.append("query %s %s\n%s\n----\n%s\n" % (types, sort, sql, "\n".join(lines)))


for t in range(1, TABLES + 1):
    emit_statement("CREATE TABLE t%d(a%d INTEGER, b%d INTEGER, x%d VARCHAR(40))" % (t, t, t, t))
    bs = list(range(1, ROWS + 1))
    rng.shuffle(bs)
    for a in range(1, ROWS + 1):
        emit_statement("INSERT INTO t%d VALUES(%d,%d,'table t%d row %d')" % (t, a, bs[a - 1], t, a))


def chain_tables(k):
    return rng.sample(range(1, TABLES + 1), k)


def chain_conds(ts):
    # b of one table equals a of the next, each written either way round.
    conds = []
    for p, q in zip(ts, ts[1:]):
        conds.append("b%d=a%d" % (p, q) if rng.random() < 0.5 else "a%d=b%d" % (q, p))
    return conds


def scrambled(xs):
    xs = list(xs)
    rng.shuffle(xs)
    return xs


def select_list(ts, n):
    return ",".join("x%d" % t for t in rng.sample(ts, min(n, len(ts))))


for i in range(60):
    kind = i % 10
    k = rng.choice([2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40])
    ts = chain_tables(k)
    conds = chain_conds(ts)
    frm = ",".join("t%d" % t for t in scrambled(ts))
    anchor = "a%d=%d" % (rng.choice(ts), rng.randint(1, ROWS))
    if kind == 0:
        # select5 proper: a chain and one constant, one row
        sel = select_list(ts, 4)
        sql = "SELECT %s\n  FROM %s\n WHERE %s" % (sel, frm, "\n   AND ".join(scrambled(conds + [anchor])))
        emit_query(sql, "T" * len(sel.split(",")), "nosort")
    elif kind == 1:
        # no constant: ten rows
        sel = select_list(ts, 2)
        sql = "SELECT %s\n  FROM %s\n WHERE %s" % (sel, frm, "\n   AND ".join(scrambled(conds)))
        emit_query(sql, "T" * len(sel.split(",")), "rowsort")
    elif kind == 2:
        # OR, IN, a range and <> between tables
        p, q, r = rng.sample(ts, 3) if k >= 3 else (ts[0], ts[-1], ts[0])
        extra = [
            "(a%d=%d OR a%d=%d)" % (p, rng.randint(1, ROWS), p, rng.randint(1, ROWS)),
            "b%d IN (%s)" % (q, ",".join(str(v) for v in rng.sample(range(1, ROWS + 1), 6))),
            "a%d<%d" % (r, rng.randint(3, ROWS)),
            "a%d<>b%d" % (p, q),
        ]
        sel = select_list(ts, 3)
        sql = "SELECT %s\n  FROM %s\n WHERE %s" % (sel, frm, "\n   AND ".join(scrambled(conds + extra)))
        emit_query(sql, "T" * len(sel.split(",")), "rowsort")
    elif kind == 3:
        # aggregates over the join
        g = rng.choice(ts)
        sql = "SELECT count(*), sum(a%d), min(b%d), max(x%d)\n  FROM %s\n WHERE %s" % (
            ts[-1], ts[0], g, frm, "\n   AND ".join(scrambled(conds + ["a%d>%d" % (g, rng.randint(1, 6))])))
        emit_query(sql, "IIIT", "nosort")
    elif kind == 4:
        # GROUP BY over the join
        g = rng.choice(ts)
        sql = "SELECT b%d, count(*)\n  FROM %s\n WHERE %s\n GROUP BY b%d" % (
            g, frm, "\n   AND ".join(scrambled(conds + ["b%d BETWEEN 2 AND 8" % rng.choice(ts)])), g)
        emit_query(sql, "II", "rowsort")
    elif kind == 5:
        # subqueries: IN, correlated EXISTS, a scalar in the select list
        p, q = ts[0], rng.choice(ts)
        o = rng.randint(1, TABLES)
        extra = [
            "x%d IN (SELECT x%d FROM t%d WHERE a%d>%d)" % (p, p, p, p, rng.randint(1, 5)),
            "EXISTS (SELECT 1 FROM t%d WHERE a%d=b%d)" % (o, o, q),
        ]
        sql = "SELECT x%d, (SELECT max(b%d) FROM t%d WHERE a%d<=a%d)\n  FROM %s\n WHERE %s" % (
            q, o, o, o, p, frm, "\n   AND ".join(scrambled(conds + extra)))
        emit_query(sql, "TI", "rowsort")
    elif kind == 6:
        # explicit JOIN ... ON, in chain order
        parts = ["t%d" % ts[0]]
        for (p, q), c in zip(zip(ts, ts[1:]), conds):
            parts.append("JOIN t%d ON %s" % (q, c))
        sql = "SELECT x%d, x%d\n  FROM %s\n WHERE %s" % (ts[0], ts[-1], "\n  ".join(parts), anchor)
        emit_query(sql, "TT", "nosort")
    elif kind == 7:
        # a LEFT JOIN after the chain: half the rows find no partner
        o = rng.choice([t for t in range(1, TABLES + 1) if t not in ts])
        sql = "SELECT x%d, x%d\n  FROM %s\n  LEFT JOIN t%d ON a%d=b%d AND a%d<=5\n WHERE %s" % (
            ts[0], o, frm, o, o, ts[-1], o, "\n   AND ".join(scrambled(conds)))
        emit_query(sql, "TT", "rowsort")
    elif kind == 8:
        # ORDER BY and LIMIT over the join
        sql = "SELECT a%d, x%d\n  FROM %s\n WHERE %s\n ORDER BY a%d DESC\n LIMIT 4" % (
            ts[0], ts[-1], frm, "\n   AND ".join(scrambled(conds)), ts[0])
        emit_query(sql, "IT", "nosort")
    else:
        # a star around one table plus a cross product with a point
        c = ts[0]
        star = ["a%d=b%d" % (c, t) for t in ts[1:]]
        lone = rng.choice([t for t in range(1, TABLES + 1) if t not in ts])
        sql = "SELECT x%d, x%d, x%d\n  FROM %s,t%d\n WHERE %s" % (
            c, ts[-1], lone, frm, lone, "\n   AND ".join(scrambled(star + ["a%d=%d" % (lone, 4)])))
        emit_query(sql, "TTT", "rowsort")

print("\n".join(out))
