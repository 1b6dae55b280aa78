// Drives the web console in headless Chromium (Debian's, through
// playwright-core) against a real node, and checks what a user sees.
// Run by crates/cli/tests/console.rs, which starts the node, sends the
// transactions and passes what it expects as one JSON argument:
//
//   node console-e2e.js '{"chromium", "url", "shots", "tx", "txHeight",
//     "account", "contract", "h1", "rows1", "h2", "rows2"}'
//
// Any JavaScript error in the page (an exception, or an error on its
// console, which includes Content-Security-Policy violations) fails the
// run. Screenshots of every page go to `shots`. Prints CONSOLE OK last.
'use strict';

const { check, withPage } = require('./page.js');

const cfg = JSON.parse(process.argv[2]);

withPage(cfg, async ({ page, open, shot, errors, external }) => {
  async function alertText() {
    return page.textContent('main [role="alert"]');
  }
  async function tableRows(selector) {
    return page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  }

  // Explorer: the head, and a new block arriving over the WebSocket.
  const resp = await page.goto(cfg.url + '/');
  check(resp.status() === 200, 'GET / is 200');
  const csp = resp.headers()['content-security-policy'] || '';
  check(csp.startsWith("default-src 'none'"), 'a strict CSP: ' + csp);
  await page.waitForSelector('main > [data-view="home"][data-ready="true"]');
  await page.waitForSelector('.status-bar .live');
  const first = Number(await page.getAttribute('#recent-blocks tbody tr:first-child', 'data-key'));
  check(first >= cfg.txHeight, `the latest block ${first} is at or above the tx's ${cfg.txHeight}`);
  await page.waitForFunction((h) => {
    const tr = document.querySelector('#recent-blocks tbody tr:first-child');
    return tr && Number(tr.dataset.key) > h && tr.classList.contains('fresh');
  }, first);
  const head = Number(await page.getAttribute('#recent-blocks tbody tr:first-child', 'data-key'));
  console.log(`live block: ${first} -> ${head}`);
  await shot('explorer');

  // A transaction sent during the test, with its receipt.
  await open('#/tx/' + cfg.tx, 'tx');
  check((await page.textContent('#receipt-status')).includes('SUCCESS'), 'the receipt says SUCCESS');
  check((await page.textContent('main')).includes(cfg.tx), 'the page shows the tx hash');
  await shot('transaction');

  // Its block lists it; the account lists it in its history.
  await open('#/block/' + cfg.txHeight, 'block');
  check((await page.textContent('#block-txs')).length > 0, 'the block has a transaction table');
  check((await page.$(`#block-txs a[href="#/tx/${cfg.tx}"]`)) !== null, 'the block links the tx');
  await shot('block');
  await open('#/account/' + cfg.account, 'account');
  check((await page.$(`#account-history a[href="#/tx/${cfg.tx}"]`)) !== null, 'the account history links the tx');
  check((await page.textContent('#account-balance')).includes('aergo'), 'the balance is shown');
  await shot('account');

  // The whitepaper contract: source, tables.
  await open('#/account/' + cfg.contract, 'account');
  check((await page.textContent('#contract-source')).includes('transfer'), 'the contract source is shown');
  check((await page.textContent('#contract-tables')).includes('accounts'), 'the contract tables are listed');
  await shot('contract');

  // SQL at two heights: two answers.
  const q = encodeURIComponent('SELECT * FROM accounts ORDER BY owner');
  await open(`#/sql?q=${q}&contract=${cfg.contract}&height=${cfg.h1}`, 'sql');
  await page.waitForSelector('#sql-table');
  const rows1 = await tableRows('#sql-table');
  check(JSON.stringify(rows1) === JSON.stringify(cfg.rows1), `rows at ${cfg.h1}: ${JSON.stringify(rows1)}`);
  await page.fill('#sql-height', String(cfg.h2));
  await page.click('#sql-run');
  await page.waitForFunction((h) => ((document.querySelector('#sql-meta') || {}).textContent || '').endsWith('height ' + h), cfg.h2);
  const rows2 = await tableRows('#sql-table');
  check(JSON.stringify(rows2) === JSON.stringify(cfg.rows2), `rows at ${cfg.h2}: ${JSON.stringify(rows2)}`);
  await shot('sql');

  // \d browsing: the list, then one table described.
  await page.fill('#sql-text', '\\d');
  await page.click('#sql-run');
  await page.waitForFunction(() => ((document.querySelector('#sql-meta') || {}).textContent || '').includes('relations'));
  await page.fill('#sql-text', '\\d accounts');
  await page.click('#sql-run');
  await page.waitForFunction(() => ((document.querySelector('#sql-detail') || {}).textContent || '').includes('balance'));

  // Bad input: clear messages in the page.
  await page.fill('#sql-height', '');
  await page.fill('#sql-text', 'CREATE TABLE hacked (a INT)');
  await page.click('#sql-run');
  await page.waitForSelector('#sql-result [role="alert"]');
  check((await page.textContent('#sql-result')).includes('read-only'), 'DDL is refused as read-only');
  await page.fill('#sql-text',
    'SELECT a.address, b.address FROM sys.accounts a, sys.accounts b');
  await page.click('#sql-run');
  await page.waitForFunction(() => /limit of \d+/.test((document.querySelector('#sql-result [role="alert"]') || {}).textContent || ''));
  console.log('row cap: ' + (await page.textContent('#sql-result')));
  await shot('sql-error');

  async function search(term) {
    await page.fill('#search-input', term);
    await page.press('#search-input', 'Enter');
  }
  await search('zz!!<script>');
  await page.waitForSelector('main > [data-view="search"][data-ready="true"] [role="alert"]');
  check((await alertText()).includes('is not a block height'), 'a malformed search term is explained');
  check((await page.$('main script')) === null, 'the term is text, not markup');
  await search('0x' + '11'.repeat(32));
  await page.waitForFunction(() => /No block and no transaction/.test((document.querySelector('main [role="alert"]') || {}).textContent || ''));
  await open('#/block/99999999', 'block');
  check((await alertText()).includes('No block 99999999'), 'an unknown height is explained');
  await open('#/tx/nothex', 'tx');
  check((await alertText()).includes('is not a transaction hash'), 'a malformed hash is explained');

  // A broken escape in the address bar is a message, not a stuck page.
await open('#/account/%E0%A4%A', 'account');
check((await alertText()).length > 0, 'a malformed route is explained');

// Keyboard: the skip link moves focus to the content and stays on the page.
await page.goto(cfg.url + '/?fresh=1#/block/' + cfg.txHeight); // a new document, not a fragment change
await page.waitForSelector('main > [data-view="block"][data-ready="true"]');
await page.keyboard.press('Tab');
check(await page.evaluate(() => document.activeElement.classList.contains('skip')), 'Tab reaches the skip link first');
await page.keyboard.press('Enter');
check(await page.evaluate(() => document.activeElement.id === 'main'), 'the skip link focuses the content');
check((await page.textContent('main h1')) === 'Block ' + cfg.txHeight, 'and the page stays');

// Keyboard: search by typing a height and pressing Enter.
  // (From another page, so that the block page seen is the one searched.)
  await open('#/producers', 'producers');
  await page.fill('#search-input', '');
  await page.focus('#search-input');
  await page.keyboard.type(String(cfg.txHeight));
  await page.keyboard.press('Enter');
  await page.waitForFunction((h) => {
    const title = document.querySelector('main > [data-view="block"][data-ready="true"] h1');
    return title && title.textContent === 'Block ' + h;
  }, cfg.txHeight);

  // Producers, node (charts), branches (the diff).
  await open('#/producers', 'producers');
  check((await tableRows('#producers-recent')).length >= 1, 'who produced the latest blocks');
  check((await tableRows('#params-table')).length >= 1, 'governance parameters');
  await shot('producers');
  await open('#/node', 'node');
  for (const id of ['chart-block-time', 'chart-tps', 'chart-pool', 'chart-lag']) {
    check((await page.$(`#${id} svg polyline`)) !== null, `chart ${id} has a line`);
  }
  await shot('node');
  await open(`#/branches?from=${cfg.h1}&to=${cfg.h2}`, 'branches');
  const branchRows = await tableRows('#branches-table');
  check(branchRows.length === 2 && branchRows[1][0] === 'preview', `main and the preview branch: ${JSON.stringify(branchRows)}`);
  check(branchRows[1][1] === `main@${cfg.h1}`, 'the branch says where it forked');
  check((await tableRows('#tags-table')).length === 1, 'the tag is listed');
  check((await page.$$('#branch-graph svg line.lane')).length === 3, 'main, the fork and the branch lane are drawn');
  await page.click('#diff-run');
  await page.waitForFunction(() => /relations changed/.test((document.querySelector('#diff-result') || {}).textContent || ''));
  check((await page.textContent('#diff-result')).includes('accounts'), 'the diff shows the contract table');
  await shot('branches');

  // A phone-sized screen: nothing wider than the viewport.
  await page.setViewportSize({ width: 390, height: 844 });
  await open('#/', 'home');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
  await shot('explorer-phone');

  check(external.length === 0, 'no request leaves the node: ' + external.join(', '));
  check(errors.length === 0, 'no JavaScript error: ' + errors.join(' | '));
  console.log('CONSOLE OK');
});
