// What the console's browser tests share: headless Chromium (Debian's,
// through playwright-core: no browser download), a page that records
// JavaScript errors (exceptions, console errors, which include
// Content-Security-Policy violations) and requests to other origins, and
// helpers to open a route and take a screenshot. On failure it prints the
// page's <main> and saves failure.png beside the screenshots.
'use strict';

const { chromium } = require('playwright-core');

const STEP_MS = 20000;

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

/** Runs `body({page, open, shot, errors, external})`; exits 0 or 1. */
function withPage(cfg, body) {
  (async () => {
    const browser = await chromium.launch({
      executablePath: cfg.chromium,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const errors = [];
    const external = [];
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      page.setDefaultTimeout(STEP_MS);
      page.on('pageerror', (e) => errors.push('exception: ' + e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push('console error: ' + m.text());
      });
      const ws = cfg.url.replace('http:', 'ws:');
      page.on('request', (r) => {
        if (!r.url().startsWith(cfg.url) && !r.url().startsWith(ws)) external.push(r.url());
      });
      // Opens a route and waits until its view has rendered.
      // (The shown view loses its ready mark first, so a route to a view of
      // the same kind is not taken as done before it renders.)
      const open = async (hash, view) => {
        if (page.url() === 'about:blank') await page.goto(cfg.url + '/' + hash);
        else {
          await page.evaluate((h) => {
            for (const el of document.querySelectorAll('main > [data-ready]')) el.removeAttribute('data-ready');
            location.hash = h;
          }, hash);
        }
        await page.waitForSelector(`main > [data-view="${view}"][data-ready="true"]`);
      };
      const shot = (name) => page.screenshot({ path: `${cfg.shots}/${name}.png` });
      await body({ page, open, shot, errors, external });
    } catch (e) {
      const main = await page.evaluate(() => document.querySelector('main').outerHTML).catch(() => '?');
      console.error('at ' + page.url() + ':\n' + main.slice(0, 4000));
      await page.screenshot({ path: `${cfg.shots}/failure.png` }).catch(() => {});
      if (errors.length) console.error('page errors: ' + errors.join(' | '));
      throw e;
    } finally {
      await browser.close();
    }
  })().then(() => process.exit(0), (e) => { console.error(e.stack || String(e)); process.exit(1); });
}

module.exports = { check, withPage };
