// Opens a report page from file:// in headless Chromium at a desktop and a
// phone width, and prints, as one JSON line, what tests/report.rs asserts
// on: console errors, requests that left file://, and per width whether the
// page scrolls sideways (document scrollWidth over innerWidth), which key
// elements are visible, and where its full-page screenshot went; at the
// desktop width it also saves the top of the page as a viewport screenshot
// (top-1280.png), which the test copies to docs/images/report.png.
//
//   node check.mjs /abs/path/index.html /abs/path/shots-dir
import { chromium } from 'playwright-core';

const [, , html, shots] = process.argv;
const WIDTHS = [1280, 390];
const SELECTORS = ['#verdict', '#recommendation', '#query-table', '#medians-chart', '.tree .node'];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
const errors = [];
const external = [];
const widths = {};
for (const width of WIDTHS) {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith('file://')) external.push(r.url()); });
  await page.goto('file://' + html, { waitUntil: 'load' });
  const visible = {};
  for (const sel of SELECTORS) {
    visible[sel] = await page.locator(sel).first().isVisible();
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const png = `${shots}/page-${width}.png`;
  await page.screenshot({ path: png, fullPage: true });
  widths[width] = { overflow, visible, png };
  if (width === 1280) {
    await page.evaluate(() => window.scrollTo(0, 0));
    widths[width].top = `${shots}/top-${width}.png`;
    await page.screenshot({ path: widths[width].top, fullPage: false });
  }
  await page.close();
}
console.log(JSON.stringify({ errors, external, widths }));
await browser.close();
