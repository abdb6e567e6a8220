// Browser test of the example site (ctest: site_browser, label browser).
//
// Starts the real localbench-collector (embedded PostgreSQL in a fresh /tmp
// folder, gRPC and HTTP on port 0, --site-dir the built pages), opens the
// pages in Debian's Chromium through puppeteer-core and checks what a person
// sees: first on the empty database, then after a real agent run on the CPU
// (tiny-llama prefill with a memory limit that puts the OOM bracket at 6/7)
// and localbench_site_fixture (three generated GPU models) have filled it.
// Every expected figure is read from the JSON API of the same collector, so
// the pages are checked against the tables, not against numbers copied here.
// Screenshots of each page go to $LB_ARTEFACTS.
//
// Environment (set by tests/browser/CMakeLists.txt): LB_COLLECTOR, LB_AGENT,
// LB_FIXTURE, LB_SITE_DIR, LB_CHROMIUM, LB_ARTEFACTS, NODE_PATH (the site's
// node_modules, for puppeteer-core).
'use strict';

const assert = require('node:assert/strict');
const {spawn, execFileSync} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const puppeteer = require('puppeteer-core');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest)`);
  return v;
};
const COLLECTOR = env('LB_COLLECTOR');
const AGENT = env('LB_AGENT');
const FIXTURE = env('LB_FIXTURE');
const SITE_DIR = env('LB_SITE_DIR');
const CHROMIUM = env('LB_CHROMIUM');
const ARTEFACTS = env('LB_ARTEFACTS');
const CHART_SVG = env('LB_CHART_SVG');  // scripts/chart-svg.sh; VL2SVG names the build's vl2svg

let failures = 0;
async function check(name, fn) {
  const start = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

// Starts the collector; resolves with its gRPC and HTTP addresses once it
// prints them (its own readiness lines, no polling).
function startCollector(dataDir) {
  const child = spawn(COLLECTOR, ['--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--data-dir', dataDir,
                                  '--site-dir', SITE_DIR], {stdio: ['ignore', 'pipe', 'pipe']});
  const log = [];
  child.stderr.on('data', (d) => log.push(d.toString()));
  return new Promise((resolve, reject) => {
    let grpc = '';
    child.on('exit', (code) => reject(new Error(`collector exited (${code}):\n${log.join('')}`)));
    readline.createInterface({input: child.stdout}).on('line', (line) => {
      let m = line.match(/^localbench-collector: listening on (\S+)/);
      if (m) grpc = m[1];
      m = line.match(/^localbench-collector: http listening on (\S+)/);
      if (m) resolve({child, grpc, http: `http://${m[1]}`, log});
    });
  });
}

function stopCollector(c) {
  return new Promise((resolve) => {
    if (c.child.exitCode !== null) return resolve();
    c.child.removeAllListeners('exit');
    c.child.on('exit', () => resolve());
    c.child.kill('SIGTERM');
  });
}

async function api(base, route) {
  const res = await fetch(base + route);
  assert.equal(res.status, 200, `${route}: ${await res.clone().text()}`);
  return res.json();
}

async function open(browser, url, {width = 1100, height = 900} = {}) {
  const page = await browser.newPage();
  // Generous: a loaded 2-core CI machine parses the vega bundles slowly.
  page.setDefaultTimeout(60000);
  page.setDefaultNavigationTimeout(60000);
  await page.setViewport({width, height});
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url, {waitUntil: 'load'});
  await page.waitForFunction(() => document.body.dataset.ready === 'true', {timeout: 60000});
  page.lbErrors = errors;
  return page;
}

async function shot(page, name) {
  await page.screenshot({path: path.join(ARTEFACTS, `${name}.png`), fullPage: true});
}

// Narrows an open page to a phone's width (375 px): the page must not scroll
// sideways and every chart must fit (vega-embed resizes "container" charts).
async function checkPhoneWidth(page, name) {
  await page.setViewport({width: 375, height: 800});
  await page.waitForFunction(() => (window.lbCharts || []).every(
      ({target}) => target.querySelector('svg').getBoundingClientRect().width <= 375), {timeout: 10000})
      .catch(() => {});
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `${name}: the page is ${width} px wide on a 375 px screen`);
  for (const f of await chartFacts(page)) assert.ok(f.width <= 375, `${name}: a ${f.chart} chart is ${f.width} px wide`);
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent.trim());
const visible = (page, selector) =>
  page.$eval(selector, (e) => !e.hidden && e.getBoundingClientRect().height > 0).catch(() => false);

// Facts about the rendered charts of a page: per chart, its kind, the SVG
// marks a person sees (by mark name), and the pixel positions of rules
// against the chart's own scales.
function chartFacts(page) {
  return page.evaluate(() => (window.lbCharts || []).map(({target, view, spec}) => {
    const svg = target.querySelector('svg');
    const count = (name, tag) => svg.querySelectorAll(`g.role-mark.${name} ${tag}`).length;
    const ruleX = (name) => [...svg.querySelectorAll(`g.role-mark.${name} line`)].map(
        (l) => Number(/translate\(([-0-9.e]+)/.exec(l.getAttribute('transform'))[1]));
    const ruleY = (name) => [...svg.querySelectorAll(`g.role-mark.${name} line`)].map(
        (l) => Number(/translate\([-0-9.e]+,([-0-9.e]+)/.exec(l.getAttribute('transform'))[1]));
    const data = spec.data.values;
    const oomLayer = (spec.layer || []).find((l) => l.name === 'oom_line');
    const memoryLayer = (spec.layer || []).find((l) => l.name === 'device_memory');
    const x = oomLayer ? view.scale('x')(oomLayer.data.values[0].batch_size) : null;
    const y = memoryLayer ? view.scale('y')(memoryLayer.data.values[0].memory) : null;
    return {
      chart: spec.usermeta.chart, version: spec.usermeta.data_version, rows: data.length,
      width: svg.getBoundingClientRect().width,
      measuredPoints: count('measured_points_marks', 'path'), lines: count('throughput_marks', 'path'),
      bars: count('bars_marks', 'path'),
      oomX: ruleX('oom_line_marks'), oomExpectedX: x, oomBatch: oomLayer ? oomLayer.data.values[0].batch_size : null,
      memoryY: ruleY('device_memory_marks'), memoryExpectedY: y,
    };
  }));
}

async function main() {
  fs.mkdirSync(ARTEFACTS, {recursive: true});
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbsite-'));
  fs.chmodSync(tmp, 0o755);  // the embedded PostgreSQL runs as postgres when we are root
  const collector = await startCollector(path.join(tmp, 'collector'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless=new', '--disable-dev-shm-usage'],
  });
  const site = `${collector.http}/site`;
  try {
    // --- The empty database.
    await check('empty database: device and compare pages say so, no error', async () => {
      for (const name of ['device', 'compare']) {
        const page = await open(browser, `${site}/${name}.html`);
        assert.match(await text(page, '#status'), /database is empty/);
        assert.match(await text(page, '#version'), /^Data version 0/);
        assert.deepEqual(page.lbErrors, []);
        await shot(page, `empty-${name}`);
        await page.close();
      }
    });
    await check('unreachable API: a clear message on every page', async () => {
      // Port 9 (discard): nothing listens there on a test machine.
      const dead = 'http://127.0.0.1:9';
      for (const name of ['device.html?model=x', 'will-it-run.html', 'compare.html']) {
        const page = await open(browser, `${site}/${name}${name.includes('?') ? '&' : '?'}api=${dead}`);
        assert.match(await text(page, '#status'), /Cannot reach the localbench API at http:\/\/127\.0\.0\.1:9/);
        if (name.startsWith('device')) await shot(page, 'api-down');
        await page.close();
      }
    });

    // --- Fill it: a real agent run, then the generator.
    const state = path.join(tmp, 'agent');
    const limit = execFileSync(FIXTURE, ['--tiny-limit']).toString().trim();
    execFileSync(AGENT, ['enroll', '--collector', collector.grpc, '--insecure', '--state-dir', state]);
    execFileSync(AGENT, ['run', '--yes', '--collector', collector.grpc, '--insecure', '--state-dir', state,
                         '--device', 'cpu', '--presets', 'tiny-llama', '--workloads', 'prefill', '--precisions', 'fp32',
                         '--prompt-tokens', '16', '--max-batch', '64', '--repetitions', '2', '--memory-limit', limit],
                 {stdio: ['ignore', 'ignore', 'pipe']});
    execFileSync(FIXTURE, [collector.grpc]);
    const devices = await api(collector.http, '/v1/devices?measured_only=true');
    const latest = Number(devices.version.data_version);
    const cpu = devices.models.find((m) => m.backend === 'BACKEND_CPU');
    assert.ok(cpu, 'the agent run stored a CPU device model');
    const gpus = devices.models.filter((m) => m.backend !== 'BACKEND_CPU');
    assert.equal(gpus.length, 3, JSON.stringify(devices.models.map((m) => m.slug)));

    await check('device page (agent run): OOM table, marks per point, OOM line at the stored threshold', async () => {
      const page = await open(browser, `${site}/device.html?model=${cpu.slug}`);
      assert.equal(await text(page, '#version').then((t) => t.match(/^Data version (\d+)/)[1]), String(latest));
      const oom = await api(collector.http, `/v1/tables/oom?device_models=${cpu.slug}&as_of=${latest}`);
      assert.equal(oom.rows.length, 1);
      assert.equal(await page.$$eval('#oom-table tbody tr', (r) => r.length), oom.rows.length);
      assert.equal(oom.rows[0].largest_ok_batch.median, 6);  // the agent proved the bracket (6, 7)
      assert.equal(oom.rows[0].smallest_failed_batch.median, 7);
      // The table's numbers link the reproduce command.
      const link = await page.$eval('#oom-table a.num', (a) => ({t: a.textContent, c: a.dataset.command}));
      assert.equal(link.t, '6');
      assert.equal(link.c, oom.rows[0].reproduce_command);
      await page.click('#oom-table a.num');
      assert.equal(await text(page, '#reproduce code'), oom.rows[0].reproduce_command);

      const w = oom.rows[0].workload;
      const curve = await api(collector.http, `/v1/tables/curve?device_model=${cpu.slug}&model_preset=${w.model_preset}` +
                                              `&kind=${w.kind}&precision=${w.precision}&as_of=${latest}`);
      const facts = await chartFacts(page);
      const memory = facts.find((f) => f.chart === 'memory');
      const speed = facts.find((f) => f.chart === 'throughput');
      assert.ok(memory && speed, JSON.stringify(facts));
      assert.equal(memory.version, latest);
      assert.equal(memory.rows, curve.points.length);
      const ran = curve.points.filter((p) => p.support.machine_count > 0).length;
      assert.ok(ran >= 3 && ran < curve.points.length, `${ran} of ${curve.points.length} batches ran`);
      assert.equal(memory.measuredPoints, ran, 'one visible point per batch that ran');
      assert.equal(speed.rows, ran, 'no speed at a batch that only ran out of memory');
      assert.equal(memory.oomBatch, curve.smallest_failed_batch.median);
      assert.equal(memory.oomX.length, 1, 'one OOM line');
      assert.ok(Math.abs(memory.oomX[0] - memory.oomExpectedX) < 0.5,
                `OOM line at x=${memory.oomX[0]}, the scale puts batch ${memory.oomBatch} at ${memory.oomExpectedX}`);
      // A CPU reports its memory limit as its device memory: that is where it ran out.
      assert.equal(memory.memoryY.length, Number(cpu.memory_bytes) > 0 ? 1 : 0);
      if (memory.memoryY.length) assert.ok(Math.abs(memory.memoryY[0] - memory.memoryExpectedY) < 0.5, JSON.stringify(memory));
      // No verdicts (none written, or the route is not there yet): nothing shown, no error.
      assert.equal(await visible(page, '#verdicts'), false);
      assert.equal(await visible(page, '#status'), false);
      assert.deepEqual(page.lbErrors, []);
      await shot(page, 'device');
      await page.close();
    });

    const rtx4090 = gpus.find((m) => /4090/.test(m.name));
    await check('device page (generated GPU): device memory line at its memory, OOM line per workload; phone width', async () => {
      // Opened at a phone's width: the layout a phone gets (the marks do not depend on the width).
      const page = await open(browser, `${site}/device.html?model=${rtx4090.slug}`, {width: 375, height: 800});
      const oom = await api(collector.http, `/v1/tables/oom?device_models=${rtx4090.slug}&as_of=${latest}`);
      assert.equal(await page.$$eval('#oom-table tbody tr', (r) => r.length), oom.rows.length);
      const memories = (await chartFacts(page)).filter((f) => f.chart === 'memory');
      assert.equal(memories.length, oom.rows.length);
      for (const m of memories) {
        assert.equal(m.memoryY.length, 1);
        assert.ok(Math.abs(m.memoryY[0] - m.memoryExpectedY) < 0.5, JSON.stringify(m));
        assert.equal(m.oomX.length, 1);
        assert.ok(Math.abs(m.oomX[0] - m.oomExpectedX) < 0.5, JSON.stringify(m));
      }
      // The generator gives its three machines three drivers: one bar per stack.
      const w = oom.rows[0].workload;
      const stacks = await api(collector.http, `/v1/tables/stack?device_model=${rtx4090.slug}&model_preset=` +
                                               `${w.model_preset}&kind=${w.kind}&precision=${w.precision}&as_of=${latest}`);
      assert.equal(stacks.rows.length, 3);
      const stack = (await chartFacts(page)).find((f) => f.chart === 'stack');
      assert.ok(stack, 'a stack chart');
      assert.equal(stack.bars, stacks.rows.length);
      await checkPhoneWidth(page, 'device.html');
      await shot(page, 'phone-device');
      await page.close();
    });

    await check('verdicts: a VerdictList (the editors\' contract) is shown, stale ones marked with their reasons', async () => {
      // Renders the contract's JSON shape as /v1/verdicts will answer it. The
      // route is answered inside the browser so the rendering is checked
      // whether or not this build serves verdicts yet; everything else comes
      // from the real collector.
      const list = {
        version: {data_version: String(latest)},
        verdicts: [
          {verdict_id: 'v-1', device_model: rtx4090.slug, text: 'Fast for its price; 24 GiB caps LoRA at batch 2.',
           editor: 'Ada', written_at: '2026-11-30T10:00:00Z', written_at_version: String(latest), cited: [],
           stale: false, stale_reasons: []},
          {verdict_id: 'v-2', device_model: rtx4090.slug, workload: {model_preset: 'llama-3.2-1b', kind: 'WORKLOAD_KIND_DECODE'},
           text: 'Decode is memory bound.', editor: 'Grace', written_at: '2026-11-29T10:00:00Z', written_at_version: '1',
           cited: [], stale: true, stale_reasons: ['llama-3.2-1b decode fp16 b1: tokens/s 52.1 -> 59.4 (+14%)']},
        ],
      };
      const page = await browser.newPage();
      page.setDefaultTimeout(60000);
      await page.setViewport({width: 1100, height: 900});
      await page.setRequestInterception(true);
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/v1/verdicts') {
          r.respond({status: 200, contentType: 'application/json', headers: {'Access-Control-Allow-Origin': '*'},
                     body: JSON.stringify(list)});
        } else {
          r.continue();
        }
      });
      await page.goto(`${site}/device.html?model=${rtx4090.slug}`, {timeout: 60000});
      await page.waitForFunction(() => document.body.dataset.ready === 'true', {timeout: 60000});
      assert.equal(await visible(page, '#verdicts'), true);
      const cards = await page.$$eval('#verdicts article', (a) => a.map((e) => ({stale: e.classList.contains('stale'),
                                                                              text: e.textContent})));
      assert.equal(cards.length, 2);
      assert.match(cards[0].text, /24 GiB caps LoRA at batch 2/);
      assert.match(cards[0].text, /whole device model/);
      assert.equal(cards[1].stale, true);
      assert.match(cards[1].text, /tokens\/s 52\.1 -> 59\.4/);
      assert.equal(await visible(page, '#status'), false);
      await page.waitForFunction(() => (window.lbCharts || []).length >= 9);  // 4 workloads x 2 + stacks
      await shot(page, 'device-gpu');
      await page.close();
    });

    await check('chart-svg.sh: a chart URL rendered to SVG without a browser, with its OOM line', async () => {
      const w = 'model_preset=tiny-llama&kind=prefill&precision=fp32';
      const url = `${collector.http}/v1/charts/memory?device_model=${cpu.slug}&${w}&as_of=${latest}`;
      const out = path.join(ARTEFACTS, 'memory-chart.svg');
      fs.rmSync(out, {force: true});
      execFileSync(CHART_SVG, [url, out], {stdio: ['ignore', 'ignore', 'pipe']});
      const svg = fs.readFileSync(out, 'utf8');
      assert.match(svg, /^<svg/);
      assert.equal((svg.match(/class="mark-rule role-mark oom_line_marks"/g) || []).length, 1);
      assert.match(svg, /OOM at batch 7/);
      // A URL that is not a chart is refused before anything is fetched.
      assert.throws(() => execFileSync(CHART_SVG, [`${collector.http}/v1/tables/oom`, out], {stdio: 'ignore'}),
                    (e) => e.status === 2);
    });

    await check('will it run: the seed example (8B LoRA, 24 GiB) does not fit; batch 2 x accumulation 2; phone width', async () => {
      const q = 'memory_gib=24&model_preset=llama-3.1-8b&kind=train_lora&precision=bf16&batch_size=4&sequence_tokens=256';
      const page = await open(browser, `${site}/will-it-run.html?${q}`);
      const answer = await api(collector.http, `/v1/will-it-run?memory_bytes=${24 * 2 ** 30}&model_preset=llama-3.1-8b` +
                                               '&kind=train_lora&precision=bf16&batch_size=4&sequence_tokens=256');
      assert.equal(answer.fit, 'FIT_DOES_NOT_FIT');
      assert.equal(answer.suggested_micro_batch, 2);
      assert.equal(answer.suggested_accumulation_steps, 2);
      assert.equal(await text(page, '#fit'), 'No, it does not fit');
      assert.equal(await text(page, '#advice'), answer.advice);
      const source = await page.$eval('.figure .source', (e) => e.textContent);
      assert.equal(source, 'predicted');
      assert.match(await text(page, '#version'), new RegExp(`^Data version ${latest}`));
      await shot(page, 'will-it-run');
      await checkPhoneWidth(page, 'will-it-run.html');
      await page.close();
    });

    await check('another origin: a page from 127.0.0.1 reads the API at localhost (CORS)', async () => {
      const other = collector.http.replace('127.0.0.1', 'localhost');
      const q = 'memory_gib=24&model_preset=llama-3.1-8b&kind=train_lora&precision=bf16&batch_size=4&sequence_tokens=256';
      const page = await open(browser, `${site}/will-it-run.html?${q}&api=${encodeURIComponent(other)}`);
      assert.equal(await visible(page, '#status'), false, await text(page, '#status'));
      assert.equal(await text(page, '#fit'), 'No, it does not fit');
      await page.close();
    });

    await check('compare: three devices, one bar and one line each, fastest first; phone width', async () => {
      const slugs = gpus.map((m) => m.slug).join(',');
      const page = await open(browser, `${site}/compare.html?models=${slugs}&model_preset=llama-3.2-1b&kind=decode&batch_size=1`);
      const rows = await page.$$eval('#compare-table tbody tr td:first-child', (t) => t.map((e) => e.textContent));
      assert.equal(rows.length, 3);
      assert.match(rows[0], /4090/);  // the generator makes it the fastest
      const facts = await chartFacts(page);
      assert.equal(facts.find((f) => f.chart === 'compare').bars, 3);
      assert.equal(facts.find((f) => f.chart === 'throughput').lines, 3);
      assert.equal(await visible(page, '#status'), false);
      await shot(page, 'compare');
      await checkPhoneWidth(page, 'compare.html');
      await shot(page, 'phone-compare');
      await page.close();
    });

  } finally {
    await browser.close();
    await stopCollector(collector);
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  if (failures) {
    console.log(`${failures} check(s) failed; screenshots in ${ARTEFACTS}`);
    process.exit(1);
  }
  console.log(`all checks passed; screenshots in ${ARTEFACTS}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
