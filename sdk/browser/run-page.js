// Opens a page in headless Chromium (Debian's, through playwright-core:
// no browser download) and prints the text of #out once it reports
// BROWSER OK or BROWSER FAILED, in real time (WebSocket calls make
// Chromium's --dump-dom with virtual time unreliable).
//
// Usage: node run-page.js CHROMIUM URL [TIMEOUT_MS]
'use strict';

const { chromium } = require('playwright-core');

async function main() {
  const [executablePath, url, timeoutArg] = process.argv.slice(2);
  const timeout = Number(timeoutArg || 30000);
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.error('console:', m.text()));
    await page.goto(url);
    await page.waitForFunction(() => /^BROWSER (OK|FAILED)/.test(document.getElementById('out').textContent), null,
      { timeout });
    console.log(await page.textContent('#out'));
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
