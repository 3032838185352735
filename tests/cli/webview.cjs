// The live web view in headless Chromium (driven by playwright-core, Debian's
// /usr/bin/chromium; nothing is downloaded). Against a running
// pipelines/clickstream_top10.yaml: the operator graph appears, its numbers
// change, the top-10 chart of the preview sink fills in, the page fetches
// nothing from another host; saves a full-page screenshot.
// Usage: node webview.cjs URL SCREENSHOT.png   (NODE_PATH="$(npm root -g)")
'use strict';
const { chromium } = require('playwright-core');

const [url, shot] = process.argv.slice(2);
if (!url || !shot) {
  console.error('usage: node webview.cjs URL SCREENSHOT.png');
  process.exit(2);
}
const base = new URL(url);
const NODES = ['clicks', 'page_counts', 'screen'];
const SOURCE = 'clicks';
const SINK = 'screen';

function fail(msg) { throw new Error(msg); }

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const foreign = [], pageErrors = [], consoleErrors = [];
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('request', req => {
      const u = new URL(req.url());
      if (u.protocol === 'data:' || u.protocol === 'blob:') return;
      if (u.host !== base.host) foreign.push(req.url());
    });
    page.on('pageerror', err => pageErrors.push(String(err && err.stack || err)));
    page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });

    const resp = await page.goto(url, { waitUntil: 'load', timeout: 15000 });
    if (!resp || !resp.ok()) fail(`GET ${url}: ${resp ? 'HTTP ' + resp.status() : 'no response'}`);

    // 1. The graph shows the three operators.
    await page.waitForFunction(names => names.every(n => document.querySelector(`#graph g.node[data-name="${n}"]`)),
      NODES, { timeout: 20000 }).catch(async () => {
      const seen = await page.$$eval('#graph g.node', gs => gs.map(g => g.getAttribute('data-name')));
      fail(`the graph did not show nodes ${NODES.join(', ')} within 20 s (it shows: ${seen.join(', ') || 'nothing'})`);
    });
    const pipeline = (await page.textContent('#pipeline-name')).trim();
    if (pipeline !== 'clickstream-top10') fail(`pipeline name shown is "${pipeline}", expected clickstream-top10`);

    // 2. Numbers appear: wait for a status to be applied (the source's records_out is a number).
    const sourceOut = `#graph g.node[data-name="${SOURCE}"]`;
    await page.waitForFunction(sel => {
      const g = document.querySelector(sel);
      return g && /^\d+$/.test(g.getAttribute('data-records-out') || '') && document.querySelectorAll('#graph .edge-rate').length > 0;
    }, sourceOut, { timeout: 10000 }).catch(() => fail('no status numbers on the graph within 10 s'));
    const readNumbers = () => page.evaluate(sel => {
      const g = document.querySelector(sel);
      return {
        edges: [...document.querySelectorAll('#graph text.edge-rate')].map(t => ({
          from: t.getAttribute('data-from'), to: t.getAttribute('data-to'), text: t.textContent.trim(),
        })),
        sourceOutText: g.querySelector('.node-out-aside').textContent.trim(),
        sourceRateText: g.querySelector('.node-out').textContent.trim(),
        sourceOut: Number(g.getAttribute('data-records-out')),
        updated: document.getElementById('updated').textContent.trim(),
      };
    }, sourceOut);
    const before = await readNumbers();
    if (before.edges.length < 2) fail(`expected an edge rate on each of the 2 edges, found ${before.edges.length}`);
    // Rates are over the last second and records come from Kafka in batches, so
    // one reading may be 0/s: read them every 250 ms, for 3 s and until one is
    // above 0 (at most 15 s).
    const rateValue = t => { const m = /^([\d.]+)([kM]?)\/s$/.exec(t); return m ? Number(m[1]) * ({ k: 1e3, M: 1e6 }[m[2]] || 1) : NaN; };
    const seenRates = new Set();
    let maxRate = 0;
    const t0 = Date.now();
    for (;;) {
      const x = await readNumbers();
      for (const e of x.edges) { seenRates.add(e.text); maxRate = Math.max(maxRate, rateValue(e.text) || 0); }
      const elapsed = Date.now() - t0;
      if ((elapsed >= 3000 && maxRate > 0) || elapsed >= 15000) break;
      await page.waitForTimeout(250);
    }
    const after = await readNumbers();
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const snap = x => JSON.stringify([x.edges.map(e => e.text), x.sourceOutText]);
    if (snap(before) === snap(after)) fail(`the numbers did not change in ${secs} s: ${snap(after)}`);
    if (!(after.sourceOut > before.sourceOut)) fail(`records out of ${SOURCE} did not grow in ${secs} s: ${before.sourceOut} → ${after.sourceOut}`);
    if (!(after.sourceOut > 0)) fail(`records out of ${SOURCE} is ${after.sourceOut}`);
    if (!(maxRate > 0)) fail(`no edge showed a rate > 0 in ${secs} s (readings: ${[...seenRates].join(', ')})`);
    if (!after.updated.startsWith('updated')) fail(`#updated says "${after.updated}"`);
    if (!(await page.$('#checkpoints'))) fail('no #checkpoints section');

    // 3. The preview sink's chart: the first window closes ~7-8 s after the start.
    const chart = `.preview-chart[data-sink="${SINK}"]`;
    await page.waitForFunction(sel => {
      const c = document.querySelector(sel);
      if (!c) return false;
      const cap = c.querySelector('.preview-caption');
      return c.querySelectorAll('rect.bar').length >= 5 && cap && /^window \d\d:\d\d:\d\d – \d\d:\d\d:\d\d/.test(cap.textContent);
    }, chart, { timeout: 30000 }).catch(async () => {
      const info = await page.evaluate(sel => {
        const c = document.querySelector(sel);
        return c ? `${c.querySelectorAll('rect.bar').length} bars, caption "${(c.querySelector('.preview-caption') || {}).textContent}"` : 'no chart element';
      }, chart);
      fail(`the preview chart of "${SINK}" did not get 5 bars and a window caption within 30 s (${info})`);
    });
    const bars = await page.$$eval(`${chart} rect.bar`, rs => rs.map(r => ({ label: r.getAttribute('data-label'), value: Number(r.getAttribute('data-value')) })));
    const caption = (await page.textContent(`${chart} .preview-caption`)).trim();
    for (let i = 1; i < bars.length; i++) {
      if (bars[i].value > bars[i - 1].value) fail(`bars not sorted descending: ${JSON.stringify(bars)}`);
    }
    if (!bars.every(b => b.label && b.label.startsWith('/') && b.value > 0)) fail(`bars are not pages with clicks: ${JSON.stringify(bars)}`);
    const tableRows = await page.$$eval(`${chart} table tbody tr`, trs => trs.length);
    if (tableRows !== bars.length) fail(`the table under the chart has ${tableRows} rows for ${bars.length} bars`);

    // 4. Nothing fetched from another host, no script errors.
    if (foreign.length) fail(`the page requested other hosts: ${foreign.join(', ')}`);
    if (pageErrors.length) fail(`script errors on the page:\n${pageErrors.join('\n')}`);

    await page.screenshot({ path: shot, fullPage: true });
    console.log(`webview: pipeline ${pipeline}, nodes ${NODES.join(', ')}`);
    console.log(`webview: edges ${after.edges.map(e => `${e.from}→${e.to} ${e.text}`).join(', ')}; ` +
      `${SOURCE} out ${before.sourceOut} → ${after.sourceOut} in ${secs} s (${after.sourceRateText}); highest edge rate read ${maxRate}/s`);
    console.log(`webview: ${SINK} chart, ${caption}: ${bars.slice(0, 3).map(b => `${b.label} ${b.value}`).join(', ')}${bars.length > 3 ? ', …' : ''} (${bars.length} bars)`);
    if (consoleErrors.length) console.log(`webview: console errors (not fatal): ${consoleErrors.join(' | ')}`);
  } catch (e) {
    if (page) await page.screenshot({ path: shot, fullPage: true }).then(() => console.error(`webview: screenshot of the failure in ${shot}`), () => {});
    throw e;
  } finally {
    await browser.close();
  }
})().catch(e => {
  console.error('webview: FAIL: ' + (e && e.message || e));
  process.exit(1);
});
