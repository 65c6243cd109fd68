// What every real-browser test shares: options (--root, --out, --server, --chromium), PASS/FAIL lines,
// the site served on a free port, headless Chromium (playwright-core, /usr/bin/chromium), drawing strokes
// with the mouse, the renderer main thread's busy share, frame times, and the summary at the end. Used by demo.test.mjs,
// teaching_*.test.mjs (one per group of teaching panels), lesson.test.mjs, phones.test.mjs and
// tests/bench/page_frames.mjs. Read next: teaching_drawing_panels.test.mjs.
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');

export function options(argv = process.argv.slice(2)) {
  const option = (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
  };
  return {
    root: path.resolve(option('--root', path.join(repo, 'build/wasm/web'))),
    out: path.resolve(option('--out', path.join(repo, 'build/native/tests/output'))),
    server: path.resolve(option('--server', path.join(repo, 'scripts/serve.mjs'))),
    chromium: option('--chromium', '/usr/bin/chromium'),
  };
}

// check(ok, what, evidence): prints PASS/FAIL with the time since start; finish() exits 1 if any failed.
export function checker() {
  const failures = [];
  const start = Date.now();
  const check = (ok, what, evidence = '') => {
    const seconds = ((Date.now() - start) / 1000).toFixed(1).padStart(5);
    console.log(`${ok ? 'PASS' : 'FAIL'} ${seconds} s  ${what}${evidence ? `  [${evidence}]` : ''}`);
    if (!ok) failures.push(what);
    return ok;
  };
  const finish = (name) => {
    if (failures.length) {
      console.log(`\n${name}: ${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
      process.exit(1);
    }
    console.log(`\n${name}: all checks passed`);
  };
  return {check, finish, failures};
}

export const fatal = (message) => { console.error(`browser test: ${message}`); process.exit(1); };

// Serves opts.root on a free port and launches Chromium; returns {origin, browser, context, close()}.
export async function start(opts, {viewport = {width: 1100, height: 720}, need = []} = {}) {
  for (const file of ['index.html', 'page.js', 'digitlab-app.js', 'digitlab-app.wasm', 'weights/manifest.json', ...need]) {
    if (!fs.existsSync(path.join(opts.root, file))) {
      fatal(`${opts.root}/${file} is missing: build the site first (cmake --preset wasm && cmake --build --preset wasm, ` +
            'or make test)');
    }
  }
  let chromium;
  try {
    ({chromium} = await import('playwright-core'));
  } catch (e) {
    fatal(`playwright-core is not installed in tests/browser: run scripts/setup (it runs npm ci there). (${e.message})`);
  }
  if (!fs.existsSync(opts.chromium)) fatal(`${opts.chromium} not found: install the apt package chromium (scripts/setup)`);
  fs.mkdirSync(opts.out, {recursive: true});

  const port = await new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => { const {port: p} = probe.address(); probe.close(() => resolve(p)); });
  });
  const origin = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [opts.server, '--root', opts.root, '--port', String(port)],
                       {stdio: ['ignore', 'pipe', 'pipe']});
  let serverLog = '';
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  const stopServer = () => { if (server.exitCode === null) server.kill('SIGTERM'); };
  process.on('exit', stopServer);
  for (let i = 0; ; ++i) {
    try {
      if ((await fetch(`${origin}/index.html`)).ok) break;
    } catch (e) { /* not up yet */ }
    if (i > 100 || server.exitCode !== null) fatal(`the server did not start on port ${port}: ${serverLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args: ['--no-sandbox', '--use-gl=swiftshader', '--enable-unsafe-swiftshader', '--disable-gpu',
           '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const context = await browser.newContext({viewport, hasTouch: true});
  const pageErrors = [];
  context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(String(e))));
  const close = async () => {
    await browser.close().catch(() => {});
    stopServer();
  };
  return {origin, browser, context, pageErrors, close};
}

// Opens the site with a query ("?panels=network") and waits for digitlab.ready.
export async function openApp(context, origin, query = '') {
  const page = await context.newPage();
  await page.goto(`${origin}/index.html${query}`);
  await page.evaluate(() => window.digitlab.ready);
  return page;
}

export const state = (page) => page.evaluate(() => window.digitlab.state());

// Waits until fn(state) is true (fn runs in the page with the state as argument); returns the state.
export async function waitForState(page, predicate, timeout = 20000) {
  await page.waitForFunction(`(${predicate.toString()})(window.digitlab.state())`, null, {timeout, polling: 50});
  return state(page);
}

// Strokes in drawing-area units (0..1), drawn with the mouse; waits for the prediction of the result.
export async function drawStrokes(page, strokes) {
  const before = (await state(page)).strokes;
  const rect = await page.evaluate(() => window.digitlab.drawingRect());
  if (!rect) throw new Error('no drawing area is shown');
  const at = ([x, y]) => [rect.x + x * rect.width, rect.y + y * rect.height];
  for (const stroke of strokes) {
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const point of stroke.slice(1)) await page.mouse.move(...at(point), {steps: stroke.length > 4 ? 1 : 4});
    await page.mouse.up();
  }
  return waitForState(page, new Function('s', `return s.strokes === ${before + strokes.length} && s.up_to_date;`));
}

// A few digits as strokes (drawing-area units), enough for the panels' tests.
export const ellipse = (cx, cy, rx, ry, n = 28) => Array.from({length: n + 1}, (_, i) =>
  [cx + rx * Math.sin((2 * Math.PI * i) / n), cy - ry * Math.cos((2 * Math.PI * i) / n)]);
export const DIGITS = {
  1: [[[0.52, 0.16], [0.5, 0.84]]],
  7: [[[0.27, 0.2], [0.72, 0.2], [0.44, 0.84]]],
  0: [ellipse(0.5, 0.5, 0.2, 0.32)],
};

// Saves a screenshot of the whole page as <out>/<name>.png; returns its path.
export async function screenshot(page, opts, name) {
  const file = path.join(opts.out, `${name}.png`);
  await page.screenshot({path: file});
  return file;
}

// Screen coordinates (CSS px) of a point given in the app's display units (state_json's rects).
export async function displayToPage(page, x, y) {
  return page.evaluate(([px, py]) => {
    const canvas = document.getElementById('canvas');
    const box = canvas.getBoundingClientRect();
    const k = box.width / canvas.width;
    return [box.left + px * k, box.top + py * k];
  }, [x, y]);
}

// The share of one core the renderer main thread of `page` was busy over `seconds` (CDP Performance metrics:
// TaskDuration over Timestamp). Same-origin iframes run on that thread too, so a lesson page's embedded panels
// are counted with it. sample() (optional) is read just before and after, e.g. the frames drawn; returns
// {busy (0..1), seconds (measured), before, after}.
export async function busyShare(context, page, seconds, sample = async () => null) {
  const cdp = await context.newCDPSession(page);
  try {
    await cdp.send('Performance.enable');
    const metric = async () => {
      const {metrics} = await cdp.send('Performance.getMetrics');
      const get = (name) => metrics.find((m) => m.name === name).value;
      return {task: get('TaskDuration'), time: get('Timestamp')};
    };
    const before = await sample(), m0 = await metric();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const after = await sample(), m1 = await metric();
    return {busy: (m1.task - m0.task) / (m1.time - m0.time), seconds: m1.time - m0.time, before, after};
  } finally {
    await cdp.detach().catch(() => {});
  }
}

// Times every requestAnimationFrame callback of `page` (Emscripten's main loop runs one app frame in each)
// while window.__timeFrames is set, into window.__frameMs. With window.__statusOf set, each timed frame also
// notes in window.__frameStatus what it returned before the frame ran (read outside the timed callback), so
// a test can tell the frame that creates a run from those that train. Call before page.goto().
export async function timeAnimationFrames(page) {
  await page.addInitScript(() => {
    const raf = window.requestAnimationFrame.bind(window);
    window.__frameMs = [];
    window.__frameStatus = [];
    window.__timeFrames = false;
    window.__statusOf = null;
    window.requestAnimationFrame = (callback) => raf((time) => {
      const before = window.__timeFrames && window.__statusOf ? window.__statusOf() : null;
      const t0 = performance.now();
      try {
        callback(time);
      } finally {
        if (window.__timeFrames) {
          window.__frameMs.push(performance.now() - t0);
          window.__frameStatus.push(before);
        }
      }
    });
  });
}

// The q-quantile of `values` (nearest rank), NaN when empty.
export const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))] : NaN;
};

// Runs a test's body, then checks that the pages raised no errors, closes the browser and the server, and
// prints the result (exit status 1 if any check failed).
export async function run(site, {check, finish}, name, body) {
  try {
    await body();
    check(site.pageErrors.length === 0, 'no page errors', site.pageErrors.join(' | '));
  } catch (e) {
    check(false, 'the test ran to the end', String((e && e.stack) || e));
  } finally {
    await site.close();
  }
  finish(name);
}
