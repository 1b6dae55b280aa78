// AERGO Hub: the node's web console.
//
// One script, no dependencies, no build step. A hash router picks a view
// (`#/block/12`, `#/tx/HASH`, `#/account/ADDR`, `#/sql?q=...`, ...); each
// view asks the node's JSON-RPC API (POST /) for what it shows and builds
// the DOM with createElement and textContent only, so nothing the chain
// holds (contract source, event arguments, rows, names) is ever parsed as
// HTML. Live blocks come from the API's `blocks` subscription over /ws.
// Every timer a view starts is stopped when the view changes.
'use strict';

(function () {
  // ---------------------------------------------------------------- API

  /** A JSON-RPC error, with the node's code, message and data. */
  class RpcFailure extends Error {
    constructor(code, message, data) {
      super(message);
      this.code = code;
      this.data = data;
    }
  }

  let rpcId = 0;
  async function rpc(method, params) {
    let res;
    try {
      res = await fetch('/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params: params || [] }),
      });
    } catch (e) {
      throw new RpcFailure(0, 'the node did not answer (' + e.message + ')');
    }
    let body;
    try {
      body = await res.json();
    } catch (e) {
      throw new RpcFailure(res.status, 'the node answered HTTP ' + res.status + ' without JSON');
    }
    if (body.error) throw new RpcFailure(body.error.code, body.error.message, body.error.data);
    return body.result;
  }

  /** `rpc`, but a "not found" (-32001) answer is `null`. */
  async function rpcOrNull(method, params) {
    try {
      return await rpc(method, params);
    } catch (e) {
      if (e instanceof RpcFailure && (e.code === -32001 || e.code === -32601)) return null;
      throw e;
    }
  }

  // ---------------------------------------------------------------- DOM

  /** h('a', {href: '#/'}, 'text', child, [more]) */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    append(el, children);
    return el;
  }

  function short(text, keep) {
    const t = String(text);
    const n = keep || 8;
    return t.length > 2 * n + 1 ? t.slice(0, n) + '…' + t.slice(-n) : t;
  }

  function link(href, text, full) {
    return h('a', { href, title: full || null, class: 'mono' }, text);
  }
  const blockLink = (x, text) => link('#/block/' + x, text === undefined ? String(x) : text, String(x));
  const txLink = (hash) => link('#/tx/' + hash, short(hash), hash);
  function accountLink(addr) {
    if (!addr) return h('span', { class: 'null' }, '—');
    return link('#/account/' + encodeURIComponent(addr), short(addr, 10), addr);
  }

  function time(ns) {
    if (typeof ns !== 'number' || ns <= 0) return '—';
    return new Date(ns / 1e6).toISOString().replace('T', ' ').replace('Z', ' UTC');
  }

  /** An amount of aer (a decimal string) in the largest unit that keeps it exact. */
  function aer(text) {
    let n;
    try {
      n = BigInt(text);
    } catch (e) {
      return String(text);
    }
    const unit = (div, name) => {
      const whole = n / div;
      const frac = (n % div).toString().padStart(div.toString().length - 1, '0').replace(/0+$/, '');
      return whole.toString() + (frac ? '.' + frac : '') + ' ' + name;
    };
    if (n >= 10n ** 15n) return unit(10n ** 18n, 'aergo');
    if (n >= 10n ** 6n) return unit(10n ** 9n, 'gaer');
    return n.toString() + ' aer';
  }

  function fields(pairs) {
    return h('dl', { class: 'fields' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  function table(columns, rows, opts) {
    const o = opts || {};
    const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)));
    const body = rows.map((r) => {
      const tr = h('tr', { class: r.fresh ? 'fresh' : null, 'data-key': r.key === undefined ? null : r.key },
        columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(r))));
      return tr;
    });
    const t = h('table', { id: o.id || null }, o.caption ? h('caption', { class: 'visually-hidden' }, o.caption) : null,
      h('thead', {}, head), h('tbody', {}, body));
    return h('div', { class: 'table-wrap' }, t);
  }

  function badge(status) {
    const good = status === 'SUCCESS' || status === 'CREATED' || status === 'committed';
    const cls = good ? 'ok' : status === 'pending' ? 'pending' : 'bad';
    return h('span', { class: 'badge ' + cls }, status);
  }

  function errorBox(e) {
    const text = e instanceof RpcFailure
      ? e.message + (e.code ? ' (error ' + e.code + (e.data && e.data.reason ? ', ' + e.data.reason : '') + ')' : '')
      : String(e && e.message ? e.message : e);
    return h('p', { class: 'error', role: 'alert' }, text);
  }

  function card(label, value, id) {
    return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value', id: id || null }, value));
  }

  // ------------------------------------------------------------ routing

  const main = document.getElementById('main');
  let view = { token: 0, timers: [], onBlock: null };

  /** Runs `fn` every `ms` while the current view lasts. */
  function every(ms, fn) {
    view.timers.push(setInterval(fn, ms));
  }

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [path, query] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { parts, query: new URLSearchParams(query || '') };
  }

  const routes = {
    '': viewHome,
    block: viewBlock,
    tx: viewTx,
    account: viewAccount,
    contract: viewAccount,
    name: viewName,
    sql: viewSql,
    producers: viewProducers,
    node: viewNode,
    branches: viewBranches,
    search: viewSearch,
  };

  const sectionOf = { '': 'explorer', block: 'explorer', tx: 'explorer', account: 'explorer', contract: 'explorer',
    name: 'explorer', search: 'explorer', sql: 'sql', producers: 'producers', node: 'node', branches: 'branches' };

  async function route() {
    for (const t of view.timers) clearInterval(t);
    const token = view.token + 1;
    view = { token, timers: [], onBlock: null };
    const { parts, query } = parseHash();
    const name = parts[0] || '';
    const fn = routes[name];
    for (const a of document.querySelectorAll('nav a')) {
      if (a.dataset.section === sectionOf[name]) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const out = h('div', { 'data-view': name || 'home' });
    main.replaceChildren(h('p', { class: 'meta' }, 'Loading…'));
    try {
      if (!fn) throw new Error('No page here: ' + location.hash + '. Use the sections above or search.');
      await fn(out, parts.slice(1), query);
    } catch (e) {
      out.append(errorBox(e));
    }
    if (view.token !== token) return; // another view started meanwhile
    main.replaceChildren(out);
    const title = out.querySelector('h1');
    document.title = (title ? title.textContent + ' · ' : '') + 'AERGO Hub';
    out.dataset.ready = 'true';
  }

  /** True while the view that started with `token` is still shown. */
  const current = (token) => view.token === token;

  // -------------------------------------------------------- live blocks

  const live = { status: null, socket: null, state: 'connecting', retryMs: 500 };

  function renderStatusBar() {
    const bar = document.getElementById('status-bar');
    const st = live.status;
    const conn = h('span', { class: live.state === 'live' ? 'live' : 'down' },
      live.state === 'live' ? '● live' : '○ ' + live.state);
    if (!st) {
      bar.replaceChildren(conn, ' · waiting for the node');
      return;
    }
    const lib = st.lib ? st.lib.height : '—';
    bar.replaceChildren(conn, ' · ', st.chainId.magic + '/' + st.chainId.consensus, ' · head ',
      blockLink(st.height), ' · LIB ', String(lib), ' · pool ', String(st.pool ? st.pool.txs : 0), ' tx');
  }

  async function refreshStatus() {
    try {
      live.status = await rpc('status');
    } catch (e) {
      live.status = null;
    }
    renderStatusBar();
  }

  function connectBlocks() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(proto + '//' + location.host + '/ws');
    } catch (e) {
      live.state = 'offline';
      renderStatusBar();
      return;
    }
    live.socket = ws;
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: ['blocks'] }));
    });
    ws.addEventListener('message', (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      if (msg.id === 1 && msg.result !== undefined) {
        live.state = 'live';
        live.retryMs = 500;
        renderStatusBar();
      }
      if (msg.method === 'subscription' && msg.params && msg.params.result) {
        const b = msg.params.result;
        if (live.status && b.height > live.status.height) {
          live.status.height = b.height;
          live.status.hash = b.hash;
        }
        renderStatusBar();
        if (view.onBlock) view.onBlock(b);
      }
    });
    ws.addEventListener('close', () => {
      live.state = 'reconnecting';
      renderStatusBar();
      setTimeout(connectBlocks, live.retryMs);
      live.retryMs = Math.min(live.retryMs * 2, 10000);
    });
  }

  // ------------------------------------------------------------- search

  const B58 = '[1-9A-HJ-NP-Za-km-z]';
  const HASH_B58 = new RegExp('^' + B58 + '{43,44}$');
  const HASH_HEX = /^(0x)?[0-9a-fA-F]{64}$/;
  const ADDRESS = new RegExp('^A' + B58 + '{45,60}$');
  const NAME = /^[a-z0-9][a-z0-9.]{0,31}$/;

  /** Where a search term leads, or an error saying why nowhere. */
  async function resolveSearch(term) {
    const q = term.trim();
    if (q === '') throw new Error('Type a block height, a block or transaction hash, an address or a name.');
    if (q.length > 200) throw new Error('That is too long to be a height, hash, address or name.');
    if (/^\d+$/.test(q)) return '#/block/' + q;
    if (HASH_HEX.test(q) || HASH_B58.test(q)) {
      const hash = HASH_HEX.test(q) && !q.startsWith('0x') ? '0x' + q : q;
      if (await rpcOrNull('getBlock', [hash])) return '#/block/' + encodeURIComponent(hash);
      if (await rpcOrNull('getTx', [hash])) return '#/tx/' + encodeURIComponent(hash);
      throw new Error('No block and no transaction has the hash ' + q + '.');
    }
    if (ADDRESS.test(q)) return '#/account/' + encodeURIComponent(q);
    if (NAME.test(q)) return '#/name/' + encodeURIComponent(q);
    throw new Error('"' + short(q, 24) + '" is not a block height, a hash, an address or a name.');
  }

  async function viewSearch(out, parts) {
    const term = parts[0] || '';
    out.append(h('h1', {}, 'Search'));
    try {
      const target = await resolveSearch(term);
      location.replace(target);
    } catch (e) {
      out.append(errorBox(e));
    }
  }

  // ------------------------------------------------------------ explorer

  async function viewHome(out) {
    const token = view.token;
    const st = await rpc('status');
    live.status = st;
    renderStatusBar();
    out.append(h('h1', {}, 'Explorer'));
    out.append(h('div', { class: 'cards' },
      card('Chain', st.chainId.magic + ' / ' + st.chainId.consensus),
      card('Head', blockLink(st.height), 'head-height'),
      card('Last irreversible', st.lib ? blockLink(st.lib.height) : '—', 'lib-height'),
      card('Pool', String(st.pool.txs) + ' tx', 'pool-size'),
      card('Gas price', aer(st.gasPrice)),
      card('Peers', String(st.peers === undefined ? 0 : st.peers))));

    const recent = [];
    const count = Math.min(20, st.height + 1);
    const blocks = await Promise.all(Array.from({ length: count }, (_, i) => rpcOrNull('getBlock', [st.height - i])));
    for (const b of blocks) if (b) recent.push(b);

    const blocksBox = h('div', { id: 'recent-blocks' });
    const txsBox = h('div', { id: 'recent-txs' });
    out.append(h('h2', {}, 'Latest blocks'), blocksBox, h('h2', {}, 'Latest transactions'), txsBox);

    const renderLists = () => {
      blocksBox.replaceChildren(table([
        { label: 'Height', num: true, cell: (b) => blockLink(b.height) },
        { label: 'Hash', cell: (b) => blockLink(b.hash, short(b.hash)) },
        { label: 'Time', cell: (b) => time(b.timestamp) },
        { label: 'Txs', num: true, cell: (b) => String(b.txCount) },
        { label: 'Producer', cell: (b) => accountLink(b.producer) },
      ], recent.map((b) => Object.assign({ key: b.height }, b)), { caption: 'Latest blocks' }));
      const txs = [];
      for (const b of recent) for (const t of b.txs) if (txs.length < 20) txs.push({ hash: t, height: b.height, fresh: b.fresh });
      txsBox.replaceChildren(txs.length
        ? table([
          { label: 'Transaction', cell: (t) => txLink(t.hash) },
          { label: 'Block', num: true, cell: (t) => blockLink(t.height) },
        ], txs.map((t) => Object.assign({ key: t.hash }, t)), { caption: 'Latest transactions' })
        : h('p', { class: 'note' }, 'No transactions in the latest ' + recent.length + ' blocks.'));
    };
    renderLists();

    view.onBlock = (b) => {
      if (!current(token) || recent.some((r) => r.hash === b.hash)) return;
      for (const r of recent) r.fresh = false;
      recent.unshift(Object.assign({ fresh: true }, b));
      recent.sort((a, c) => c.height - a.height);
      recent.length = Math.min(recent.length, 20);
      const head = document.getElementById('head-height');
      if (head) head.replaceChildren(blockLink(b.height));
      renderLists();
    };
    every(3000, async () => {
      const s2 = await rpc('status').catch(() => null);
      if (!s2 || !current(token)) return;
      const lib = document.getElementById('lib-height');
      if (lib && s2.lib) lib.replaceChildren(blockLink(s2.lib.height));
      const pool = document.getElementById('pool-size');
      if (pool) pool.textContent = String(s2.pool.txs) + ' tx';
    });
  }

  async function viewBlock(out, parts) {
    const which = parts[0] || '';
    let arg;
    if (/^\d+$/.test(which)) arg = Number(which);
    else if (HASH_HEX.test(which) || HASH_B58.test(which)) arg = which;
    else throw new Error('"' + short(which, 24) + '" is not a block height or hash.');
    const b = await rpcOrNull('getBlock', [arg, true]);
    if (!b) throw new Error('No block ' + which + ' on this chain' + (live.status ? ' (head is ' + live.status.height + ').' : '.'));
    out.append(h('h1', {}, 'Block ' + b.height));
    out.append(h('div', { class: 'pager' },
      b.height > 0 ? h('a', { href: '#/block/' + (b.height - 1), rel: 'prev' }, '← ' + (b.height - 1)) : null,
      h('a', { href: '#/block/' + (b.height + 1), rel: 'next' }, (b.height + 1) + ' →')));
    out.append(fields([
      ['Height', String(b.height)],
      ['Hash', h('span', { class: 'mono' }, b.hash)],
      ['Parent', b.height > 0 ? blockLink(b.prevHash, b.prevHash) : '—'],
      ['Time', time(b.timestamp)],
      ['Producer', accountLink(b.producer)],
      ['Coinbase', accountLink(b.coinbase)],
      ['State root', h('span', { class: 'mono' }, b.stateRoot)],
      ['Transactions root', h('span', { class: 'mono' }, b.txsRoot)],
      ['Receipts root', h('span', { class: 'mono' }, b.receiptsRoot)],
      ['Transactions', String(b.txCount)],
    ]));
    out.append(h('h2', {}, 'Transactions'));
    out.append(b.txs.length
      ? table([
        { label: '#', num: true, cell: (t) => String(t.i) },
        { label: 'Hash', cell: (t) => txLink(t.hash) },
        { label: 'Type', cell: (t) => t.type },
        { label: 'From', cell: (t) => accountLink(t.from) },
        { label: 'To', cell: (t) => accountLink(t.to) },
        { label: 'Amount', num: true, cell: (t) => t.amountFormatted },
      ], b.txs.map((t, i) => Object.assign({ i, key: t.hash }, t)), { id: 'block-txs', caption: 'Transactions of the block' })
      : h('p', { class: 'note' }, 'This block has no transactions.'));
  }

  /** The payload as text when it is printable UTF-8, else hex. */
  function payloadText(hex) {
    if (!hex) return null;
    const bytes = new Uint8Array(hex.match(/../g).map((x) => parseInt(x, 16)));
    let text = null;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      text = null;
    }
    // Deploy payloads start with a binary length prefix: show the text
    // after it when the rest is printable.
    const printable = (t) => t !== null && /^[\P{Cc}\n\r\t]*$/u.test(t);
    if (!printable(text) && bytes.length > 4) {
      try {
        const rest = new TextDecoder('utf-8', { fatal: true }).decode(bytes.slice(4));
        if (printable(rest)) text = rest;
      } catch (e) {
        text = null;
      }
    }
    const MAX = 20000;
    if (printable(text)) return text.length > MAX ? text.slice(0, MAX) + '\n… (' + text.length + ' characters)' : text;
    return hex.length > MAX ? hex.slice(0, MAX) + '… (' + hex.length / 2 + ' bytes)' : hex;
  }

  async function viewTx(out, parts) {
    const token = view.token;
    const hash = parts[0] || '';
    if (!(HASH_HEX.test(hash) || HASH_B58.test(hash))) throw new Error('"' + short(hash, 24) + '" is not a transaction hash.');
    const tx = await rpcOrNull('getTx', [hash]);
    if (!tx) throw new Error('No transaction ' + hash + ' on this chain or in its pool.');
    out.append(h('h1', {}, 'Transaction ' + short(tx.hash)));
    out.append(fields([
      ['Hash', h('span', { class: 'mono' }, tx.hash)],
      ['Status', badge(tx.status === 'pending' ? 'pending' : 'committed')],
      tx.blockHeight !== undefined ? ['Block', blockLink(tx.blockHeight)] : null,
      tx.index !== undefined ? ['Position', String(tx.index)] : null,
      ['Type', tx.type],
      ['From', accountLink(tx.from)],
      ['To', accountLink(tx.to)],
      ['Amount', tx.amountFormatted],
      ['Nonce', String(tx.nonce)],
      ['Gas limit', String(tx.gasLimit)],
      ['Gas price', aer(tx.gasPrice)],
    ]));
    const p = payloadText(tx.payload);
    if (p) out.append(h('h2', {}, 'Payload'), h('pre', { id: 'tx-payload' }, p));
    if (tx.status === 'pending') {
      out.append(h('p', { class: 'note', id: 'tx-pending' }, 'In the pool, not in a block yet: this page reloads when it is.'));
      every(1000, async () => {
        const r = await rpcOrNull('getReceipt', [hash]).catch(() => null);
        if (r && current(token)) route();
      });
      return;
    }
    const r = await rpc('getReceipt', [hash]);
    out.append(h('h2', {}, 'Receipt'));
    out.append(fields([
      ['Result', h('span', { id: 'receipt-status' }, badge(r.status))],
      ['Returned', r.ret ? h('span', { class: 'mono' }, r.ret) : h('span', { class: 'null' }, '—')],
      ['Gas used', String(r.gasUsed)],
      ['Fee', r.feeFormatted],
      r.contractAddress ? ['Contract', accountLink(r.contractAddress)] : null,
    ]));
    out.append(h('h2', {}, 'Events'));
    out.append(r.events.length
      ? table([
        { label: '#', num: true, cell: (e) => String(e.index) },
        { label: 'Name', cell: (e) => e.name },
        { label: 'Contract', cell: (e) => accountLink(e.contract) },
        { label: 'Arguments', cell: (e) => h('code', {}, e.args) },
      ], r.events, { caption: 'Events of the transaction' })
      : h('p', { class: 'note' }, 'No events.'));
  }

  async function viewName(out, parts) {
    const name = parts[0] || '';
    const info = await rpc('getNameInfo', [name]);
    out.append(h('h1', {}, 'Name ' + info.name));
    out.append(fields([
      ['Owner', accountLink(info.owner)],
      ['Destination', accountLink(info.destination)],
      ['Last changed at', blockLink(info.height)],
    ]));
  }

  async function viewAccount(out, parts, query) {
    const addr = parts[0] || '';
    const [acct, contract, stake] = await Promise.all([
      rpc('getAccount', [addr]),
      rpcOrNull('getContract', [addr]).catch(() => null),
      rpc('getStake', [addr]).catch(() => null),
    ]);
    out.append(h('h1', {}, (contract ? 'Contract ' : 'Account ') + short(acct.address, 12)));
    out.append(fields([
      ['Address', h('span', { class: 'mono' }, acct.address)],
      ['Balance', h('span', { id: 'account-balance' }, acct.balanceFormatted)],
      ['Nonce', String(acct.nonce)],
      acct.nextNonce !== undefined ? ['Next nonce', String(acct.nextNonce)] : null,
      stake && stake.amount !== '0' ? ['Staked', aer(stake.amount) + ' since block ' + stake.sinceHeight] : null,
      ['At height', blockLink(acct.height)],
    ]));
    if (contract) await contractSections(out, contract);
    out.append(h('h2', {}, 'History'));
    const box = h('div', { id: 'account-history' });
    out.append(box);
    await historyPage(box, addr, query.get('before'));
  }

  async function historyPage(box, addr, before) {
    const opts = { limit: 25 };
    if (before) opts.before = Number(before);
    const res = await rpc('getAccountTxs', [addr, opts]);
    const rows = res.txs.map((t) => Object.assign({ key: t.hash }, t));
    box.replaceChildren(rows.length
      ? table([
        { label: 'Transaction', cell: (t) => txLink(t.hash) },
        { label: 'Block', num: true, cell: (t) => blockLink(t.height) },
        { label: 'Type', cell: (t) => t.type },
        { label: 'From', cell: (t) => accountLink(t.from) },
        { label: 'To', cell: (t) => accountLink(t.to) },
        { label: 'Amount', num: true, cell: (t) => t.amountFormatted },
        { label: 'Result', cell: (t) => (t.status ? badge(t.status) : '—') },
      ], rows, { caption: 'Transactions of the account, newest first' })
      : h('p', { class: 'note' }, before ? 'No older transactions.' : 'No transactions from or to this account.'));
    if (res.more && rows.length) {
      const oldest = rows[rows.length - 1].height;
      box.append(h('div', { class: 'pager' },
        h('a', { href: '#/account/' + encodeURIComponent(addr) + '?before=' + oldest }, 'Older transactions →')));
    }
  }

  async function contractSections(out, c) {
    out.append(h('h2', {}, 'Contract'));
    out.append(fields([
      ['Schema', h('span', { class: 'mono' }, c.schema)],
      ['Creator', accountLink(c.creator)],
      ['Deployed', [blockLink(c.deployedHeight), ' by ', txLink(c.deployTx)]],
      ['Source hash', h('span', { class: 'mono' }, c.sourceHash)],
    ]));
    const [abi, tables, events] = await Promise.all([
      rpc('getABI', [c.address]).catch(() => null),
      rpc('listTables', [{}]).catch(() => null),
      rpc('getEvents', [{ contract: c.address }]).catch(() => null),
    ]);
    if (abi) {
      out.append(h('h2', {}, 'Functions'));
      out.append(table([
        { label: 'Function', cell: (f) => h('code', {}, f.name) },
        { label: 'Arguments', cell: (f) => h('code', {}, f.arguments.map((a) => a.name + ' ' + a.type).join(', ')) },
        { label: 'Returns', cell: (f) => h('code', {}, f.returns || '—') },
      ], abi.functions, { caption: 'Public functions' }));
    }
    if (tables) {
      const mine = tables.relations.filter((r) => r.schema === c.schema && r.kind !== 'index' && r.kind !== 'function');
      out.append(h('h2', {}, 'Tables'));
      out.append(mine.length
        ? h('ul', { id: 'contract-tables' }, mine.map((r) => h('li', {},
          h('a', { href: sqlHref('SELECT * FROM ' + r.name + ' LIMIT 100', { contract: c.address }) }, r.name),
          ' ', h('span', { class: 'meta' }, r.kind))))
        : h('p', { class: 'note' }, 'This contract has no tables.'));
    }
    out.append(h('h2', {}, 'Source'));
    out.append(h('pre', { id: 'contract-source' }, c.source));
    if (events) {
      out.append(h('h2', {}, 'Recent events'));
      const list = events.events.slice(-50).reverse();
      out.append(list.length
        ? table([
          { label: 'Block', num: true, cell: (e) => blockLink(e.blockHeight === undefined ? e.height : e.blockHeight) },
          { label: 'Name', cell: (e) => e.name || e.eventName },
          { label: 'Arguments', cell: (e) => h('code', {}, e.args === undefined ? e.jsonArgs : e.args) },
          { label: 'Transaction', cell: (e) => (e.txHash ? txLink(e.txHash) : '—') },
        ], list, { caption: 'Recent events of the contract' })
        : h('p', { class: 'note' }, 'No events in the recent blocks.'));
    }
  }

  // ---------------------------------------------------------------- SQL

  function sqlHref(q, opts) {
    const p = new URLSearchParams();
    p.set('q', q);
    if (opts.height) p.set('height', opts.height);
    if (opts.contract) p.set('contract', opts.contract);
    return '#/sql?' + p.toString();
  }

  function cellText(v) {
    if (v === null) return h('span', { class: 'null' }, 'NULL');
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  async function viewSql(out, parts, query) {
    out.append(h('h1', {}, 'SQL console'));
    out.append(h('p', { class: 'meta' },
      'One read-only SELECT on the state of any block, with the limits of the query API. ',
      h('code', {}, '\\d'), ' lists tables, views and functions; ', h('code', {}, '\\d NAME'), ' describes one. Ctrl+Enter runs.'));
    const text = h('textarea', { id: 'sql-text', 'aria-label': 'SQL query', spellcheck: 'false' });
    text.value = query.get('q') || 'SELECT * FROM sys.accounts LIMIT 20';
    const height = h('input', { id: 'sql-height', type: 'number', min: '0', inputmode: 'numeric', placeholder: 'head' });
    height.value = query.get('height') || '';
    const contract = h('input', { id: 'sql-contract', size: '30', spellcheck: 'false', placeholder: 'none' });
    contract.value = query.get('contract') || '';
    const run = h('button', { id: 'sql-run', type: 'button', class: 'primary' }, 'Run');
    const result = h('div', { id: 'sql-result', 'aria-live': 'polite' });
    const detail = h('div', { id: 'sql-detail' });
    const browser = h('aside', { 'aria-label': 'Schemas' }, h('p', { class: 'meta' }, 'Loading schemas…'));

    const opts = () => {
      const o = {};
      if (height.value !== '') o.height = Number(height.value);
      if (contract.value.trim() !== '') o.contract = contract.value.trim();
      return o;
    };

    async function describe(name) {
      detail.replaceChildren(h('p', { class: 'meta' }, 'Describing ' + name + '…'));
      try {
        const d = await rpc('describeTable', [name, opts()]);
        const parts2 = [h('h2', {}, d.kind + ' ' + d.schema + '.' + d.name)];
        if (d.kind === 'table') {
          parts2.push(table([
            { label: 'Column', cell: (c) => h('code', {}, c.name) },
            { label: 'Type', cell: (c) => c.type },
            { label: 'Not null', cell: (c) => (c.notNull ? 'yes' : '') },
            { label: 'Default', cell: (c) => (c.default === null || c.default === undefined ? '' : h('code', {}, c.default)) },
          ], d.columns, { caption: 'Columns' }));
          parts2.push(h('p', { class: 'meta' }, 'Primary key: ' + (d.primaryKey.length ? d.primaryKey.join(', ') : '—')));
          for (const i of d.indexes) parts2.push(h('p', { class: 'meta' }, (i.unique ? 'Unique index ' : 'Index ') + i.name + ' (' + i.columns.join(', ') + ')'));
          for (const c of d.checks) parts2.push(h('p', { class: 'meta' }, 'Check ' + c.name + ': ' + c.expr));
        } else if (d.kind === 'view') {
          parts2.push(h('pre', {}, d.query));
        } else {
          parts2.push(h('p', { class: 'meta' }, '(' + d.params.map((p) => p.name + ' ' + p.type).join(', ') + ') returns ' + (d.returns || 'void') + ', ' + d.language));
          parts2.push(h('pre', {}, d.source));
        }
        detail.replaceChildren(...parts2);
      } catch (e) {
        detail.replaceChildren(errorBox(e));
      }
    }

    async function loadSchemas() {
      try {
        const list = await rpc('listTables', [opts().height === undefined ? {} : { height: opts().height }]);
        const bySchema = new Map();
        for (const r of list.relations) {
          if (r.kind === 'index') continue;
          if (!bySchema.has(r.schema)) bySchema.set(r.schema, []);
          bySchema.get(r.schema).push(r);
        }
        const schemas = [...bySchema.keys()].sort();
        browser.replaceChildren(...schemas.map((schema) => h('details', { open: schema === 'sys' ? null : true },
          h('summary', {}, schema),
          h('ul', {}, bySchema.get(schema).map((r) => h('li', {},
            h('button', { type: 'button', onclick: () => describe(schema + '.' + r.name + (r.kind === 'function' ? '()' : '')) }, r.name),
            ' ', h('span', { class: 'kind' }, r.kind)))))),
        ...(list.truncated ? [h('p', { class: 'meta' }, 'List truncated at the row cap.')] : []));
      } catch (e) {
        browser.replaceChildren(errorBox(e));
      }
    }

    async function execute() {
      const q = text.value.trim();
      const o = opts();
      history.replaceState(null, '', sqlHref(text.value, { height: height.value, contract: contract.value.trim() }));
      run.disabled = true;
      result.replaceChildren(h('p', { class: 'meta' }, 'Running…'));
      try {
        const d = /^\\d\s*(.*)$/.exec(q);
        if (d && d[1].trim() === '') {
          await loadSchemas();
          const list = await rpc('listTables', [o.height === undefined ? {} : { height: o.height }]);
          result.replaceChildren(h('p', { class: 'meta', id: 'sql-meta' }, list.relations.length + ' relations at height ' + list.height),
            table([
              { label: 'Schema', cell: (r) => r.schema },
              { label: 'Name', cell: (r) => r.name },
              { label: 'Kind', cell: (r) => r.kind },
              { label: 'Table', cell: (r) => r.table || '' },
            ], list.relations, { id: 'sql-table', caption: 'Relations' }));
        } else if (d) {
          result.replaceChildren();
          await describe(d[1].trim());
        } else {
          const res = await rpc('query', [q, o]);
          result.replaceChildren(
            h('p', { class: 'meta', id: 'sql-meta' }, res.rowCount + (res.rowCount === 1 ? ' row' : ' rows') + ' · ' + res.gasUsed + ' gas · at height ' + res.height),
            table(res.columns.map((c, i) => ({ label: c + (res.types && res.types[i] ? ' (' + res.types[i] + ')' : ''), cell: (row) => cellText(row[i]) })),
              res.rows, { id: 'sql-table', caption: 'Query result' }));
        }
      } catch (e) {
        result.replaceChildren(errorBox(e));
      } finally {
        run.disabled = false;
      }
    }

    run.addEventListener('click', execute);
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        execute();
      }
    });
    out.append(h('div', { class: 'sql' }, browser, h('section', { 'aria-label': 'Query' },
      text,
      h('div', { class: 'row' },
        h('label', {}, 'At height', height),
        h('label', {}, 'Contract (default schema)', contract),
        run),
      result, detail)));
    await loadSchemas();
    if (query.get('q')) await execute();
  }

  // ----------------------------------------------------------- producers

  async function viewProducers(out) {
    const token = view.token;
    const st = await rpc('status');
    out.append(h('h1', {}, 'Producers'));
    const libCard = card('Last irreversible', st.lib ? blockLink(st.lib.height) : '—', 'producers-lib');
    out.append(h('div', { class: 'cards' },
      card('Consensus', st.chainId.consensus),
      card('Head', blockLink(st.height), 'producers-head'),
      libCard,
      card('Finality lag', st.lib ? String(st.height - st.lib.height) + ' blocks' : '—', 'producers-lag'),
      card('This node', st.role || '—')));
    every(2000, async () => {
      const s2 = await rpc('status').catch(() => null);
      if (!s2 || !current(token)) return;
      const set = (id, v) => { const el = document.getElementById(id); if (el) el.replaceChildren(v); };
      set('producers-head', blockLink(s2.height));
      if (s2.lib) {
        set('producers-lib', blockLink(s2.lib.height));
        set('producers-lag', String(s2.height - s2.lib.height) + ' blocks');
      }
    });

    const producers = await rpc('getProducers').catch(() => null);
    if (producers) {
      out.append(h('h2', {}, 'Schedule'));
      out.append(h('p', { class: 'meta' }, producers.bpCount + ' producers, elected every ' + producers.epochBlocks + ' blocks, in this order.'));
      out.append(table([
        { label: 'Rank', num: true, cell: (p) => String(p.rank) },
        { label: 'Peer id', cell: (p) => h('span', { class: 'mono' }, short(p.peerId, 10)) },
        { label: 'Votes', num: true, cell: (p) => aer(p.votes) },
        { label: 'Rating', num: true, cell: (p) => (p.rating === undefined ? '—' : p.rating + ' %') },
      ], producers.producers, { id: 'producers-table', caption: 'Block producers' }));
      if (producers.candidates && producers.candidates.length) {
        out.append(h('h2', {}, 'Votes'));
        out.append(table([
          { label: 'Candidate', cell: (p) => h('span', { class: 'mono' }, short(p.peerId || p.candidate || '', 10)) },
          { label: 'Votes', num: true, cell: (p) => aer(p.votes) },
        ], producers.candidates, { caption: 'Candidates by votes' }));
      }
    } else {
      out.append(h('p', { class: 'note' }, 'This chain runs ' + st.chainId.consensus + ' consensus: ' +
        (st.chainId.consensus === 'dpos' ? 'the schedule is not available.' : 'one producer makes every block, no election.')));
    }

    // Who made the latest blocks.
    const n = Math.min(50, st.height + 1);
    const blocks = await Promise.all(Array.from({ length: n }, (_, i) => rpcOrNull('getBlock', [st.height - i])));
    const counts = new Map();
    for (const b of blocks) if (b && b.producer) counts.set(b.producer, (counts.get(b.producer) || 0) + 1);
    out.append(h('h2', {}, 'Who produced the latest ' + n + ' blocks'));
    out.append(table([
      { label: 'Producer', cell: (r) => accountLink(r.producer) },
      { label: 'Blocks', num: true, cell: (r) => String(r.count) },
    ], [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([producer, count]) => ({ producer, count })),
    { id: 'producers-recent', caption: 'Blocks per producer' }));

    const params = await rpc('getParams').catch(() => null);
    if (params) {
      out.append(h('h2', {}, 'Governance parameters'));
      out.append(table([
        { label: 'Parameter', cell: (p) => h('code', {}, p.name) },
        { label: 'Value', num: true, cell: (p) => (AMOUNT_PARAMS.has(p.name) ? aer(p.value) : String(p.value)) },
      ], params, { id: 'params-table', caption: 'Governance parameters in force' }));
    }
  }

  /** Governance parameters that are amounts of aer. */
  const AMOUNT_PARAMS = new Set(['STAKINGMIN', 'GASPRICE', 'NAMEPRICE']);

  // ---------------------------------------------------------------- node

  /** A line chart of `values` (numbers) as inline SVG. */
  function chart(title, values, unit, id) {
    const W = 320;
    const H = 110;
    const pad = 18;
    const peak = Math.max(0, ...values);
    const max = peak > 0 ? peak : 1;
    const last = values.length ? values[values.length - 1] : 0;
    const fmt = (v) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(2));
    const x = (i) => pad + (values.length > 1 ? (i * (W - 2 * pad)) / (values.length - 1) : 0);
    const y = (v) => H - pad - (v / max) * (H - 2 * pad);
    const pts = values.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' ');
    const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title + ': latest ' + fmt(last) + ' ' + unit },
      s('line', { class: 'grid', x1: pad, y1: H - pad, x2: W - pad, y2: H - pad }),
      s('line', { class: 'grid', x1: pad, y1: pad, x2: W - pad, y2: pad }),
      s('text', { x: 2, y: pad + 3 }, fmt(max)),
      s('text', { x: 2, y: H - pad + 3 }, '0'),
      values.length > 1 ? s('polygon', { class: 'area', points: x(0) + ',' + (H - pad) + ' ' + pts + ' ' + x(values.length - 1) + ',' + (H - pad) }) : null,
      values.length ? s('polyline', { class: 'series', points: pts }) : null);
    return h('figure', { class: 'chart', id: id || null },
      h('figcaption', {}, h('span', {}, title), h('span', {}, 'latest ' + fmt(last) + ' ' + unit)), svg);
  }

  async function viewNode(out) {
    const token = view.token;
    out.append(h('h1', {}, 'Node'));
    const facts = h('div', { id: 'node-facts' });
    const charts = h('div', { class: 'charts', id: 'node-charts' });
    const peers = h('div', { id: 'node-peers' });
    out.append(facts, h('h2', {}, 'Over time'), h('p', { class: 'meta' }, 'One sample per block this node adopted since it started (the last 300).'),
      charts, h('h2', {}, 'Peers'), peers);

    async function refresh() {
      const [st, hist, peerList] = await Promise.all([
        rpc('status'), rpc('getMetricsHistory', [{ limit: 300 }]), rpc('getPeers').catch(() => []),
      ]);
      if (!current(token)) return;
      facts.replaceChildren(h('div', { class: 'cards' },
        card('Role', st.role || '—'),
        card('Consensus', st.chainId.consensus),
        card('Head', blockLink(st.height)),
        card('Last irreversible', st.lib ? blockLink(st.lib.height) : '—'),
        card('Sync', st.sync ? (st.sync.syncing ? 'syncing to ' + st.sync.target : 'at the tip') : '—', 'node-sync'),
        card('Pool', st.pool.txs + ' tx, ' + st.pool.bytes + ' bytes', 'node-pool'),
        card('Peers', String(peerList.length)),
        card('Peer id', h('span', { class: 'mono' }, short(st.peerId || '—', 8)))));
      const s = hist.samples;
      const tps = s.map((m) => (m.intervalMs > 0 ? (m.txs * 1000) / m.intervalMs : 0));
      charts.replaceChildren(
        chart('Block time', s.map((m) => m.intervalMs), 'ms', 'chart-block-time'),
        chart('Transactions per second', tps, 'tx/s', 'chart-tps'),
        chart('Pool size', s.map((m) => m.poolTxs), 'tx', 'chart-pool'),
        chart('Finality lag', s.map((m) => m.finalityLag), 'blocks', 'chart-lag'));
      peers.replaceChildren(peerList.length
        ? table([
          { label: 'Peer id', cell: (p) => h('span', { class: 'mono' }, short(p.peerId, 10)) },
          { label: 'Address', cell: (p) => h('span', { class: 'mono' }, p.address || '—') },
          { label: 'Height', num: true, cell: (p) => String(p.height) },
          { label: 'LIB', num: true, cell: (p) => String(p.lib) },
        ], peerList, { caption: 'Connected peers' })
        : h('p', { class: 'note' }, 'No peers connected.'));
    }
    await refresh();
    every(2000, () => refresh().catch(() => {}));
  }

  // ------------------------------------------------------------ branches

  async function viewBranches(out, parts, query) {
    out.append(h('h1', {}, 'Branches'));
    out.append(h('p', { class: 'note' },
      'Branches, tags, merges and repositories of the chain are not built yet: this chain has one line of blocks, main. ' +
      'What exists already is the row-level diff between any two blocks, below.'));
    const from = h('input', { id: 'diff-from', size: '12', placeholder: 'height or hash', spellcheck: 'false' });
    const to = h('input', { id: 'diff-to', size: '12', placeholder: 'height or hash', spellcheck: 'false' });
    const tbl = h('input', { id: 'diff-table', size: '16', placeholder: 'all tables', spellcheck: 'false' });
    from.value = query.get('from') || '0';
    to.value = query.get('to') || (live.status ? String(live.status.height) : '');
    const result = h('div', { id: 'diff-result', 'aria-live': 'polite' });
    const side = (v) => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : v.trim());
    const go = h('button', { type: 'button', class: 'primary', id: 'diff-run' }, 'Diff');
    go.addEventListener('click', async () => {
      go.disabled = true;
      result.replaceChildren(h('p', { class: 'meta' }, 'Comparing…'));
      try {
        const opts = {};
        if (tbl.value.trim()) opts.table = tbl.value.trim();
        const d = await rpc('diff', [side(from.value), side(to.value), opts]);
        const sections = d.relations.map((r) => [
          h('h2', {}, r.kind + ' ' + r.name + ' (' + r.change + ')'),
          r.rows && r.rows.length
            ? table([
              { label: 'Key', cell: (x) => h('code', {}, JSON.stringify(x.key)) },
              { label: 'Before', cell: (x) => (x.old === null ? h('span', { class: 'null' }, 'absent') : h('code', {}, JSON.stringify(x.old))) },
              { label: 'After', cell: (x) => (x.new === null ? h('span', { class: 'null' }, 'absent') : h('code', {}, JSON.stringify(x.new))) },
            ], r.rows, { caption: 'Changed rows of ' + r.name })
            : null,
        ]);
        result.replaceChildren(h('p', { class: 'meta' }, d.relations.length + ' relations changed' + (d.truncated ? ' (truncated at the row cap)' : '')), ...sections.flat().filter(Boolean));
      } catch (e) {
        result.replaceChildren(errorBox(e));
      } finally {
        go.disabled = false;
      }
    });
    out.append(h('div', { class: 'row' }, h('label', {}, 'From', from), h('label', {}, 'To', to), h('label', {}, 'Table', tbl), go), result);
  }

  // ---------------------------------------------------------------- start

  document.getElementById('search').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.getElementById('search-input');
    const target = '#/search/' + encodeURIComponent(input.value);
    if (location.hash === target) route();
    else location.hash = target;
  });
  window.addEventListener('hashchange', route);
  refreshStatus();
  setInterval(refreshStatus, 5000);
  connectBlocks();
  route();
}());
