// The console's producers page on a DPoS network (run by
// crates/cli/tests/horde.rs): the schedule lists every producer with its
// rating, and the LIB shown advances while the page is open.
//
//   node console-producers.js '{"chromium", "url", "shots", "producers"}'
'use strict';

const { check, withPage } = require('./page.js');

const cfg = JSON.parse(process.argv[2]);

withPage(cfg, async ({ page, open, shot, errors, external }) => {
  await open('#/producers', 'producers');
  const rows = await page.$$eval('#producers-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
  check(rows.length === cfg.producers, `${cfg.producers} producers in the schedule: ${JSON.stringify(rows)}`);
  check(rows.every((r) => r.includes('%')), 'each with its rating');
  const lib = Number(await page.textContent('#producers-lib'));
  await page.waitForFunction((l) => Number(document.querySelector('#producers-lib').textContent) > l, lib);
  check((await page.$$('#producers-recent tbody tr')).length >= 2, 'several producers made the latest blocks');
  await shot('producers-dpos');
  check(external.length === 0, 'no request leaves the node: ' + external.join(', '));
  check(errors.length === 0, 'no JavaScript error: ' + errors.join(' | '));
  console.log('PRODUCERS OK');
});
