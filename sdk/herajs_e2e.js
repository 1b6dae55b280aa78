// The official JavaScript SDK (@herajs/client 2.1.3 with @herajs/crypto)
// against a real node, in Node.js over gRPC.
//
// Usage: node herajs_e2e.js HOST:PORT PRIVATE_KEY_HEX RECIPIENT SQL_FILE
//
// Connects, reads status, chain info and blocks, reads an account, sends a
// signed transfer and waits for its receipt, deploys the whitepaper SQL
// contract, calls it, queries it, lists its events, and follows the block
// stream, and registers a name. Each step asserts what it got; the last
// line is `HERAJS OK`.
'use strict';

const fs = require('fs');
const assert = require('assert');
const { AergoClient, GrpcProvider, Contract } = require('@herajs/client');
const { identityFromPrivateKey, signTransaction, hashTransaction } = require('@herajs/crypto');

function ok(cond, what) {
  assert.ok(cond, what);
  console.log('ok:', what);
}

async function send(aergo, identity, chainIdHash, fields) {
  const state = await aergo.getState(identity.address);
  const tx = {
    from: identity.address,
    nonce: state.nonce + 1,
    amount: '0 aer',
    chainIdHash,
    limit: 0,
    ...fields,
  };
  tx.sign = await signTransaction(tx, identity.keyPair);
  tx.hash = await hashTransaction(tx, 'base58');
  const hash = await aergo.sendSignedTransaction(tx);
  ok(hash === tx.hash, `transaction ${hash} accepted`);
  const receipt = await aergo.waitForTransactionReceipt(hash, 30000);
  receipt.sentHash = hash;
  return receipt;
}

async function main() {
  const [target, keyHex, recipient, sqlFile] = process.argv.slice(2);
  const source = fs.readFileSync(sqlFile, 'utf8');
  const aergo = new AergoClient({}, new GrpcProvider({ url: target }));

  const status = await aergo.blockchain();
  ok(status.bestHeight >= 0, `blockchain: height ${status.bestHeight}`);
  const info = await aergo.getChainInfo();
  ok(info.chainid && info.chainid.magic, `chain info: magic ${info.chainid && info.chainid.magic}`);
  const chainIdHash = await aergo.getChainIdHash();

  const genesis = await aergo.getBlock(0);
  ok(genesis.header.blockno === 0, 'block 0 by number');
  const same = await aergo.getBlock(genesis.hash);
  ok(same.hash === genesis.hash, 'block 0 by hash');
  const headers = await aergo.getBlockHeaders(status.bestBlockHash, 1);
  ok(headers.length === 1, 'block headers');

  const identity = identityFromPrivateKey(Buffer.from(keyHex, 'hex'));
  const state = await aergo.getState(identity.address);
  ok(BigInt(state.balance.toUnit('aer').toString().split(' ')[0]) > 0n, `balance ${state.balance.toString()}`);

  // One block must arrive on the block stream.
  const streamed = new Promise((resolve, reject) => {
    const stream = aergo.getBlockStream();
    const timer = setTimeout(() => { stream.cancel(); reject(new Error('no block streamed')); }, 30000);
    stream.on('data', (block) => { clearTimeout(timer); stream.cancel(); resolve(block); });
    // herajs wraps every event of `on` as a block; errors are read from
    // the underlying gRPC stream (cancelling it ends it with CANCELLED).
    stream._stream.on('error', (e) => { if (e.code !== 1) { clearTimeout(timer); reject(e); } });
  });

  const transfer = await send(aergo, identity, chainIdHash, { to: recipient, amount: '1000000000000000000 aer', type: 4 });
  ok(transfer.status === 'SUCCESS', `transfer receipt ${transfer.status}`);
  const block = await streamed;
  ok(block.header.blockno > 0, `block ${block.header.blockno} arrived on the stream`);
  const tx = await aergo.getTransaction(transfer.sentHash);
  ok(tx.tx !== undefined, 'transaction read back');

  const deploy = await send(aergo, identity, chainIdHash, {
    payload: Contract.fromCode(source).asPayload([100]),
    type: 6,
  });
  ok(deploy.status === 'CREATED', `deploy receipt ${deploy.status} ${deploy.result || ''}`);
  const address = deploy.contractaddress.toString();
  ok(address.startsWith('Am'), `contract at ${address}`);

  const abi = await aergo.getABI(address);
  ok(abi.functions.some((f) => f.name === 'transfer'), 'ABI lists transfer');
  const contract = Contract.atAddress(address);
  contract.loadAbi(abi);

  const fund = await send(aergo, identity, chainIdHash, {
    to: address,
    payload: Buffer.from(JSON.stringify({ Name: 'fund', Args: ['bob', '50'] })),
    type: 5,
  });
  ok(fund.status === 'SUCCESS' && fund.events.length === 1, 'fund emitted an event');

  const moved = await send(aergo, identity, chainIdHash, {
    to: address,
    payload: Buffer.from(JSON.stringify({ Name: 'transfer', Args: ['alice', 'bob', '30'] })),
    type: 5,
  });
  ok(moved.status === 'SUCCESS' && JSON.parse(moved.result) === 'OK', `transfer -> ${moved.result}`);

  const bob = await aergo.queryContract(contract.balance_of('bob'));
  ok(bob === '80.00', `query balance_of(bob) -> ${JSON.stringify(bob)}`);

  const events = await aergo.getEvents({ address, eventName: 'funded' });
  ok(events.length === 1 && events[0].args[0] === 'bob', `events: ${events.length}`);

  // The name service: register a name (a governance tx to aergo.name) and read it.
  const named = await send(aergo, identity, chainIdHash, {
    to: 'aergo.name',
    amount: '1000000000000000000 aer',
    payload: Buffer.from(JSON.stringify({ Name: 'v1createName', Args: ['herajs123456'] })),
    type: 1,
  });
  ok(named.status === 'SUCCESS', `name registered: ${named.status} ${named.result || ''}`);
  const nameInfo = await aergo.getNameInfo('herajs123456');
  ok(nameInfo.owner.toString() === identity.address.toString(), `name owner ${nameInfo.owner}`);

  const peers = await aergo.getPeers();
  ok(Array.isArray(peers), `peers: ${peers.length}`);

  console.log('HERAJS OK');
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
