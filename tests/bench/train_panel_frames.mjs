#!/usr/bin/env node
// What training in the page costs a frame, per model: headless Chromium with software GL (as the browser
// tests run it), ?panels=train, each model at the chosen batch size trained for a few seconds on the shipped
// MNIST subset while every requestAnimationFrame callback is timed (the app's whole frame: training slice,
// ImGui, GL calls). Prints frames, median / p95 / longest frame, the panel's longest piece and images/s.
// --images 60000 trains on the full training set (the site must have it); --epoch runs each model for one whole
// epoch instead of --seconds and prints its time (download and parse included in "ready") and accuracy; --run
// the whole run (the panel's 5 epochs).
//   node tests/bench/train_panel_frames.mjs [--root build/wasm/web] [--seconds 8] [--batch 64] [--images 800]
//        [--epoch | --run] [--models mlp,cnn] [--dataset fashion-mnist]
// Read next: tests/browser/teaching_train_panel.test.mjs (the same timing, as a test), wasm/teaching/panel_train.cpp.
import {displayToPage, options, quantile, start, state, timeAnimationFrames, waitForState} from '../browser/harness.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const seconds = Number(option('--seconds', '8'));
const batch = option('--batch', '64');
const images = Number(option('--images', '800'));
const wholeEpoch = argv.includes('--epoch');
const wholeRun = argv.includes('--run');  // the whole run: the panel's 5 epochs and their held-out tests
const dataset = option('--dataset', 'mnist');
const ours = ['--seconds', '--batch', '--images', '--models', '--dataset'];
const opts = options(argv.filter((a, i) => !ours.includes(a) && !ours.includes(argv[i - 1]) && a !== '--epoch' && a !== '--run'));
const ALL_MODELS = ['mlp', 'mlp-deep', 'cnn'];
const MODELS = option('--models', ALL_MODELS.join(',')).split(',');
const BATCHES = ['16', '32', '64', '128', '256'];

const site = await start(opts, {need: ['digitlab-lab.js', 'data/mnist/test-subset-images-idx3-ubyte.gz']});
const page = await site.context.newPage();
await timeAnimationFrames(page);
await page.goto(`${site.origin}/index.html?panels=train`);
await page.evaluate(() => window.digitlab.ready);
const panel = async () => (await state(page)).panel_state.train;
const click = async (x, y) => page.mouse.click(...await displayToPage(page, x, y));
// Opens a combo box and clicks its choice `index` (ImGui lists the choices one text line apart under it).
async function choose(setting, index, expect) {
  const rect = (await panel()).setting_rects[setting];
  await click(rect.x + 20, rect.y + rect.height / 2);
  await page.waitForTimeout(200);  // the popup's first frame places it
  const line = (await panel()).open_choices[index];  // the open combo's lines, as the panel reports them
  await click(line.x + line.width / 2, line.y + line.height / 2);
  await waitForState(page, new Function('st', `return st.panel_state.train.${expect[0]} === ${JSON.stringify(expect[1])};`), 5000);
}

await waitForState(page, (st) => st.panel_state.train && st.panel_state.train.start_rect.width > 0);
await choose('batch_size', BATCHES.indexOf(batch), ['batch_size', Number(batch)]);
if (dataset !== 'mnist') await choose('dataset', ['mnist', 'fashion-mnist'].indexOf(dataset), ['dataset', dataset]);
if (images !== 800) {
  const sizes = (await waitForState(page, (st) => st.panel_state.train.index_state !== 'pending')).panel_state.train.train_size_choices;
  if (!sizes.includes(images)) throw new Error(`the site offers ${sizes.join(', ')} training images, not ${images}`);
  await choose('train_images', sizes.indexOf(images), ['train_size_choices.length', sizes.length]);
}
const rows = [];
console.log(`${dataset}, ${images} training images`);
for (const model of MODELS) {
  await choose('model', ALL_MODELS.indexOf(model), ['model', model]);
  let t = await panel();
  await page.evaluate(() => { window.__frameMs = []; window.__timeFrames = true; });
  const clicked = Date.now();
  await click(t.start_rect.x + t.start_rect.width / 2, t.start_rect.y + t.start_rect.height / 2);
  t = (await waitForState(page, (st) => st.panel_state.train.status !== 'loading' && st.panel_state.train.status !== 'idle',
                          120000)).panel_state.train;
  const ready = (Date.now() - clicked) / 1000;
  if (wholeRun) {
    await waitForState(page, (st) => st.panel_state.train.status === 'done' || st.panel_state.train.status === 'failed', 1800000);
  } else if (wholeEpoch) {
    await waitForState(page, (st) => st.panel_state.train.accuracies.length > 0 || st.panel_state.train.status === 'failed', 1800000);
  } else {
    await page.waitForTimeout(seconds * 1000);
  }
  const elapsed = (Date.now() - clicked) / 1000 - ready;
  t = await panel();
  const frameMs = await page.evaluate(() => { window.__timeFrames = false; return window.__frameMs; });
  rows.push({model, batch, frames: frameMs.length, median: quantile(frameMs, 0.5), p95: quantile(frameMs, 0.95),
             max: Math.max(...frameMs), piece: t.longest_piece_ms, snapshot: t.longest_snapshot_ms, slice: t.longest_slice_ms, steps: t.global_step,
             rate: t.images_per_second, status: t.status, problem: t.problem, snapshots: t.snapshot_ms, ready, elapsed,
             accuracy: t.accuracy, images: t.train_images,
             trainingSeconds: t.training_seconds, trainingFrames: t.training_frames});
  await click(t.reset_rect.x + t.reset_rect.width / 2, t.reset_rect.y + t.reset_rect.height / 2);
  await waitForState(page, (st) => st.panel_state.train.status === 'idle');
}
await site.close();
// images/s is the panel's own figure (images over the seconds it ran); per training second: images over the
// seconds spent inside its training slices, i.e. the core's speed in the app's build, whatever the frame rate.
console.log(`| model | batch | images | ready | ${wholeRun ? 'the whole run (training + held-out tests)' : wholeEpoch ? 'epoch 1 (training + held-out test)' : 'seconds'} | held-out accuracy | frames | frame median | p95 | longest | longest piece | longest slice | model copy | steps | images/s | training s (frames) | images per training s |`);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.model} | ${r.batch} | ${r.images} | ${r.ready.toFixed(1)} s | ${r.elapsed.toFixed(1)} s | ` +
              `${r.accuracy === null ? '-' : (100 * r.accuracy).toFixed(2) + ' %'} | ${r.frames} | ${r.median.toFixed(1)} ms | ${r.p95.toFixed(1)} ms | ${r.max.toFixed(1)} ms | ` +
              `${r.piece.toFixed(1)} ms | ${r.slice.toFixed(1)} ms | ${r.snapshot.toFixed(1)} ms | ${r.steps} | ${Math.round(r.rate)} | ` +
              `${r.trainingSeconds.toFixed(2)} (${r.trainingFrames}) | ${Math.round(r.steps * Number(r.batch) / r.trainingSeconds)} |` +
              (r.problem ? ` ${r.status}: ${r.problem}` : "") + ` model copies: ${r.snapshots.map((x) => x.toFixed(1)).join(", ")} ms`);
}
