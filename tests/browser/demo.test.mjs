#!/usr/bin/env node
// The real-browser test of the web app: serves the built site on a free port, drives headless Chromium
// (playwright-core, /usr/bin/chromium) to draw digits with mouse and touch, feeds it corrupt weights, checks
// URL parameters, postMessage and offline use, saves screenshots and measures size and speed.
// Usage: node demo.test.mjs --root build/wasm/web --out <folder> [--server scripts/serve.mjs]. Read next: web/page.js.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import {checker, drawStrokes, fatal, options, start} from './harness.mjs';

const opts = options();
const {root, out} = opts;
const chromiumPath = opts.chromium;
const {check, failures} = checker();

// ---- preconditions (each with what to do), the server on a free port, headless Chromium (harness.mjs) ----
// The drawing runs at devicePixelRatio 1 (software GL is slow at 2); HiDPI is checked apart.
const site = await start(opts, {need: ['embed.html', 'digitlab-lab.js', 'digitlab-lab.wasm']});
const {origin, browser, context} = site;
const port = Number(new URL(origin).port);
const {chromium} = await import('playwright-core');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'weights/manifest.json'), 'utf8'));
const defaultModel = (manifest.models || []).find((m) => m.default === true) || (manifest.models || [])[0];
if (!defaultModel) fatal(`${root}/weights/manifest.json lists no models`);
const requests = [];
const consoleErrors = site.pageErrors;  // the harness watches the first context's pages
const watch = (ctx, pageErrors = true) => {
  ctx.on('request', (request) => requests.push(request.url()));
  if (pageErrors) ctx.on('page', (p) => p.on('pageerror', (e) => consoleErrors.push(String(e))));
};
watch(context, false);
const page = await context.newPage();
const summary = {port, model: defaultModel.name};
try {
  // ---- load: time from navigation to a model ready to predict -----------------------------------------------
  const started = Date.now();
  await page.goto(`${origin}/index.html`);
  await page.evaluate(() => window.digitlab.ready);
  summary.wall_ms_to_ready = Date.now() - started;
  const timings = await page.evaluate(() => window.digitlab.state().timings);
  summary.timings_ms = timings;
  check(timings.ready_ms > 0, 'the app becomes ready', `ready ${timings.ready_ms?.toFixed(0)} ms after navigation start`);
  let state = await page.evaluate(() => window.digitlab.state());
  check(state.model === defaultModel.name, 'the default model of weights/manifest.json is loaded', `model ${state.model}`);
  check(state.empty && state.prediction === null, 'an empty canvas gives no guess', state.status);
  check(/draw a digit/i.test(await page.textContent('#prediction')), 'the aria-live region shows the hint',
        await page.textContent('#prediction'));
  // ---- drawing digits as pointer strokes -------------------------------------------------------------------
  const ellipse = (cx, cy, rx, ry, n = 28) => Array.from({length: n + 1}, (_, i) =>
    [cx + rx * Math.sin((2 * Math.PI * i) / n), cy - ry * Math.cos((2 * Math.PI * i) / n)]);
  const digits = [
    {label: 1, strokes: [[[0.52, 0.16], [0.5, 0.84]]]},
    {label: 7, strokes: [[[0.27, 0.2], [0.72, 0.2], [0.44, 0.84]]]},
    {label: 0, strokes: [ellipse(0.5, 0.5, 0.2, 0.32)]},
  ];
  const waitUpToDate = (strokes) => page.waitForFunction(
    (n) => { const s = window.digitlab.state(); return s.strokes === n && s.up_to_date; }, strokes, {timeout: 10000});
  const drawn = [];
  const rectAtStart = await page.evaluate(() => window.digitlab.drawingRect());
  for (const digit of digits) {
    await page.evaluate(() => window.digitlab.clear());
    state = await drawStrokes(page, digit.strokes);
    drawn.push(state.prediction);
    check(state.prediction === digit.label, `a drawn ${digit.label} is read as ${digit.label} (mouse strokes)`,
          `prediction ${state.prediction}, p=${state.top_probability?.toFixed(3)}, status "${state.status}"`);
  }
  check(new Set(drawn).size === digits.length, 'three different digits give three different labels', drawn.join(','));
  const rectAtEnd = await page.evaluate(() => window.digitlab.drawingRect());
  check(JSON.stringify(rectAtStart) === JSON.stringify(rectAtEnd), 'the drawing area does not move as predictions change',
        `${JSON.stringify(rectAtStart)} then ${JSON.stringify(rectAtEnd)}`);
  const live = await page.textContent('#prediction');
  check(live.includes(`Prediction: ${state.label}`), 'the aria-live region names the prediction', live);
  await page.screenshot({path: path.join(out, 'browser-demo.png')});
  console.log(`screenshot: ${path.join(out, 'browser-demo.png')}`);

  // A finger (touch events through Emscripten's HTML5 callbacks): a 1.
  await page.evaluate(() => window.digitlab.clear());
  {
    const rect = await page.evaluate(() => window.digitlab.drawingRect());
    const cdp = await context.newCDPSession(page);
    const touch = (type, points) => cdp.send('Input.dispatchTouchEvent', {
      type, touchPoints: points.map(([x, y]) => ({x: rect.x + x * rect.width, y: rect.y + y * rect.height, id: 1}))});
    await touch('touchStart', [[0.5, 0.15]]);
    for (let i = 1; i <= 12; ++i) await touch('touchMove', [[0.5 - 0.01 * i / 12, 0.15 + (0.7 * i) / 12]]);
    await touch('touchEnd', []);
    await waitUpToDate(1);
    state = await page.evaluate(() => window.digitlab.state());
    check(state.prediction === 1, 'a 1 drawn with a finger (touch events) is read as 1',
          `prediction ${state.prediction}, strokes ${state.strokes}`);
    await cdp.detach();
  }
  await page.evaluate(() => window.digitlab.undo());
  state = await page.evaluate(() => window.digitlab.state());
  check(state.strokes === 0 && state.empty, 'undo removes the stroke and the canvas is empty again', `strokes ${state.strokes}`);

  // ---- corrupt weights: the loader's error shows, the model stays, the demo still predicts ---------------------
  const modelBefore = state.model;
  const rejected = await page.evaluate(() => {
    const junk = new Uint8Array(4096).map((_, i) => (i * 37 + 11) & 255);
    return window.digitlab.loadWeights(junk.buffer, 'corrupt.dlw').then(() => null, (e) => e.message);
  });
  state = await page.evaluate(() => window.digitlab.state());
  check(typeof rejected === 'string' && rejected.length > 10 && state.error === rejected,
        'loadWeights(corrupt ArrayBuffer) rejects with the loader\'s error, also in state().error', rejected);
  check(/^[a-z_]+ at byte \d+/.test(rejected || ''), 'the error is Error::to_string() ("<code> at byte <n> ...")', rejected);
  check(state.model === modelBefore, 'the previous model stays loaded', `model ${state.model}`);
  check(state.messages.some((m) => m.includes(rejected)), 'the error is shown in the page', state.messages.join(' | '));
  check((await page.textContent('#alerts')).includes(rejected), 'the error is in the role=alert region');

  // A synthetic drop of a truncated copy of the real weights file.
  const truncated = Array.from(fs.readFileSync(path.join(root, 'weights', defaultModel.file)).subarray(0, 200));
  await page.evaluate((bytes) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], 'dropped.dlw'));
    const canvas = document.getElementById('canvas');
    canvas.dispatchEvent(new DragEvent('dragenter', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    canvas.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
  }, truncated);
  await page.waitForFunction((before) => window.digitlab.state().error !== before, rejected, {timeout: 5000}).catch(() => {});
  state = await page.evaluate(() => window.digitlab.state());
  check(state.error && state.error !== rejected && state.messages.some((m) => m.startsWith('dropped.dlw was not loaded')),
        'a dropped truncated weights file shows the loader\'s error', state.error);
  check(state.model === modelBefore, 'after the drop the previous model is still loaded', `model ${state.model}`);
  state = await drawStrokes(page, digits[1].strokes);
  check(state.prediction === 7, 'after the bad files the demo still predicts (a 7)', `prediction ${state.prediction}`);
  await page.screenshot({path: path.join(out, 'browser-demo-error.png')});

  // A good file through loadWeights(url): the same model again, as a user file.
  const loaded = await page.evaluate((file) => window.digitlab.loadWeights(`weights/${file}`).then((s) => s.model, (e) => `ERROR ${e.message}`),
                                     defaultModel.file);
  check(loaded === defaultModel.file, 'loadWeights(url) loads a good file and makes it the model', loaded);
  const foreign = await page.evaluate(() => window.digitlab.loadWeights('https://example.com/x.dlw').then(() => 'loaded', (e) => e.message));
  check(/not on this page's origin/.test(foreign), 'loadWeights refuses URLs on other origins', foreign);

  // ---- latency of one prediction while drawing (preprocess + forward in wasm) -------------------------------
  state = await page.evaluate(() => window.digitlab.state());
  summary.prediction_latency_ms = state.latency_summary_ms;
  summary.predictions = state.predictions;

  // ---- URL parameters: bad ones give clear messages, the app still runs ------------------------------------
  await page.goto(`${origin}/index.html?model=no-such-model&panels=draw,bogus&embed=1&zoom=3`);
  await page.evaluate(() => window.digitlab.ready);
  state = await page.evaluate(() => window.digitlab.state());
  const messages = state.messages.join(' | ');
  check(state.model === defaultModel.name && state.panels.join() === 'draw' && state.embed,
        'bad URL parameters: the default model, the valid panel and embed still apply', JSON.stringify({model: state.model, panels: state.panels}));
  check(/no model named 'no-such-model'/.test(messages) && /no panel 'bogus'/.test(messages) && /Unknown URL parameter 'zoom'/.test(messages),
        'bad URL parameters give one clear message each', messages);
  const header = await page.evaluate(() => document.querySelector('header').getBoundingClientRect().height);
  check(header <= 1, 'embed=1 hides the page header', `header height ${header}`);
  const wheelTaken = async () => page.evaluate(() => {
    const wheel = new WheelEvent('wheel', {deltaY: 100, bubbles: true, cancelable: true});
    document.getElementById('canvas').dispatchEvent(wheel);
    return wheel.defaultPrevented;
  });
  check(!(await wheelTaken()), 'embed=1 leaves the mouse wheel to the course page (no scroll trap)');
  await page.screenshot({path: path.join(out, 'browser-embed-bad-params.png')});

  await page.goto(`${origin}/index.html?model=${encodeURIComponent(defaultModel.name)}&panels=draw,prediction&embed=1&theme=dark&stroke=9`);
  await page.evaluate(() => window.digitlab.ready);
  state = await page.evaluate(() => window.digitlab.state());
  check(state.messages.length === 0 && state.panels.join() === 'draw,prediction', 'good URL parameters give no message', state.messages.join(' | '));
  await page.goto(`${origin}/index.html`);
  await page.evaluate(() => window.digitlab.ready);
  check(await wheelTaken(), 'without embed the app keeps the mouse wheel (its panels scroll)');

  // ---- embed.html: the snippet, its panel list, and postMessage through the preview iframe -----------------
  await page.goto(`${origin}/embed.html`);
  const snippet = await page.inputValue('#snippet');
  check(snippet.startsWith('<iframe src="http://127.0.0.1') && snippet.includes('embed=1'), 'embed.html shows an iframe snippet', snippet);
  const frame = await (await page.waitForSelector('#preview')).contentFrame();
  await frame.waitForFunction(() => window.digitlab && window.digitlab.ready);
  await frame.evaluate(() => window.digitlab.ready);
  const appPanels = await frame.evaluate(() => window.digitlab.state().available_panels);
  const pagePanels = await page.evaluate(() => PANELS.map((p) => p.name));
  check(appPanels.join() === pagePanels.join(), 'embed.html lists exactly the app\'s panels', `${pagePanels} vs ${appPanels}`);
  const reply = await page.evaluate(() => new Promise((resolve) => {
    const app = document.getElementById('preview').contentWindow;
    const seen = {};
    window.addEventListener('message', (e) => {
      if (e.source !== app || !e.data) return;
      if (e.data.digitlab === 'reply') seen[e.data.id] = e.data;
      if (seen[1] && seen[2] && seen[3]) resolve(seen);
    });
    app.postMessage({digitlab: 'call', id: 1, method: 'state'}, '*');
    app.postMessage({digitlab: 'call', id: 2, method: 'loadWeights', args: [new ArrayBuffer(64), 'zeros.dlw']}, '*');
    app.postMessage({digitlab: 'call', id: 3, method: 'explode'}, '*');
    setTimeout(() => resolve(seen), 5000);
  }));
  check(reply[1]?.ok && reply[1].result.model === defaultModel.name, 'postMessage state() answers with the state', JSON.stringify(reply[1]?.result?.model));
  check(reply[2] && !reply[2].ok && /at byte/.test(reply[2].error), 'postMessage loadWeights(bad bytes) answers with the loader\'s error', reply[2]?.error);
  check(reply[3] && !reply[3].ok && /unknown method/.test(reply[3].error), 'postMessage with an unknown method answers with a clear error', reply[3]?.error);
  await page.screenshot({path: path.join(out, 'browser-embed-page.png'), fullPage: true});

  // ---- HiDPI: the framebuffer follows devicePixelRatio, so lines and text stay sharp -------------------------
  {
    const hidpi = await browser.newContext({viewport: {width: 1100, height: 720}, deviceScaleFactor: 2});
    watch(hidpi);
    const sharp = await hidpi.newPage();
    await sharp.goto(`${origin}/index.html`);
    await sharp.evaluate(() => window.digitlab.ready);
    const sizes = await sharp.evaluate(() => {
      const c = document.getElementById('canvas');
      const box = c.getBoundingClientRect();
      return {width: c.width, height: c.height, css_width: box.width, css_height: box.height, ratio: devicePixelRatio};
    });
    check(sizes.ratio === 2 && Math.abs(sizes.width - sizes.css_width * 2) <= 1 && Math.abs(sizes.height - sizes.css_height * 2) <= 1,
          'at devicePixelRatio 2 the framebuffer has twice the CSS size (sharp on HiDPI)', JSON.stringify(sizes));
    const rect = await sharp.evaluate(() => window.digitlab.drawingRect());
    const at = ([x, y]) => [rect.x + x * rect.width, rect.y + y * rect.height];
    await sharp.mouse.move(...at(digits[1].strokes[0][0]));
    await sharp.mouse.down();
    for (const point of digits[1].strokes[0].slice(1)) await sharp.mouse.move(...at(point), {steps: 4});
    await sharp.mouse.up();
    await sharp.waitForFunction(() => { const s = window.digitlab.state(); return s.strokes === 1 && s.up_to_date; }, null, {timeout: 20000});
    const hiState = await sharp.evaluate(() => window.digitlab.state());
    check(hiState.prediction === 7, 'at devicePixelRatio 2 pointer positions still land where drawn (a 7)', `prediction ${hiState.prediction}`);
    await sharp.screenshot({path: path.join(out, 'browser-demo-hidpi.png')});
    await hidpi.close();
  }

  // ---- a browser without WebGL 2: a clear message in the page, no crash ---------------------------------------
  {
    const plain = await chromium.launch({executablePath: chromiumPath, headless: true,
                                         args: ['--no-sandbox', '--disable-gpu', '--disable-webgl', '--no-first-run']});
    const noGl = await plain.newPage();
    noGl.on('pageerror', (e) => consoleErrors.push(`(no WebGL) ${e}`));
    await noGl.goto(`${origin}/index.html`);
    const why = await noGl.evaluate(() => window.digitlab.ready.then(() => 'ready', (e) => e.message));
    const shown = await noGl.evaluate(() => { const box = document.getElementById('fatal'); return box.hidden ? '' : box.textContent; });
    check(/WebGL 2/.test(why) && /WebGL 2/.test(shown), 'without WebGL 2 the page says so and digitlab.ready rejects', shown);
    await plain.close();
  }

  // ---- two builds: the demo loads the small one; a teaching panel reloads the page with the lab build -------
  {
    const demo = await context.newPage();
    await demo.goto(`${origin}/index.html?model=mnist-mlp`);
    await demo.evaluate(() => window.digitlab.ready);
    const before = await demo.evaluate(() => window.digitlab.state());
    check(before.build === 'digitlab-app', 'the plain page loads the demo build', before.build);
    await Promise.all([demo.waitForNavigation(), demo.evaluate(() => window.digitlab.showPanels('draw,network'))]);
    await demo.waitForFunction(() => window.digitlab && window.digitlab.state, null, {timeout: 20000});
    await demo.evaluate(() => window.digitlab.ready);
    const after = await demo.evaluate(() => window.digitlab.state());
    check(after.build === 'digitlab-lab' && after.panels.join() === 'draw,network' && after.model === 'mnist-mlp',
          'showPanels with a teaching panel reloads the page with the lab build, keeping the model',
          `${after.build}, panels ${after.panels}, model ${after.model}, ${demo.url()}`);
    await demo.close();
  }

  // ---- offline: nothing outside the page's origin was requested --------------------------------------------
  const outside = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'));
  check(outside.length === 0, 'the pages requested nothing outside their own origin', outside.slice(0, 5).join(' '));
  check(consoleErrors.length === 0, 'no uncaught errors in the page', consoleErrors.slice(0, 3).join(' | '));
} catch (e) {
  check(false, `the test ran to the end (${e.message.split('\n')[0]})`);
  await page.screenshot({path: path.join(out, 'browser-failure.png')}).catch(() => {});
} finally {
  await site.close();
}

// ---- sizes: what a visitor downloads ---------------------------------------------------------------------------
const sizeOf = (file) => {
  const bytes = fs.readFileSync(path.join(root, file));
  return {raw: bytes.length, gzip: zlib.gzipSync(bytes, {level: 9}).length};
};
summary.sizes = {};
for (const file of ['digitlab-app.wasm', 'digitlab-app.js', 'digitlab-lab.wasm', 'digitlab-lab.js', 'page.js', 'index.html'])
  summary.sizes[file] = sizeOf(file);
for (const build of ['app', 'lab']) {
  const files = [`digitlab-${build}.wasm`, `digitlab-${build}.js`].map((f) => summary.sizes[f]);
  summary.sizes[`${build}_total`] = {raw: files[0].raw + files[1].raw, gzip: files[0].gzip + files[1].gzip};
}
// The demo's budget (what a lesson page embeds): at most 500,000 B raw and 200,000 B gzip, wasm + js.
const demo = summary.sizes.app_total;
const fits = demo.raw <= 500000 && demo.gzip <= 200000;
check(fits, `the demo build (digitlab-app.wasm + .js) fits its budget: ${demo.raw} B raw <= 500,000, ${demo.gzip} B gzip <= 200,000`,
      fits ? '' : 'keep heavy code in the lab build; docs/benchmarks.md says what each part costs');
summary.chromium = chromiumPath;
fs.writeFileSync(path.join(out, 'browser-benchmark.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`figures (also in ${path.join(out, 'browser-benchmark.json')}):\n${JSON.stringify(summary, null, 2)}`);
if (failures.length) {
  console.log(`\n${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('\nall browser checks passed');
