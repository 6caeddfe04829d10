// Opens a report page from file:// in headless Chromium and prints, as one
// JSON line, what tests/report.rs asserts on: console errors, requests that
// left file://, which key elements are visible, and where the full-page
// screenshot went.
//
//   node check.mjs /abs/path/index.html /abs/path/shot.png
import { chromium } from 'playwright-core';

const [, , html, png] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors = [];
const external = [];
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));
page.on('request', (r) => { if (!r.url().startsWith('file://')) external.push(r.url()); });
await page.goto('file://' + html, { waitUntil: 'load' });
const visible = {};
for (const sel of ['#verdict', '#query-table', '.tree .node']) {
  visible[sel] = await page.locator(sel).first().isVisible();
}
await page.screenshot({ path: png, fullPage: true });
const narrow = await browser.newPage({ viewport: { width: 380, height: 800 } });
await narrow.goto('file://' + html, { waitUntil: 'load' });
const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
console.log(JSON.stringify({ errors, external, visible, narrowOverflow: overflow }));
await browser.close();
