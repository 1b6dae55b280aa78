"""The official Python SDK (aergo-herapy 2.0.2) against a real node.

Usage: python herapy_e2e.py HOST:PORT PRIVATE_KEY_HEX RECIPIENT_ADDRESS SQL_FILE

Connects over gRPC, reads status, chain info, blocks and an account,
sends a signed transfer and waits for its receipt, deploys the whitepaper
contract (SQL), calls it, queries it, lists its events, follows the block
stream, deploys a contract with herapy's default (null) arguments, and
registers a name, reads it and sends AERGO to it.
Every step asserts what it got; the last line printed is `HERAPY OK`.
"""

import json
import sys
import threading

import aergo.herapy as herapy
from aergo.herapy.errors.exception import CommunicationException


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def wait_ok(aergo, tx, result, status="SUCCESS"):
    check(result.status == herapy.CommitStatus.TX_OK, f"commit accepted ({result.detail})")
    r = aergo.wait_tx_result(tx.tx_hash)
    check(r is not None, "receipt arrived")
    check(str(r.status) == f"TxResultStatus.{status}" or r.status.name == status,
          f"receipt status {r.status} == {status} ({r.detail})")
    return r


def main():
    target, key_hex, recipient, sql_file = sys.argv[1:5]
    source = open(sql_file, "rb").read()
    aergo = herapy.Aergo()
    aergo.connect(target)

    status = aergo.get_status()
    check(status.best_block_height >= 0, f"status: height {status.best_block_height}")
    info = aergo.get_chain_info(with_consensus_info=False)
    check(int(info.gas_price) > 0, f"chain info: gas price {info.gas_price}, {info.number_of_bp} producer(s)")

    genesis = aergo.get_block(block_height=0)
    check(genesis.height == 0, "block 0 by height")
    again = aergo.get_block(block_hash=str(genesis.hash))
    check(str(again.hash) == str(genesis.hash), "block 0 by hash")
    metas = aergo.get_block_metas(block_height=0, list_size=1)
    check(len(metas) == 1, "block metadata list")

    aergo.new_account(private_key=bytes.fromhex(key_hex))
    account = aergo.get_account()
    check(int(account.balance) > 0, f"account balance {account.balance}")
    nonce0 = account.nonce

    # Follow the block stream in the background: one block must arrive.
    streamed = []
    stream = aergo.receive_block_stream()

    def follow():
        for block in stream:
            streamed.append(block)
            break
    follower = threading.Thread(target=follow, daemon=True)
    follower.start()

    tx, result = aergo.transfer(recipient, 1_000_000_000_000_000_000)
    receipt = wait_ok(aergo, tx, result)
    check(receipt.block_no > 0, f"transfer included at height {receipt.block_no}")
    check(aergo.get_account().nonce == nonce0 + 1, "nonce advanced")
    got = aergo.get_tx(tx.tx_hash)
    check(str(got.tx_hash) == str(tx.tx_hash), "transaction read back")

    follower.join(timeout=30)
    check(len(streamed) == 1, "a block arrived on the block stream")
    stream.cancel()

    # The whitepaper contract: deploy with alice at 100.
    tx, result = aergo.deploy_sc(payload=source, args=[100])
    receipt = wait_ok(aergo, tx, result, "CREATED")
    contract = receipt.contract_address
    check(str(contract).startswith("Am"), f"contract deployed at {contract}")

    abi = aergo.get_abi(contract_addr=str(contract))
    names = sorted(f["name"] if isinstance(f, dict) else f.name for f in abi.functions)
    check("transfer" in names and "fund" in names, f"ABI lists {names}")

    tx, result = aergo.call_sc(contract, "fund", args=["bob", "50"])
    receipt = wait_ok(aergo, tx, result)
    check(len(receipt.event_list) == 1, "fund emitted an event")

    for args, expected in [(["alice", "bob", "30"], "OK"), (["carol", "bob", "1"], "Sender not found"),
                           (["alice", "bob", "1000"], "Not enough balance"), (["alice", "dave", "1"], "Receiver not found")]:
        tx, result = aergo.call_sc(contract, "transfer", args=args)
        receipt = wait_ok(aergo, tx, result)
        check(json.loads(receipt.detail) == expected, f"transfer{tuple(args)} -> {receipt.detail}")

    bob = aergo.query_sc(contract, "balance_of", args=["bob"])
    check(json.loads(bytes(bob)) in ("80.00", 80, "80"), f"query balance_of(bob) -> {bytes(bob)}")

    events = aergo.get_events(str(contract), "funded", start_block_no=0, end_block_no=0)
    check(len(events) == 1, f"one funded event listed ({len(events)})")

    # herapy's default: deploy without arguments sends JSON null.
    tx, result = aergo.deploy_sc(payload=b"CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
    receipt = wait_ok(aergo, tx, result, "CREATED")
    check(str(receipt.contract_address).startswith("Am"), "deploy with null arguments")

    # The name service: register a name, read it, send to it.
    name = "herapy123456"
    payload = json.dumps({"Name": "v1createName", "Args": [name]}, separators=(",", ":")).encode()
    tx, result = aergo.send_payload(amount=10**18, payload=payload, to_address=herapy.GovernanceTxAddress.NAME)
    wait_ok(aergo, tx, result)
    info = aergo.get_name_info(name)
    check(str(info.owner) == str(aergo.account.address), f"name {name} owned by the sender ({info.owner})")
    tx, result = aergo.transfer(name, 1)
    receipt = wait_ok(aergo, tx, result)
    check(True, "a transfer to the name is included")

    # An unknown tx hash is an error.
    try:
        aergo.get_tx("1" * 44)
        check(False, "unknown tx must fail")
    except CommunicationException:
        check(True, "unknown tx is an error")

    aergo.disconnect()
    print("HERAPY OK", flush=True)


if __name__ == "__main__":
    main()
