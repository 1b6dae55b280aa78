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

  /**
   * Several calls in one JSON-RPC batch (one request, run one after another
   * by the node, so a page costs the node one request in flight): the
   * results in order, `null` for a call that failed. At most 100 calls,
   * the node's batch limit.
   */
  async function rpcBatch(calls) {
    if (calls.length === 0) return [];
    const first = rpcId + 1;
    const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: ++rpcId, method, params: params || [] }));
    const res = await fetch('/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const answers = await res.json();
    if (!Array.isArray(answers)) throw new RpcFailure(answers.error ? answers.error.code : res.status,
      answers.error ? answers.error.message : 'the node answered a batch with something else');
    const out = calls.map(() => null);
    for (const a of answers) if (a && a.result !== undefined && a.id - first >= 0 && a.id - first < out.length) out[a.id - first] = a.result;
    return out;
  }

  /** The latest `count` blocks below and at `head`, newest first (summaries). */
  async function latestBlocks(head, count) {
    const n = Math.max(0, Math.min(count, head + 1, 100));
    const blocks = await rpcBatch(Array.from({ length: n }, (_, i) => ['getBlock', [head - i]]));
    return blocks.filter(isBlock);
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

  // Bidirectional-text controls in chain data (contract source, rows,
  // event arguments) could make displayed text read differently from what
  // it is ("Trojan Source"): they are shown as visible escapes.
  const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;
  const visible = (t) => t.replace(BIDI, (c) => '\\u{' + c.codePointAt(0).toString(16) + '}');

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else el.append(c instanceof Node ? c : document.createTextNode(visible(String(c))));
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
    const good = ['SUCCESS', 'CREATED', 'RECREATED', 'committed'].includes(status);
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
  // The current view's context: `alive` until the next route replaces it;
  // its polls and its live-block handler stop with it. A view captures its
  // own context, so a view still loading when the user moves on can never
  // touch the next one.
  let view = { token: 0, alive: false, timers: [], onBlock: null };

  /** Runs `fn` every `ms` (after the previous run ends) while `ctx` lives. */
  function every(ctx, ms, fn) {
    // One handle per poll, holding its next timeout (a long-lived page
    // must not collect an id per tick).
    const handle = { id: null };
    ctx.timers.push(handle);
    const tick = async () => {
      if (!ctx.alive) return;
      try {
        await fn();
      } catch (e) {
        // A failed poll is retried at the next tick; the view shows the
        // last good figures.
      }
      if (ctx.alive) handle.id = setTimeout(tick, ms);
    };
    handle.id = setTimeout(tick, ms);
  }

  function decode(part) {
    try {
      return decodeURIComponent(part);
    } catch (e) {
      return part;
    }
  }

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [path, query] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map(decode);
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

  let routed = false;

  async function route() {
    // Only `#/...` is a route: other fragments are in-page targets.
    if (location.hash !== '' && !location.hash.startsWith('#/')) return;
    view.alive = false;
    for (const t of view.timers) clearTimeout(t.id);
    const ctx = { token: view.token + 1, alive: true, timers: [], onBlock: null };
    view = ctx;
    const out = h('div', {});
    main.replaceChildren(h('p', { class: 'meta' }, 'Loading…'));
    let name = '';
    try {
      const { parts, query } = parseHash();
      name = parts[0] || '';
      out.dataset.view = name || 'home';
      for (const a of document.querySelectorAll('nav a')) {
        if (a.dataset.section === sectionOf[name]) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
      const fn = Object.prototype.hasOwnProperty.call(routes, name) ? routes[name] : null;
      if (!fn) throw new Error('No page here: ' + short(location.hash, 24) + '. Use the sections above or search.');
      await fn(out, parts.slice(1), query, ctx);
    } catch (e) {
      out.append(errorBox(e));
    }
    if (!ctx.alive) return; // another view started meanwhile
    main.replaceChildren(out);
    const title = out.querySelector('h1');
    document.title = (title ? title.textContent + ' · ' : '') + 'AERGO Hub';
    out.dataset.ready = 'true';
    // After a navigation, focus the new content (screen readers announce
    // it); not on the first load, where Tab must reach the skip link.
    if (routed) main.focus({ preventScroll: true });
    routed = true;
  }

  // -------------------------------------------------------- live blocks

  // `lastBlock`: height of the newest block the subscription brought.
  const live = { status: null, socket: null, state: 'connecting', retryMs: 500, lastBlock: -1 };

  /** A block summary as the `blocks` subscription sends it. */
  const isBlock = (b) => b && Number.isInteger(b.height) && typeof b.hash === 'string' && Array.isArray(b.txs);

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
    // The server ends a subscription that falls behind while the socket
    // may stay open: if the head moved well past the last block it sent,
    // subscribe again on a new socket.
    if (live.status && live.state === 'live' && live.lastBlock >= 0 && live.status.height > live.lastBlock + 3 && live.socket) {
      live.socket.close();
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
        live.lastBlock = live.status ? live.status.height : -1;
        renderStatusBar();
      }
      if (msg.method === 'subscription' && msg.params && msg.params.result) {
        const b = msg.params.result;
        if (!isBlock(b)) {
          // An error in place of a block (the subscriber fell behind):
          // start over.
          ws.close();
          return;
        }
        live.lastBlock = Math.max(live.lastBlock, b.height);
        if (live.status && b.height > live.status.height) {
          live.status.height = b.height;
          live.status.hash = b.hash;
        }
        renderStatusBar();
        if (view.alive && view.onBlock) view.onBlock(b);
      }
    });
    ws.addEventListener('close', () => {
      if (live.socket !== ws) return;
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

  /** A hex hash as the API reads it (`0x` first); base58 as it is. */
  const withHexPrefix = (q) => (HASH_HEX.test(q) && !q.startsWith('0x') ? '0x' + q : q);

  /** Where a search term leads, or an error saying why nowhere. */
  async function resolveSearch(term) {
    const q = term.trim();
    if (q === '') throw new Error('Type a block height, a block or transaction hash, an address or a name.');
    if (q.length > 200) throw new Error('That is too long to be a height, hash, address or name.');
    if (/^\d+$/.test(q)) return '#/block/' + q;
    if (HASH_HEX.test(q) || HASH_B58.test(q)) {
      const hash = withHexPrefix(q);
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

  async function viewHome(out, parts, query, ctx) {
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

    const recent = await latestBlocks(st.height, 20);

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

    ctx.onBlock = (b) => {
      if (!ctx.alive || recent.some((r) => r.hash === b.hash)) return;
      for (const r of recent) r.fresh = false;
      recent.unshift(Object.assign({ fresh: true }, b));
      recent.sort((a, c) => c.height - a.height);
      recent.length = Math.min(recent.length, 20);
      const head = document.getElementById('head-height');
      if (head) head.replaceChildren(blockLink(b.height));
      renderLists();
    };
    every(ctx, 3000, async () => {
      const s2 = await rpc('status').catch(() => null);
      if (!s2 || !ctx.alive) return;
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
    else if (HASH_HEX.test(which) || HASH_B58.test(which)) arg = withHexPrefix(which);
    else throw new Error('"' + short(which, 24) + '" is not a block height or hash.');
    const b = await rpcOrNull('getBlock', [arg, true]);
    if (!b) throw new Error('No block ' + which + ' on this chain' + (live.status ? ' (head is ' + live.status.height + ').' : '.'));
    out.append(h('h1', {}, 'Block ' + b.height));
    out.append(h('div', { class: 'pager' },
      b.height > 0 ? h('a', { href: '#/block/' + (b.height - 1), rel: 'prev' }, '← ' + (b.height - 1)) : null,
      !live.status || b.height < live.status.height ? h('a', { href: '#/block/' + (b.height + 1), rel: 'next' }, (b.height + 1) + ' →') : null));
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

  async function viewTx(out, parts, query, ctx) {
    const hash = parts[0] || '';
    if (!(HASH_HEX.test(hash) || HASH_B58.test(hash))) throw new Error('"' + short(hash, 24) + '" is not a transaction hash.');
    const tx = await rpcOrNull('getTx', [withHexPrefix(hash)]);
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
      every(ctx, 1000, async () => {
        const r = await rpcOrNull('getReceipt', [withHexPrefix(hash)]).catch(() => null);
        if (r && ctx.alive) route();
      });
      return;
    }
    const r = await rpc('getReceipt', [withHexPrefix(hash)]);
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
    await historyPage(box, addr, query);
  }

  async function historyPage(box, addr, query) {
    const opts = { limit: 25 };
    const before = query.get('before');
    const beforeIndex = query.get('beforeIndex');
    if (before && /^\d+$/.test(before)) opts.before = Number(before);
    if (opts.before !== undefined && beforeIndex && /^\d+$/.test(beforeIndex)) opts.beforeIndex = Number(beforeIndex);
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
      : h('p', { class: 'note' }, opts.before !== undefined ? 'No older transactions.' : 'No transactions from or to this account.'));
    if (res.next) {
      box.append(h('div', { class: 'pager' }, h('a', {
        href: '#/account/' + encodeURIComponent(addr) + '?before=' + res.next.before + '&beforeIndex=' + res.next.beforeIndex,
      }, 'Older transactions →')));
    }
    if (res.indexedFrom > 0) {
      box.append(h('p', { class: 'meta' }, 'This node keeps account histories from block ' + res.indexedFrom +
        ' on: its store predates the index, so older transactions are not listed.'));
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

  async function viewSql(out, parts, query, ctx) {
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
      // One query at a time (Ctrl+Enter while one runs does nothing), and
      // only while this view is shown: its URL is the one rewritten.
      if (run.disabled || !ctx.alive) return;
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

  async function viewProducers(out, parts, query, ctx) {
    const st = await rpc('status');
    out.append(h('h1', {}, 'Producers'));
    const libCard = card('Last irreversible', st.lib ? blockLink(st.lib.height) : '—', 'producers-lib');
    out.append(h('div', { class: 'cards' },
      card('Consensus', st.chainId.consensus),
      card('Head', blockLink(st.height), 'producers-head'),
      libCard,
      card('Finality lag', st.lib ? String(st.height - st.lib.height) + ' blocks' : '—', 'producers-lag'),
      card('This node', st.role || '—')));
    every(ctx, 2000, async () => {
      const s2 = await rpc('status').catch(() => null);
      if (!s2 || !ctx.alive) return;
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
        { label: 'Rank', num: true, cell: (p) => String(p.rank + 1) },
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
    const blocks = await latestBlocks(st.height, 50);
    const n = blocks.length;
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

  async function viewNode(out, parts, query, ctx) {
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
      if (!ctx.alive) return;
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
    every(ctx, 2000, () => refresh().catch(() => {}));
  }

  // ------------------------------------------------------------ branches

  /** The branch graph: main as one line, each branch a lane leaving it at
   *  its fork height and running to the block that last changed it. */
  function branchGraph(list, head) {
    const lanes = list.filter((b) => b.base !== null);
    const W = 640;
    const laneH = 26;
    const pad = 24;
    const H = pad * 2 + laneH * (lanes.length + 1);
    const x = (height) => pad + (head > 0 ? (Math.min(height, head) * (W - 2 * pad)) / head : 0);
    const y = (i) => pad + laneH * i;
    const row = new Map([['main', 0]]);
    lanes.forEach((b, i) => row.set(b.name, i + 1));
    const parts = [
      s('line', { class: 'lane main', x1: x(0), y1: y(0), x2: x(head), y2: y(0) }),
      s('text', { x: x(head) + 4, y: y(0) + 4 }, 'main'),
    ];
    for (const b of lanes) {
      const r = row.get(b.name);
      const from = row.has(b.base) ? row.get(b.base) : 0;
      parts.push(
        s('line', { class: 'lane fork', x1: x(b.forkHeight), y1: y(from), x2: x(b.createdHeight), y2: y(r) }),
        s('line', { class: 'lane', x1: x(b.createdHeight), y1: y(r), x2: x(b.headHeight), y2: y(r) }),
        s('circle', { class: 'fork-point', cx: x(b.forkHeight), cy: y(from), r: 3.5 }),
        s('circle', { class: 'head-point', cx: x(b.headHeight), cy: y(r), r: 3.5 }),
        s('text', { x: x(b.headHeight) + 6, y: y(r) + 4 }, b.name + (b.mergedSeq > 0 ? ' (merged ' + b.mergedSeq + ')' : '')));
    }
    return h('figure', { class: 'chart branch-graph', id: 'branch-graph' },
      h('figcaption', {}, h('span', {}, 'Branches of the chain'), h('span', {}, 'heights 0 to ' + head)),
      s('svg', { viewBox: '0 0 ' + (W + 120) + ' ' + H, role: 'img', 'aria-label': 'main and ' + lanes.length + ' branches, by height' }, ...parts));
  }

  async function viewBranches(out, parts, query) {
    out.append(h('h1', {}, 'Branches'));
    const listing = h('div', { id: 'branch-list', 'aria-live': 'polite' });
    out.append(listing);
    try {
      const [bl, tl] = await Promise.all([rpc('listBranches'), rpc('listTags')]);
      listing.append(branchGraph(bl.branches, bl.height),
        table([
          { label: 'Branch', cell: (b) => h('code', {}, b.name) },
          { label: 'From', cell: (b) => (b.base === null ? '—' : b.base + '@' + b.forkHeight) },
          { label: 'Creator', cell: (b) => (b.creator ? accountLink(b.creator) : 'the chain') },
          { label: 'Transactions', num: true, cell: (b) => (b.txs === undefined ? '—' : String(b.txs)) },
          { label: 'Last changed', num: true, cell: (b) => blockLink(b.headHeight) },
          { label: 'Merges', cell: (b) => b.mergePolicy },
        ], bl.branches, { id: 'branches-table', caption: 'Branches' }),
        h('h2', {}, 'Tags'),
        tl.tags.length
          ? table([
            { label: 'Tag', cell: (t) => h('code', {}, t.name) },
            { label: 'Names', cell: (t) => t.branch + '@' + t.height },
            { label: 'Created at', num: true, cell: (t) => blockLink(t.createdHeight) },
          ], tl.tags, { id: 'tags-table', caption: 'Tags' })
          : h('p', { class: 'meta' }, 'No tags yet (aergo tag create NAME --branch B --at HEIGHT).'));
    } catch (e) {
      listing.append(errorBox(e));
    }
    out.append(h('h2', {}, 'Diff'), h('p', { class: 'meta' },
      'Row-level differences between any two snapshots: a height, a block hash, a branch, branch@height or a tag.'));
    const from = h('input', { id: 'diff-from', size: '12', placeholder: 'height, branch or tag', spellcheck: 'false' });
    const to = h('input', { id: 'diff-to', size: '12', placeholder: 'height, branch or tag', spellcheck: 'false' });
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

  document.querySelector('.skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  document.getElementById('search').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.getElementById('search-input');
    const target = '#/search/' + encodeURIComponent(input.value);
    if (location.hash === target) route();
    else location.hash = target;
  });
  window.addEventListener('hashchange', route);
  const pollStatus = async () => {
    await refreshStatus();
    setTimeout(pollStatus, 5000);
  };
  pollStatus();
  connectBlocks();
  route();
}());
