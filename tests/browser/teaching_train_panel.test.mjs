#!/usr/bin/env node
// Browser test of the "train" teaching panel alone (?panels=train): Start trains the tutorial's MLP on the
// shipped MNIST subset (800 images to learn from, 200 held out), the tutorial's log line appears, Pause stops
// the frames, Resume finishes the run with the loss down and per-class accuracy and a confusion matrix,
// the page goes idle; "your model" downloads as .dlw and .pth (Blob downloads), joins the model list, the
// prediction panel predicts with it and PyTorch's NeuralNetwork with the downloaded .pth agrees; Reset clears
// it. Every animation-frame callback is timed while it trains (the app's whole frame: training slice, ImGui,
// GL calls): 95 % of them must take at most 50 ms; the longest is printed with the images per second the
// panel measured. Screenshot panel-train.png.
// Usage: node teaching_train_panel.test.mjs --root build/wasm/web --out <folder>. Read next: harness.mjs,
// wasm/teaching/panel_train.cpp.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {DIGITS, checker, displayToPage, drawStrokes, options, repo, run, screenshot, start, state, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const site = await start(opts, {need: ['digitlab-lab.js', 'digitlab-lab.wasm', 'data/mnist/test-subset-images-idx3-ubyte.gz',
                                       'data/mnist/test-subset-labels-idx1-ubyte.gz']});
const LONGEST_FRAME_MS = 50;
const python = '/usr/bin/python3';
const RUN_TIMEOUT = 180000;  // ms: 65 MLP steps and 5 held-out evaluations, 12 ms of them per frame

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))] : NaN;
};

async function clickBox(page, box) {
  const [x, y] = await displayToPage(page, box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.click(x, y);
}
const framesOver = async (page, ms) => {
  const before = (await state(page)).frames;
  await page.waitForTimeout(ms);
  return (await state(page)).frames - before;
};

await run(site, {check, finish}, 'teaching_train_panel', async () => {
  const page = await site.context.newPage();
  // Times every requestAnimationFrame callback (Emscripten's main loop runs one app frame in each) while
  // window.__timeFrames is set.
  await page.addInitScript(() => {
    const raf = window.requestAnimationFrame.bind(window);
    window.__frameMs = [];
    window.__timeFrames = false;
    window.requestAnimationFrame = (callback) => raf((time) => {
      const t0 = performance.now();
      try {
        callback(time);
      } finally {
        if (window.__timeFrames) window.__frameMs.push(performance.now() - t0);
      }
    });
  });
  await page.goto(`${site.origin}/index.html?panels=train`);
  await page.evaluate(() => window.digitlab.ready);
  let s = await waitForState(page, (st) => st.panel_state.train && st.panel_state.train.start_rect.width > 0);
  let t = s.panel_state.train;
  check(t.status === 'idle' && t.model === 'mlp' && t.dataset === 'mnist' && t.epochs === 5 && t.batch_size === 64,
        'alone: idle, the tutorial\'s MLP on MNIST, 5 epochs, batch 64', JSON.stringify({status: t.status, model: t.model}));

  // ---- Start: the subset loads, training runs, the tutorial's line appears ------------------------------------
  await page.evaluate(() => { window.__timeFrames = true; });
  await clickBox(page, t.start_rect);
  s = await waitForState(page, (st) => st.panel_state.train.log_lines > 0 || st.panel_state.train.status === 'failed', 60000);
  t = s.panel_state.train;
  check(t.status === 'running' && t.train_images === 800 && t.held_out_images === 200,
        'Start: running on 800 subset images, 200 held out', `${t.status} ${t.train_images}/${t.held_out_images} ${t.problem}`);
  check(/^Epoch \[1\/5\], Step \[\d+\/13\], Loss: \d+\.\d{4}$/.test(t.first_log_line),
        'the tutorial\'s log line appears', t.first_log_line);

  // ---- Pause: the frames stop, and so does the training ---------------------------------------------------------
  await clickBox(page, t.pause_rect);
  s = await waitForState(page, (st) => st.panel_state.train.status === 'paused');
  await page.waitForTimeout(300);  // the frames owed after the click
  const pausedAt = (await state(page)).panel_state.train.global_step;
  const pausedFrames = await framesOver(page, 1500);
  const stillAt = (await state(page)).panel_state.train.global_step;
  check(pausedFrames === 0 && stillAt === pausedAt, 'Pause: no frames and no steps while paused',
        `${pausedFrames} frames in 1.5 s, step ${pausedAt} -> ${stillAt} of ${t.total_steps}`);

  // ---- Resume to the end -----------------------------------------------------------------------------------------
  t = (await state(page)).panel_state.train;
  await clickBox(page, t.start_rect);
  s = await waitForState(page, (st) => st.panel_state.train.status === 'done' || st.panel_state.train.status === 'failed',
                         RUN_TIMEOUT);
  t = s.panel_state.train;
  const frameMs = await page.evaluate(() => { window.__timeFrames = false; return window.__frameMs; });
  check(t.status === 'done' && t.global_step === 65 && t.accuracies.length === 5, 'Resume: the run finishes, 65 steps, 5 epochs',
        `${t.status}, step ${t.global_step}, ${t.accuracies.length} accuracies ${t.problem}`);
  const losses = t.epoch_losses;
  check(losses.length === 5 && losses[4] < 0.6 * losses[0], 'the loss goes down', losses.map((l) => l.toFixed(4)).join(' -> '));
  check(t.accuracy > 0.6, 'held-out accuracy after 5 epochs on 800 images', `${(100 * t.accuracy).toFixed(1)} %`);
  const total = t.confusion.flat().reduce((a, b) => a + b, 0);
  check(t.per_class_accuracy.length === 10 && t.confusion.length === 10 && total === 200,
        'at the end: per-class accuracy and a 10x10 confusion matrix over the 200 held-out images', `${total} counted`);
  check(/Epoch \[5\/5\]/.test(t.last_log_line), 'the last epoch\'s line', t.last_log_line);
  const longest = Math.max(...frameMs);
  const frameEvidence = `${frameMs.length} frames: median ${quantile(frameMs, 0.5).toFixed(1)} ms, p95 ` +
      `${quantile(frameMs, 0.95).toFixed(1)} ms, max ${longest.toFixed(1)} ms; panel: longest slice ` +
      `${t.longest_slice_ms.toFixed(1)} ms, longest piece ${t.longest_piece_ms.toFixed(1)} ms, ${t.training_frames} ` +
      `training frames, ${Math.round(t.images_per_second)} images/s`;
  // The longest frame is printed, not asserted: one piece of a step always runs, and when other jobs hold
  // both cores a 14 ms piece of the MLP has taken 60 ms (docs/teaching.md); the bulk of the frames shows
  // whether the panel keeps to its budget.
  check(frameMs.length > 10 && quantile(frameMs, 0.95) <= LONGEST_FRAME_MS,
        `while it trains, 95 % of the frames take at most ${LONGEST_FRAME_MS} ms`, frameEvidence);
  check(t.images_per_second > 0 && t.seconds_left === 0, 'images per second measured', `${t.images_per_second.toFixed(0)} images/s`);
  await page.mouse.move(1, 1);
  await page.waitForTimeout(300);
  await screenshot(page, opts, 'panel-train');
  const idleFrames = await framesOver(page, 1500);
  check(idleFrames === 0, 'done: the page goes idle', `${idleFrames} frames in 1.5 s`);

  // ---- Your model: the downloads, then the model list and the prediction (PyTorch agrees) -----------------------
  await page.setViewportSize({width: 1100, height: 1000});  // the widget under the results, without scrolling
  s = await waitForState(page, (st) => st.panel_state.train.your_model.pth_rect.y > 0 &&
                                       st.panel_state.train.your_model.pth_rect.y + 40 < window.innerHeight);
  let mine = s.panel_state.train.your_model;
  check(mine.name === 'your-model' && !mine.in_list && mine.python_class === 'NeuralNetwork',
        'done: the run would join the list as your-model, its .pth for the tutorial\'s NeuralNetwork', JSON.stringify(mine));
  const download = async (box) => {
    const [file] = await Promise.all([page.waitForEvent('download'), clickBox(page, box)]);
    return {name: file.suggestedFilename(), bytes: fs.readFileSync(await file.path())};
  };
  const dlw = await download(mine.dlw_rect);
  const dlwMagic = [0x89, 0x44, 0x4c, 0x57, 0x0d, 0x0a, 0x1a, 0x0a];
  check(dlw.name === 'your-model.dlw' && dlwMagic.every((b, i) => dlw.bytes[i] === b) && dlw.bytes.length > 2000000,
        'Download .dlw: the browser saves your-model.dlw, a weights file', `${dlw.name}, ${dlw.bytes.length} B`);
  const pth = await download(mine.pth_rect);
  check(pth.name === 'your-model.pth' && pth.bytes[0] === 0x50 && pth.bytes[1] === 0x4b && pth.bytes.length > 2000000,
        'Download .pth: the browser saves your-model.pth, a torch.save ZIP', `${pth.name}, ${pth.bytes.length} B`);
  const pthFile = path.join(opts.out, 'your-model.pth');
  fs.writeFileSync(pthFile, pth.bytes);
  const shippedModels = s.models;
  await clickBox(page, mine.use_rect);
  s = await waitForState(page, (st) => st.model === 'your-model');
  check(s.models.length === shippedModels.length + 1 && s.models.at(-1) === 'your-model' && s.panel_state.train.your_model.in_list,
        'Use for drawing: your-model joins the list and is in use', s.models.join(', '));
  await page.evaluate(() => window.digitlab.showPanels('draw,prediction'));
  await page.waitForFunction(() => { const r = window.digitlab.drawingRect(); return r && r.width > 0; });
  s = await drawStrokes(page, DIGITS[7]);
  check(s.model === 'your-model' && s.prediction !== null, 'the prediction panel predicts with your-model',
        `${s.model}: ${s.label} (${(100 * (s.top_probability || 0)).toFixed(1)} %)`);
  let torchReady = true;
  try { execFileSync(python, ['-c', 'import torch'], {stdio: 'ignore'}); } catch (e) { torchReady = false; }
  if (torchReady) {
    const image = await page.evaluate(() => window.digitlab.modelInput());
    const expected = JSON.parse(execFileSync(python, [path.join(repo, 'tests/browser/pytorch_page_models.py'), 'predict',
                                                      pthFile, 'mlp'], {input: JSON.stringify(image)}).toString());
    const worst = Math.max(...expected.map((p, i) => Math.abs(p - s.probabilities[i])));
    check(worst <= 1e-4, 'PyTorch\'s NeuralNetwork with the downloaded .pth gives the page\'s probabilities',
          `largest difference ${worst.toExponential(2)} (tolerance 1e-4)`);
  } else {
    console.log(`note: ${python} cannot import torch, so the downloaded .pth is not run in PyTorch here`);
  }
  await page.evaluate(() => window.digitlab.showPanels('train'));
  s = await waitForState(page, (st) => st.panel_state.train && st.panel_state.train.reset_rect.width > 0);
  t = s.panel_state.train;

  // ---- Reset ------------------------------------------------------------------------------------------------------
  await clickBox(page, t.reset_rect);
  s = await waitForState(page, (st) => st.panel_state.train.status === 'idle');
  t = s.panel_state.train;
  check(t.log_lines === 0 && t.loss === null && t.accuracy === null && t.confusion.length === 0, 'Reset: the run is gone',
        JSON.stringify({log: t.log_lines, loss: t.loss}));
  await page.waitForTimeout(300);
  const resetFrames = await framesOver(page, 1500);
  check(resetFrames === 0, 'after Reset the page is idle', `${resetFrames} frames in 1.5 s`);
  console.log(`frames while training: ${frameEvidence}`);
  await page.close();
});
