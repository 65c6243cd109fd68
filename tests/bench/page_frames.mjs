#!/usr/bin/env node
// What an idle and a busy page cost, as a reader on a school machine feels it: headless Chromium with
// software GL (SwiftShader), the demo page of one or two site builds measured side by side in one run
// (rounds alternate between them): the renderer main thread's busy share and the frames drawn while
// nobody touches the page, and the latency from a pointer move to the prediction that includes it while
// drawing (median, p95): until the page's state has it, and until a frame shows it. Prints a table. Usage:
//   node tests/bench/page_frames.mjs --site NAME=build/wasm/web [--site NAME2=DIR2] [--rounds 3] [--query '?...']
// Read next: tests/browser/harness.mjs, wasm/main.cpp (frames on demand), docs/benchmarks.md.
import path from 'node:path';
import {busyShare, openApp, options, start} from '../browser/harness.mjs';

const argv = process.argv.slice(2);
const sites = [];
for (let i = 0; i < argv.length; ++i) {
  if (argv[i] === '--site' && argv[i + 1]) {
    const [name, root] = argv[++i].split('=');
    sites.push({name, root: path.resolve(root)});
  }
}
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const rounds = Number(option('--rounds', '3'));
const query = option('--query', '');
const idleSeconds = Number(option('--idle-seconds', '3'));
const moves = Number(option('--moves', '40'));
if (!sites.length) {
  console.error('usage: page_frames.mjs --site NAME=DIR [--site NAME=DIR] [--rounds N] [--query ?..]');
  process.exit(2);
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))] : NaN;
};
// Frames the page draws: the app's own count where it has one, else requestAnimationFrame callbacks
// (the old build drew one frame per callback).
const frameCount = (page) => page.evaluate(() => {
  const s = window.digitlab.state();
  return typeof s.frames === 'number' ? s.frames : window.__rafCount;
});

async function measure(site) {
  const page = await openApp(site.context, site.origin, query);
  await page.evaluate(() => {
    // A build without state().frames drew one frame per animation frame: count those instead.
    if (typeof window.digitlab.state().frames === 'number') return;
    window.__rafCount = 0;
    const tick = () => { window.__rafCount += 1; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  await new Promise((r) => setTimeout(r, 1000));  // start-up settles
  // ---- idle: nobody touches the page ----
  const still = await busyShare(site.context, page, idleSeconds, () => frameCount(page));
  const idle = {busy: still.busy, fps: (still.after - still.before) / still.seconds};

  // ---- drawing: each pointer move, then the time until the page's prediction includes it ----
  const rect = await page.evaluate(() => window.digitlab.drawingRect());
  const latencies = await page.evaluate(async ({rect: r, count}) => {
    const canvas = document.getElementById('canvas');
    const box = canvas.getBoundingClientRect();
    const k = box.width / canvas.width;  // display units to CSS px
    const at = (u, v) => ({clientX: box.left + (r.x + u * r.width) * k, clientY: box.top + (r.y + v * r.height) * k, bubbles: true});
    const send = (type, u, v) => canvas.dispatchEvent(new MouseEvent(type, {...at(u, v), button: 0, buttons: type === 'mouseup' ? 0 : 1}));
    const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const out = {state: [], frame: []};
    const frames = () => window.digitlab.state().frames ?? window.__rafCount;
    send('mousedown', 0.5, 0.15);
    await wait(100);
    for (let i = 0; i < count; ++i) {
      await wait(60);  // past the app's 50 ms prediction throttle while a stroke is drawn
      const before = window.digitlab.state().predictions;
      const t0 = performance.now();
      send('mousemove', 0.5 + 0.1 * Math.sin(i / 3), 0.15 + (0.7 * (i + 1)) / count);
      // 1. the page's state (and its live region) has the prediction that includes the move
      while (window.digitlab.state().predictions === before && performance.now() - t0 < 2000) await wait(0);
      out.state.push(performance.now() - t0);
      // 2. a frame has been drawn after it (the prediction panel shows it)
      const framesThen = frames();
      while (frames() === framesThen && performance.now() - t0 < 2000) await wait(0);
      out.frame.push(performance.now() - t0);
    }
    send('mouseup', 0.5, 0.85);
    return out;
  }, {rect, count: moves});
  await page.close();
  return {idle, median: quantile(latencies.state, 0.5), p95: quantile(latencies.state, 0.95),
          frameMedian: quantile(latencies.frame, 0.5), frameP95: quantile(latencies.frame, 0.95)};
}

const opts = options([]);
const running = [];
for (const s of sites) running.push({...s, ...(await start({...opts, root: s.root}))});
const results = Object.fromEntries(sites.map((s) => [s.name, []]));
try {
  for (let round = 0; round < rounds; ++round) {
    for (const site of running) results[site.name].push(await measure(site));
  }
} finally {
  for (const site of running) await site.close();
}
const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
console.log(`page_frames: ${rounds} rounds, sites alternating, query '${query}', idle ${idleSeconds} s, ${moves} moves; ` +
            'headless Chromium, SwiftShader GL');
console.log('| build | idle main-thread busy (%) | idle frames/s | move -> prediction in state: median, p95 (ms) | ' +
            'move -> next frame drawn: median, p95 (ms) |');
console.log('|---|---|---|---|---|');
for (const site of running) {
  const r = results[site.name];
  const range = (f, digits) => `${fmt(Math.min(...r.map(f)), digits)}-${fmt(Math.max(...r.map(f)), digits)}`;
  console.log(`| ${site.name} | ${range((x) => x.idle.busy * 100, 1)} | ${range((x) => x.idle.fps, 1)} | ` +
              `${range((x) => x.median, 1)}, ${range((x) => x.p95, 1)} | ${range((x) => x.frameMedian, 1)}, ` +
              `${range((x) => x.frameP95, 1)} |`);
}
