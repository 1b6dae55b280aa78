#!/usr/bin/env python3
"""Generate test vectors with the official Aergo Python SDK (aergo-herapy).

The SDK is not vendored: install it in a throwaway virtualenv and run this
script there; it writes herapy.json next to itself.

    python3 -m venv /tmp/herapy-venv
    /tmp/herapy-venv/bin/pip install aergo-herapy==2.0.2 'protobuf==3.20.3'
    /tmp/herapy-venv/bin/python crates/types/tests/vectors/gen_herapy.py

(herapy 2.0.2's generated protobuf modules need protobuf < 4.)

Everything that can be fixed is fixed (keys, tx fields), but the SDK signs
with a random ECDSA nonce and encrypts key stores with random salts, so
signatures and encrypted blobs differ from run to run. The Rust tests check
properties that hold for every run: same addresses, same hashes, SDK
signatures verify, tampering is rejected, SDK-encrypted keys decrypt.

The SDK's DER encoder pads r and s to 32 bytes and tests the wrong bit when
deciding on a leading zero byte, so many of its signatures are not strict
DER. We sign until each kind (strict, padded, "negative") has appeared, so
the vectors exercise the lax parsing the Go node (btcec ParseSignature)
performs for transactions.
"""

import json
import os
import sys
from importlib.metadata import version

from ecdsa import SECP256k1
from ecdsa.util import string_to_number

import aergo.herapy as herapy
from aergo.herapy.grpc import blockchain_pb2
from aergo.herapy.obj.transaction import TxType
from aergo.herapy.utils.converter import convert_tx_to_grpc_tx
from aergo.herapy.utils.encoding import encode_b58, decode_address

ORDER = SECP256k1.order

# Fixed private keys (hex). The second has leading zero bytes: the SDK
# exports such keys without them.
KEYS_HEX = [
    "9b1f54a5e14c8c2f8a3f4bda47b3ee1ac7e1a3d3b9c1d9ab3b5e7f0123456789",
    "00000f8b3c2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e",
    "0000000000000000000000000000000000000000000000000000000000000001",
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
    "1e99423a4ed27608a15a2616a2b0e9e52ced330ac530edcc32c8ffc6a526aedd",
]

# Chain id hash of the Aergo testnet at fork version 2 (published in the
# Java SDK's docs); any 32 bytes would do for the SDK.
CHAIN_ID_HASH_B58 = "6YCMGJu3UN66ULzUuS5R7GTxXLDsSjRdjWPB94EiqMJc"


def b58decode(s):
    import base58

    return base58.b58decode(s)


def der_kind(sig):
    """Classify a DER signature: 'strict', 'padded' or 'negative'."""
    kinds = set()
    i = 2
    for _ in range(2):
        n = sig[i + 1]
        content = sig[i + 2 : i + 2 + n]
        if content[0] & 0x80:
            kinds.add("negative")
        elif len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
            kinds.add("padded")
        i += 2 + n
    if "negative" in kinds:
        return "negative"
    if "padded" in kinds:
        return "padded"
    return "strict"


def der_int(v):
    b = v.to_bytes((v.bit_length() + 7) // 8 or 1, "big")
    if b[0] & 0x80:
        b = b"\x00" + b
    return b


def parse_der(sig):
    rl = sig[3]
    r = int.from_bytes(sig[4 : 4 + rl], "big")
    sl = sig[5 + rl]
    s = int.from_bytes(sig[6 + rl : 6 + rl + sl], "big")
    return r, s


def high_s_twin(sig):
    """The same signature with s replaced by n - s (strict DER)."""
    r, s = parse_der(sig)
    rb, sb = der_int(r), der_int(ORDER - s)
    body = b"\x02" + bytes([len(rb)]) + rb + b"\x02" + bytes([len(sb)]) + sb
    return b"\x30" + bytes([len(body)]) + body


def account_for(key_hex):
    a = herapy.Aergo()
    a.new_account(private_key=bytes.fromhex(key_hex), skip_state=True)
    a.chain_id = b58decode(CHAIN_ID_HASH_B58)
    return a


def tx_vector(aergo, spec):
    to = spec["to"]
    if to is None:
        to_bytes = None
    elif len(to) <= 12 or to.startswith("aergo."):
        to_bytes = to.encode()
    else:
        to_bytes = decode_address(to)
    payload = bytes.fromhex(spec["payload_hex"]) if spec["payload_hex"] else None
    tx = aergo.generate_tx(
        to_address=to_bytes,
        nonce=spec["nonce"],
        amount=spec["amount"],
        gas_limit=spec["gas_limit"],
        gas_price=spec["gas_price"],
        payload=payload,
        # spec types use the proto names (CALL, DEPLOY, ...); the SDK enum
        # wraps the proto values under its own names (SC_CALL, ...).
        tx_type=TxType(blockchain_pb2.TxType.Value(spec["type"])),
    )
    sign = bytes(tx.sign)
    grpc = convert_tx_to_grpc_tx(tx)
    return {
        **spec,
        "from": str(aergo.account.address),
        "amount_bytes_hex": bytes(tx.amount).hex(),
        "gas_price_bytes_hex": bytes(tx.gas_price).hex(),
        "chain_id_hash_b58": CHAIN_ID_HASH_B58,
        "signing_hash_hex": tx.calculate_hash(including_sign=False).hex(),
        "sign_hex": sign.hex(),
        "sign_der_kind": der_kind(sign),
        "sign_high_s_hex": high_s_twin(sign).hex(),
        "tx_hash_b58": str(tx.tx_hash),
        "tx_hash_hex": bytes(tx.tx_hash).hex(),
        "grpc_tx_hex": grpc.SerializeToString().hex(),
    }


def main():
    out = {
        "generator": "crates/types/tests/vectors/gen_herapy.py",
        "sdk": {"package": "aergo-herapy", "version": version("aergo-herapy")},
        "keys": [],
        "txs": [],
        "amounts": [],
        "exported_keys": [],
        "keystores": [],
    }

    accounts = []
    for k in KEYS_HEX:
        a = account_for(k)
        accounts.append(a)
        pk = a.account.private_key
        out["keys"].append(
            {
                "private_key_hex": k,
                "private_key_b58check": str(pk),
                "private_key_sdk_bytes_hex": bytes(pk).hex(),
                "address": str(a.account.address),
            }
        )

    recipient = out["keys"][4]["address"]
    specs = [
        dict(type="TRANSFER", nonce=1, to=recipient, amount="1 aergo",
             payload_hex="", gas_limit=0, gas_price=0),
        dict(type="TRANSFER", nonce=2, to=recipient, amount="0.000000000000000001 aergo",
             payload_hex="", gas_limit=100000, gas_price="50 gaer"),
        dict(type="TRANSFER", nonce=18446744073709551615, to=recipient,
             amount="499999999.999999999999999999 aergo", payload_hex="",
             gas_limit=18446744073709551615, gas_price=1),
        dict(type="CALL", nonce=7, to=recipient, amount="0",
             payload_hex=json.dumps({"Name": "transfer", "Args": ["bob", "10"]}).encode().hex(),
             gas_limit=300000, gas_price="50 gaer"),
        dict(type="GOVERNANCE", nonce=3, to="aergo.system", amount="10000 aergo",
             payload_hex=json.dumps({"Name": "v1stake"}).encode().hex(),
             gas_limit=0, gas_price=0),
        dict(type="DEPLOY", nonce=4, to=None, amount="0",
             payload_hex=("00" * 10 + "ff" * 300), gas_limit=1000000, gas_price="50 gaer"),
        dict(type="NORMAL", nonce=5, to="abcdefghij12", amount="123 gaer",
             payload_hex="", gas_limit=0, gas_price=0),
        dict(type="FEEDELEGATION", nonce=6, to=recipient, amount="0",
             payload_hex=json.dumps({"Name": "f", "Args": []}).encode().hex(),
             gas_limit=0, gas_price=0),
    ]
    seen_kinds = set()
    # Every spec signed by every key once, then more signatures until each
    # DER kind has been seen (bounded: random nonces make each kind likely).
    for ki, a in enumerate(accounts):
        for si, spec in enumerate(specs):
            v = tx_vector(a, dict(spec, key_index=ki))
            seen_kinds.add(v["sign_der_kind"])
            out["txs"].append(v)
    extra = 0
    while seen_kinds != {"strict", "padded", "negative"} and extra < 2000:
        v = tx_vector(accounts[extra % len(accounts)], dict(specs[0], key_index=extra % len(accounts), nonce=100 + extra))
        extra += 1
        if v["sign_der_kind"] not in seen_kinds:
            seen_kinds.add(v["sign_der_kind"])
            out["txs"].append(v)
    if seen_kinds != {"strict", "padded", "negative"}:
        sys.exit("could not produce every DER kind: %s" % seen_kinds)

    for s in ["1", "7 aer", "100 gaer", "1.5 aergo", "0.000000001 aergo", "1.000000000000000001 aergo",
              "500000000 aergo", "12.345 gaer", "3AERGO", " 42 aer ", "0 aergo",
              "999999999999999999999999999999 aer"]:
        v = herapy.Aer(s)
        out["amounts"].append({"input": s, "aer": v.aer, "gaer": v.gaer, "aergo": v.aergo})

    for ki, a in enumerate(accounts[:3]):
        for password in ["password", "", "pässwörd with spaces"]:
            out["exported_keys"].append(
                {"key_index": ki, "password": password, "exported": a.export_account(password)}
            )
    for ki, a in enumerate(accounts[:2]):
        ks = a.export_account_to_keystore("keystore pass", kdf_n=2 ** 10)
        out["keystores"].append({"key_index": ki, "password": "keystore pass", "keystore": ks})

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "herapy.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %s: %d keys, %d txs (DER kinds %s), %d amounts, %d exported keys, %d keystores" % (
        path, len(out["keys"]), len(out["txs"]), sorted(seen_kinds), len(out["amounts"]),
        len(out["exported_keys"]), len(out["keystores"])))


if __name__ == "__main__":
    main()
