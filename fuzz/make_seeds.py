#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Seeds are small valid (and a few nearly valid) inputs of each format, taken
from the repository's test vectors (crates/types/tests/vectors/herapy.json:
transactions and key files made by the Python SDK), the whitepaper SQL of
crates/sql/tests, and encodings written here from each format's documented
layout. Re-run after a format changes: python3 fuzz/make_seeds.py
Files are named by content hash, so re-running adds nothing twice.
"""
import hashlib
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
VECTORS = json.load(open(os.path.join(ROOT, "crates/types/tests/vectors/herapy.json")))


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


# --- protobuf, just what the chain's messages need ---------------------------

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(tag, b):
    return varint(tag << 3 | 2) + varint(len(b)) + b


def field_varint(tag, v):
    return varint(tag << 3) + varint(v & 0xFFFFFFFFFFFFFFFF)


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(s):
    n = 0
    for c in s:
        n = n * 58 + B58.index(c)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    pad = len(s) - len(s.lstrip("1"))
    return b"\0" * pad + raw


def pubkey_of(address):
    # base58check: version byte 0x42, 33-byte key, 4-byte checksum.
    return b58decode(address)[1:34]


TXS = [bytes.fromhex(t["grpc_tx_hex"]) for t in VECTORS["txs"]]
KEYS = [pubkey_of(k["address"]) for k in VECTORS["keys"]]
H = lambda tag: hashlib.sha256(tag).digest()

# --- tx_decode: SDK-made transactions of each type ---------------------------
seen_types = set()
for t, raw in zip(VECTORS["txs"], TXS):
    kind = (t.get("type"), bool(t.get("payload_hex")))
    if kind not in seen_types or len(seen_types) < 6:
        seen_types.add(kind)
        put("tx_decode", raw)
put("tx_decode", b"")

# --- block_decode: headers with and without txs ------------------------------
for txs in ([], TXS[:1], TXS[:3]):
    header = b"".join([
        field_bytes(1, b"\x00" * 4 + b"aergo.private"),
        field_bytes(2, H(b"prev")),
        field_varint(3, 7),
        field_varint(4, 1_700_000_000_000_000_000),
        field_bytes(5, H(b"state")),
        field_bytes(6, H(b"txs")),
        field_bytes(7, H(b"receipts")),
        field_bytes(9, KEYS[0]),
        field_bytes(11, bytes(70)),
    ])
    body = b"".join(field_bytes(1, t) for t in txs)
    put("block_decode", field_bytes(1, H(b"block")) + field_bytes(2, header) + field_bytes(3, body))

# --- receipt_decode ----------------------------------------------------------
event = field_bytes(1, KEYS[0]) + field_bytes(2, b"transfer") + field_bytes(3, b'["a","b",1]') + field_bytes(4, H(b"tx")) + field_varint(5, 0)
for status, events in ((b"SUCCESS", [event]), (b"CREATED", []), (b"ERROR", [event, event])):
    put("receipt_decode", b"".join([
        field_bytes(1, KEYS[1]), field_bytes(2, status), field_bytes(3, b'{"ok":1}'), field_bytes(4, H(b"tx")),
        field_bytes(5, b"\x01\x00"), field_bytes(6, b"\x02\x00"), *[field_bytes(8, e) for e in events],
        field_varint(9, 3), field_bytes(10, H(b"block")), field_varint(11, 1), field_varint(15, 21000),
    ]))

# --- preconf_decode: a promise (unsigned: the fields' layout), and texts -----
receipt = b"".join([field_bytes(2, b"SUCCESS"), field_bytes(3, b'"OK"'), field_bytes(4, H(b"tx")),
                    field_bytes(5, b"\x01"), field_bytes(6, b"\x01"), field_varint(15, 100000)])
preconf = b"".join([
    field_bytes(1, H(b"chain")), field_bytes(2, H(b"parent")), field_varint(3, 7), field_varint(4, 1700000000000000000),
    field_varint(5, 2), field_bytes(6, H(b"tx")), field_bytes(7, receipt), field_bytes(8, H(b"digest")),
    field_bytes(9, KEYS[0]), field_bytes(10, bytes.fromhex("3006020101020101")),
])
put("preconf_decode", preconf)
put("preconf_decode", preconf.hex())
put("preconf_decode", '{"raw": "' + preconf.hex() + '"}')
put("preconf_decode", '{"preconfirmation": {"height": 1}}')

# --- evidence_decode: the three offences' layouts, and their hex -----------
header = b"".join([field_bytes(1, b"\x00" * 8), field_bytes(2, H(b"parent")), field_varint(3, 9),
                   field_varint(4, 1700000005000000000), field_bytes(5, H(b"state"))])
double_block = field_bytes(1, b"".join([field_bytes(1, header), field_bytes(2, header + field_varint(3, 10))]))
vote = b"".join([field_varint(1, 4), field_bytes(2, H(b"x")), field_bytes(3, KEYS[0]), field_bytes(4, b"\x01" * 64)])
double_vote = field_bytes(2, b"".join([field_bytes(1, vote), field_bytes(2, vote)]))
broken = field_bytes(3, b"".join([field_bytes(1, preconf), field_bytes(2, header), field_varint(3, 3),
                                  field_bytes(5, H(b"a")), field_bytes(5, H(b"b")), field_bytes(6, H(b"tx")),
                                  field_bytes(8, H(b"leaf"))]))
for ev in (double_block, double_vote, broken):
    put("evidence_decode", ev)
    put("evidence_decode", ev.hex())

# --- net_wire: requests, and responses behind a selector byte ----------------
status = H(b"chain") + H(b"genesis") + struct.pack(">Q", 10) + H(b"best") + struct.pack(">Q", 8)
put("net_wire", b"\x01" + status)
put("net_wire", b"\x02" + struct.pack(">QII", 1, 16, 1 << 20))
put("net_wire", b"\x40\x81" + status)
blocks = [TXS[0][:40], b""]
put("net_wire", b"\x40\x82" + struct.pack(">I", len(blocks)) + b"".join(struct.pack(">I", len(b)) + b for b in blocks))
put("net_wire", b"\x40\x8f\x02")
put("net_wire", b"\x03" + struct.pack(">I", len(TXS[0])) + TXS[0])
answer = b'{"queued": "this node does not produce the next slot"}'
put("net_wire", b"\x40\x83" + struct.pack(">I", len(answer)) + answer)
put("net_wire", b"\x04" + H(b"file") + struct.pack(">QI", 1 << 20, 1 << 20))
piece = b"hello, file"
put("net_wire", b"\x40\x84" + struct.pack(">Q", 11) + bytes([10]) + b"text/plain" + struct.pack(">I", len(piece)) + piece)
put("net_wire", b"\x40\x85")

# --- dpos_codec --------------------------------------------------------------
sig = (1).to_bytes(32, "big") + (1).to_bytes(32, "big")
put("dpos_codec", b"\x01" + struct.pack(">Q", 5) + H(b"block") + KEYS[0] + sig)
qc = b"\x01" + struct.pack(">Q", 5) + H(b"block") + b"\x03" + b"\x05" + sig + sig
put("dpos_codec", qc)
put("dpos_codec", b"\x01" + struct.pack(">Q", 0) + H(b"genesis") + b"\x00")
put("dpos_codec", b"\x01" + struct.pack(">QQQ", 5, 4, 3) + H(b"locked"))
single = b"\x01\x02" + KEYS[0] + KEYS[1]
put("dpos_codec", b"\x01" + H(b"block") + struct.pack(">QQ", 9, 5) + b"\x00" + single + b"\x00")
put("dpos_codec", b"\x01" + H(b"block") + struct.pack(">QQ", 9, 5) + b"\x00" + single + b"\x01" + struct.pack(">H", len(qc)) + qc)
joint = b"\x02\x01" + KEYS[0] + b"\x02" + KEYS[1] + KEYS[2]
put("dpos_codec", b"\x01" + H(b"block") + struct.pack(">QQ", 9, 5) + b"\x02" + joint + b"\x00")

# --- payload -----------------------------------------------------------------
ddl = open(os.path.join(ROOT, "crates/sql/tests/whitepaper_ddl.sql")).read()
src = ddl.encode()
put("payload", struct.pack("<I", 4 + len(src)) + src)
put("payload", struct.pack("<I", 4 + len(src)) + src + b'["alice", 100]')
put("payload", b'{"Name":"transfer","Args":["alice","bob","30"]}')
put("payload", b'\x03\x06\x08{"name":"f","args":[1,"0x00ff",null,"2024-01-01 00:00:00",1.5e3,true]}')
put("payload", b'{"Name":"v1stake"}')
put("payload", b'{"Name":"v1voteBP","Args":["16Uiu2HAmRDHMWPA5h32jNagUBP2py2xGrEppPjFWbetLsttcdTCZ"]}')
put("payload", b'{"Name":"v1voteDAO","Args":["GASPRICE","50000000000"]}')

# --- sql and plpgsql ---------------------------------------------------------
put("sql", ddl)
put("sql", open(os.path.join(ROOT, "crates/sql/tests/whitepaper_fn.sql")).read())
for q in [
    "SELECT id, balance FROM accounts WHERE balance > 10 ORDER BY id LIMIT 2",
    "SELECT transfer('alice', 'bob', 5); SELECT * FROM rich",
    "SELECT k, upper(v), n * 2, length(b), ts, NOT f FROM t WHERE v IN ('one', 'two') OR k BETWEEN 2 AND 3",
    "SELECT v, count(*), sum(n), string_agg(v, ',') FROM t GROUP BY v HAVING count(*) > 0",
    "INSERT INTO t VALUES (4, 'four', 4.25, '\\x04', '2000-01-01', true) ON CONFLICT (k) DO UPDATE SET v = 'x'",
    "UPDATE accounts SET balance = balance + 1 WHERE id = 'carol'; DELETE FROM t WHERE k = 3",
    "WITH x AS (SELECT k FROM t) SELECT a.k, b.k FROM x a JOIN x b ON a.k < b.k",
    "SELECT CASE WHEN k > 1 THEN 'big' ELSE 'small' END, coalesce(v, '?'), twice(k) FROM t",
    "CREATE TABLE u (a INT PRIMARY KEY, b TEXT UNIQUE); INSERT INTO u VALUES (1, 'x'); SELECT * FROM u",
    "SELECT aergo_caller(), aergo_block_height(), CAST('12.5' AS NUMERIC(5,2)), 7 / 2, 7 % 3, 2 ^ 10",
]:
    put("sql", q)
put("plpgsql", "BEGIN RETURN b || a; END;")
put("plpgsql", open(os.path.join(ROOT, "crates/sql/tests/whitepaper_fn.sql")).read().split("$$")[1])
put("plpgsql", """DECLARE i INT := 0; s TEXT := '';
BEGIN
  WHILE i < a LOOP i := i + 1; s := s || i; END LOOP;
  FOR r IN SELECT k, v FROM t ORDER BY k LOOP s := s || r.v; END LOOP;
  IF NOT FOUND THEN RAISE NOTICE 'none'; ELSIF a > 3 THEN RAISE EXCEPTION 'big %', a; END IF;
  INSERT INTO t VALUES (a + 10, b);
  PERFORM k FROM t WHERE k = a;
  RETURN s;
EXCEPTION WHEN others THEN RETURN 'caught';
END;""")
put("plpgsql", "DECLARE x NUMERIC; BEGIN SELECT v INTO x FROM t WHERE k = a; CASE a WHEN 1 THEN RETURN 'one'; ELSE RETURN x::TEXT; END CASE; END;")

# --- store_codec: keys and rows from the documented layouts ------------------
def key_int(i):
    return b"\x20" + struct.pack(">Q", (i & 0xFFFFFFFFFFFFFFFF) ^ (1 << 63))


def key_text(s):
    return b"\x40" + s.replace(b"\0", b"\0\xff") + b"\x00\x01"


put("store_codec", key_int(1) + key_text(b"alice") + b"\x05" + b"\x10\x01")
put("store_codec", b"\x31" + b"\x32\x81\x10\x00" + b"\x60" + struct.pack(">Q", 1 << 63))
put("store_codec", b"\x50" + b"\x00\xff\x01\x00\x01")
zz = lambda v: varint((v << 1) ^ (v >> 127) if v >= 0 else ((-v) * 2 - 1))
put("store_codec", b"\x01\x05" + b"\x00" + b"\x02" + b"\x03" + zz(-5) + b"\x04\x02" + zz(150) + b"\x05\x05hello")
put("store_codec", b"\x01\x02" + b"\x06\x02\x00\xff" + b"\x07" + zz(1_700_000_000_000_000))
put("store_codec", b"\x02\x01\x00\x01\x03\x05\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x14\x04\x02\x41\x42")

# --- store_node: leaf and internal nodes, a proof, a descriptor ---------------
def leaf(entries, kind=0):
    body = b"".join(varint(len(k)) + k + varint(len(v)) + v for k, v in entries)
    return b"\x01\x00" + bytes([kind]) + varint(len(entries)) + body


def internal(level, entries):
    body = b"".join(varint(len(k)) + k + h + varint(n) for k, h, n in entries)
    return b"\x01" + bytes([level]) + b"\x00" + varint(len(entries)) + body


l1 = leaf([(key_int(1), b"\x01\x01\x00"), (key_int(2), b"\x01\x01\x01")])
put("store_node", l1)
put("store_node", leaf([(b"accounts", H(b"root") + b"\x01schema")], kind=1))
n1 = internal(1, [(key_int(2), hashlib.sha256(l1).digest(), 2), (key_int(9), H(b"other"), 5)])
put("store_node", n1)
put("store_node", varint(2) + varint(len(n1)) + n1 + varint(len(l1)) + l1)
put("store_node", H(b"root") + b"\x01" + b"CREATE TABLE t (k INT PRIMARY KEY)")

# --- keystore: SDK key files (also with cheap scrypt), exported keys ----------
for ks in VECTORS["keystores"]:
    put("keystore", json.dumps(ks["keystore"]))
    cheap = json.loads(json.dumps(ks["keystore"]))
    cheap["kdf"]["params"]["n"] = 16
    put("keystore", json.dumps(cheap))
for e in VECTORS["exported_keys"][:3]:
    put("keystore", e["exported"])
put("keystore", VECTORS["keys"][0]["address"])

# --- rpc_params: a method selector byte, then params (or a whole body) --------
METHODS = ["status", "getBlock", "getTx", "getReceipt", "getAccount", "sendTx", "query", "queryContract",
           "getContract", "getABI", "getEvents", "listTables", "describeTable", "getPeers", "getProducers",
           "getStake", "getParams", "getParamVotes", "noSuchMethod"]
params = {
    "status": "[]", "getBlock": '[1, true]', "getTx": '["@T"]', "getReceipt": '["@T"]',
    "getAccount": '["@A", 1]', "sendTx": '["' + TXS[0].hex() + '"]',
    "query": '["SELECT id, balance FROM accounts ORDER BY id", {"contract": "@C"}]',
    "queryContract": '["@C", {"Name": "transfer", "Args": ["alice", "bob", "1"]}, {"height": 1}]',
    "getContract": '["@C"]', "getABI": '["@C", 2]', "getEvents": '[{"contract": "@C", "name": "transfer", "fromHeight": 0}]',
    "listTables": '[{"height": 2}]', "describeTable": '["accounts", {"contract": "@C"}]', "getPeers": "[]",
    "getProducers": "[]", "getStake": '["@A"]', "getParams": "[]", "getParamVotes": '["GASPRICE"]',
    "noSuchMethod": "{}",
}
for i, m in enumerate(METHODS):
    put("rpc_params", bytes([i]) + params[m].encode())
put("rpc_params", b"\x80" + b'{"jsonrpc":"2.0","id":1,"method":"getBlock","params":["@B"]}')
put("rpc_params", b"\x80" + b'[{"jsonrpc":"2.0","id":"a","method":"status"},{"jsonrpc":"2.0","method":"subscribe","params":["blocks"]}]')
put("rpc_params", b"\x81" + b'{"jsonrpc":"2.0","id":2,"method":"query","params":{"sql":"SELECT count(*) FROM @S.accounts"}}')
