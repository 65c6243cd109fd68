#!/usr/bin/env node
// What training in the page costs a frame, per model: headless Chromium with software GL (as the browser
// tests run it), ?panels=train, each model at the chosen batch size trained for a few seconds on the shipped
// MNIST subset while every requestAnimationFrame callback is timed (the app's whole frame: training slice,
// ImGui, GL calls). Prints frames, median / p95 / longest frame, the panel's longest piece and images/s.
//   node tests/bench/train_panel_frames.mjs [--root build/wasm/web] [--seconds 8] [--batch 64]
// Read next: tests/browser/teaching_train_panel.test.mjs (the same timing, as a test), wasm/teaching/panel_train.cpp.
import {displayToPage, options, start, state, waitForState} from '../browser/harness.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const seconds = Number(option('--seconds', '8'));
const batch = option('--batch', '64');
const opts = options(argv.filter((a, i) => !['--seconds', '--batch'].includes(a) && !['--seconds', '--batch'].includes(argv[i - 1])));
const MODELS = ['mlp', 'mlp-deep', 'cnn'];
const BATCHES = ['16', '32', '64', '128', '256'];
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))] : NaN;
};

const site = await start(opts, {need: ['digitlab-lab.js', 'data/mnist/test-subset-images-idx3-ubyte.gz']});
const page = await site.context.newPage();
await page.addInitScript(() => {
  const raf = window.requestAnimationFrame.bind(window);
  window.__frameMs = [];
  window.__timeFrames = false;
  window.requestAnimationFrame = (callback) => raf((time) => {
    const t0 = performance.now();
    try { callback(time); } finally { if (window.__timeFrames) window.__frameMs.push(performance.now() - t0); }
  });
});
await page.goto(`${site.origin}/index.html?panels=train`);
await page.evaluate(() => window.digitlab.ready);
const panel = async () => (await state(page)).panel_state.train;
const click = async (x, y) => page.mouse.click(...await displayToPage(page, x, y));
// Opens a combo box and clicks its choice `index` (ImGui lists the choices one text line apart under it).
async function choose(setting, index, expect) {
  const rect = (await panel()).setting_rects[setting];
  await click(rect.x + 20, rect.y + rect.height / 2);
  await page.waitForTimeout(200);
  const frame = 19, line = 17, padding = 8;  // the app's default style at UI scale 1
  await click(rect.x + 20, rect.y + frame + padding + line * index + line / 2 - 2);
  await waitForState(page, new Function('st', `return st.panel_state.train.${expect[0]} === ${JSON.stringify(expect[1])};`), 5000);
}

await waitForState(page, (st) => st.panel_state.train && st.panel_state.train.start_rect.width > 0);
await choose('batch_size', BATCHES.indexOf(batch), ['batch_size', Number(batch)]);
const rows = [];
for (const [index, model] of MODELS.entries()) {
  await choose('model', index, ['model', model]);
  let t = await panel();
  await page.evaluate(() => { window.__frameMs = []; window.__timeFrames = true; });
  await click(t.start_rect.x + t.start_rect.width / 2, t.start_rect.y + t.start_rect.height / 2);
  await page.waitForTimeout(seconds * 1000);
  t = await panel();
  const frameMs = await page.evaluate(() => { window.__timeFrames = false; return window.__frameMs; });
  rows.push({model, batch, frames: frameMs.length, median: quantile(frameMs, 0.5), p95: quantile(frameMs, 0.95),
             max: Math.max(...frameMs), piece: t.longest_piece_ms, snapshot: t.longest_snapshot_ms, slice: t.longest_slice_ms, steps: t.global_step,
             rate: t.images_per_second, status: t.status, problem: t.problem, snapshots: t.snapshot_ms,
             trainingSeconds: t.training_seconds, trainingFrames: t.training_frames});
  await click(t.reset_rect.x + t.reset_rect.width / 2, t.reset_rect.y + t.reset_rect.height / 2);
  await waitForState(page, (st) => st.panel_state.train.status === 'idle');
}
await site.close();
// images/s is the panel's own figure (images over the seconds it ran); per training second: images over the
// seconds spent inside its training slices, i.e. the core's speed in the app's build, whatever the frame rate.
console.log(`| model | batch | frames in ${seconds} s | frame median | p95 | longest | longest piece | longest slice | model copy | steps | images/s | training s (frames) | images per training s |`);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.model} | ${r.batch} | ${r.frames} | ${r.median.toFixed(1)} ms | ${r.p95.toFixed(1)} ms | ${r.max.toFixed(1)} ms | ` +
              `${r.piece.toFixed(1)} ms | ${r.slice.toFixed(1)} ms | ${r.snapshot.toFixed(1)} ms | ${r.steps} | ${Math.round(r.rate)} | ` +
              `${r.trainingSeconds.toFixed(2)} (${r.trainingFrames}) | ${Math.round(r.steps * Number(r.batch) / r.trainingSeconds)} |` +
              (r.problem ? ` ${r.status}: ${r.problem}` : "") + ` model copies: ${r.snapshots.map((x) => x.toFixed(1)).join(", ")} ms`);
}
