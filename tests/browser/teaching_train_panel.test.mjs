#!/usr/bin/env node
// Browser test of the "train" teaching panel alone (?panels=train): Start trains the tutorial's MLP on the
// shipped MNIST subset (800 images to learn from, 200 held out), the tutorial's log line appears, Pause stops
// the frames, Resume finishes the run with the loss down and per-class accuracy and a confusion matrix,
// the page goes idle; "your model" downloads as .dlw and .pth (Blob downloads), joins the model list, the
// prediction panel predicts with it and PyTorch's NeuralNetwork with the downloaded .pth agrees; Reset clears
// it. Every animation-frame callback is timed while it trains (the app's whole frame: training slice, ImGui,
// GL calls): 95 % of them must take at most 50 ms; the longest is printed with the images per second the
// panel measured. Screenshot panel-train.png. Then the frame budget of issue 14 with the heavy models at
// batch 64: the CNN and the deep MLP each train through their first epoch and its held-out evaluation, and
// 99 % of the frames that train must take at most 50 ms (the longest frames, the frame that created the run,
// the panel's longest piece are printed). Then side by side: the "learning rates" comparison trains
// 0.1 / 0.01 / 0.001 in the same frames, each with its curve, legend and log (panel-train-compare.png); the
// full MNIST training set (60,000 images, downloaded on Start) trains for a few seconds and its speed is
// printed; a site without training sets (its index answers 404) offers the subset only, and a corrupt
// training set is a sentence in the panel, not a broken page.
// Usage: node teaching_train_panel.test.mjs --root build/wasm/web --out <folder>. Read next: harness.mjs,
// wasm/teaching/panel_train.cpp.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {DIGITS, checker, displayToPage, drawStrokes, options, quantile, repo, run, screenshot, start, state, timeAnimationFrames, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const site = await start(opts, {need: ['digitlab-lab.js', 'digitlab-lab.wasm', 'data/mnist/test-subset-images-idx3-ubyte.gz',
                                       'data/mnist/test-subset-labels-idx1-ubyte.gz']});
const LONGEST_FRAME_MS = 50;
const python = '/usr/bin/python3';
const RUN_TIMEOUT = 180000;  // ms: 65 MLP steps and 5 held-out evaluations, 12 ms of them per frame

// Opens a combo box the panel reports (on the box, left of its label) and picks its line `index`.
async function pick(page, setting, index) {
  const box = (await state(page)).panel_state.train.setting_rects[setting];
  const [x, y] = await displayToPage(page, box.x + 20, box.y + box.height / 2);
  await page.mouse.click(x, y);
  await waitForState(page, (st) => st.panel_state.train.open_choices.length > 0);
  await page.waitForTimeout(200);  // the popup's first frame places it
  const lines = (await state(page)).panel_state.train.open_choices;
  await clickBox(page, lines[index]);
}

async function clickBox(page, box) {
  const [x, y] = await displayToPage(page, box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.click(x, y);
}
// Opens a settings combo box and clicks its choice `index` (ImGui lists the choices one text line apart
// under it, at the app's default style and UI scale 1), then waits for the state to show `expect`.
async function choose(page, setting, index, expect) {
  const rect = (await state(page)).panel_state.train.setting_rects[setting];
  await clickBox(page, {x: rect.x, y: rect.y, width: 40, height: rect.height});
  await page.waitForTimeout(200);
  const frame = 19, line = 17, padding = 8;
  await clickBox(page, {x: rect.x, y: rect.y + frame + padding + line * index, width: 40, height: line - 4});
  // The predicate runs in the page: built from text, as it cannot close over expect.
  await waitForState(page, new Function('st', `return st.panel_state.train.${expect[0]} === ${JSON.stringify(expect[1])};`), 5000);
}
const framesOver = async (page, ms) => {
  const before = (await state(page)).frames;
  await page.waitForTimeout(ms);
  return (await state(page)).frames - before;
};

await run(site, {check, finish}, 'teaching_train_panel', async () => {
  const page = await site.context.newPage();
  await timeAnimationFrames(page);  // window.__frameMs, and window.__frameStatus with window.__statusOf set
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

  // ---- The frame budget with the heavy models (issue 14): the CNN and the deep MLP at batch 64 ----------------
  // Each trains through its first epoch and the held-out evaluation after it (where the deep MLP's model
  // copy used to take a frame of 40 ms and more), every frame timed. The frames that train are those that
  // began with the panel running; the one that creates the run (the architecture's seeded weights, then
  // PyTorch's initialisation: 20-40 ms natively for the deep MLP, docs/teaching.md) is printed apart.
  await page.evaluate(() => { window.__statusOf = () => window.digitlab.state().panel_state.train.status; });
  const budget = [];
  for (const [index, model] of [[2, 'cnn'], [1, 'mlp-deep']]) {
    await choose(page, 'model', index, ['model', model]);
    t = (await state(page)).panel_state.train;
    await page.evaluate(() => { window.__frameMs = []; window.__frameStatus = []; window.__timeFrames = true; });
    await clickBox(page, t.start_rect);
    s = await waitForState(page, (st) => st.panel_state.train.accuracies.length >= 1 || st.panel_state.train.status === 'failed',
                           RUN_TIMEOUT);
    t = s.panel_state.train;
    const [all, status] = await page.evaluate(() => { window.__timeFrames = false; return [window.__frameMs, window.__frameStatus]; });
    const ms = all.filter((x, i) => status[i] === 'running');
    const startFrames = all.filter((x, i) => status[i] === 'loading').map((x) => x.toFixed(1)).join(', ');
    const longestFrames = [...ms].sort((a, b) => b - a).slice(0, 5).map((x) => x.toFixed(1)).join(', ');
    const evidence = `${model} batch ${t.batch_size}: ${ms.length} training frames, median ${quantile(ms, 0.5).toFixed(1)} ms, p99 ` +
        `${quantile(ms, 0.99).toFixed(1)} ms, longest ${longestFrames} ms (the frames creating the run: ${startFrames} ms); ` +
        `panel: longest piece ${t.longest_piece_ms.toFixed(1)} ms, ` +
        `longest slice ${t.longest_slice_ms.toFixed(1)} ms, final model copy ${t.longest_snapshot_ms.toFixed(1)} ms, ` +
        `${t.global_step} steps, ${Math.round(t.images_per_second)} images/s`;
    budget.push(evidence);
    check(t.status !== 'failed' && t.accuracies.length >= 1 && t.batch_size === 64,
          `${model}: the first epoch trains and is evaluated on the held-out images`, `${t.status} ${t.problem}`);
    check(ms.length > 20 && quantile(ms, 0.99) <= LONGEST_FRAME_MS,
          `${model} at batch 64: 99 % of the frames while it trains take at most ${LONGEST_FRAME_MS} ms`, evidence);
    await clickBox(page, t.reset_rect);
    await waitForState(page, (st) => st.panel_state.train.status === 'idle');
  }
  console.log(`frames while training: ${frameEvidence}`);
  for (const line of budget) console.log(`frames while training ${line}`);
  await page.close();

  // ---- Side by side: three learning rates in the same frames ------------------------------------------------------
  const compare = await site.context.newPage();
  await compare.addInitScript(() => {
    const raf = window.requestAnimationFrame.bind(window);
    window.__frameMs = [];
    window.requestAnimationFrame = (callback) => raf((time) => {
      const t0 = performance.now();
      try { callback(time); } finally { if (window.__timeFrames) window.__frameMs.push(performance.now() - t0); }
    });
  });
  await compare.goto(`${site.origin}/index.html?panels=train`);
  await compare.evaluate(() => window.digitlab.ready);
  t = (await waitForState(compare, (st) => st.panel_state.train && st.panel_state.train.compare_rects.length === 6 &&
                                           st.panel_state.train.compare_rects[1].width > 0)).panel_state.train;
  await clickBox(compare, t.compare_rects[1]);
  t = (await waitForState(compare, (st) => st.panel_state.train.compare === 'learning_rates')).panel_state.train;
  await compare.evaluate(() => { window.__timeFrames = true; });
  const compareStarted = Date.now();
  await clickBox(compare, t.start_rect);
  s = await waitForState(compare, (st) => st.panel_state.train.status === 'done' || st.panel_state.train.status === 'failed',
                         RUN_TIMEOUT);
  const compareSeconds = (Date.now() - compareStarted) / 1000;
  t = s.panel_state.train;
  const compareFrames = await compare.evaluate(() => { window.__timeFrames = false; return window.__frameMs; });
  const labels = t.runs.map((r) => r.label);
  check(t.status === 'done' && t.runs.length === 3 && labels.join('|') === 'lr 0.1|lr 0.01|lr 0.001',
        'learning rates: three runs, each legend naming its rate', `${t.status} ${labels.join(', ')} ${t.problem}`);
  check(t.runs.every((r) => r.status === 'done' && r.accuracies.length === 5 && r.log_lines === 30 && r.has_model),
        'each run finished its 5 epochs with its own log and model',
        t.runs.map((r) => `${r.label}: ${r.status}, ${r.accuracies.length} accuracies, ${r.log_lines} lines`).join('; '));
  const finalLosses = t.runs.map((r) => r.epoch_losses[4]);
  check(new Set(finalLosses).size === 3, 'the rates give different losses', finalLosses.map((l) => l.toFixed(4)).join(' / '));
  const compareEvidence = `${compareFrames.length} frames: median ${quantile(compareFrames, 0.5).toFixed(1)} ms, p95 ` +
      `${quantile(compareFrames, 0.95).toFixed(1)} ms, max ${Math.max(...compareFrames).toFixed(1)} ms; ` +
      `${compareSeconds.toFixed(1)} s in all; per run ` +
      t.runs.map((r) => `${r.label} ${(100 * r.accuracy).toFixed(1)} % in ${r.training_seconds.toFixed(1)} s`).join(', ');
  check(compareFrames.length > 10 && quantile(compareFrames, 0.95) <= LONGEST_FRAME_MS,
        `three runs share the frame budget: 95 % of the frames within ${LONGEST_FRAME_MS} ms`, compareEvidence);
  await compare.mouse.move(1, 1);
  await compare.waitForTimeout(300);
  await screenshot(compare, opts, 'panel-train-compare');
  console.log(`side by side: ${compareEvidence}`);

  // ---- The full MNIST training set: downloaded on Start, trained for a few seconds --------------------------------
  if (t.training_sets.includes('mnist')) {
    await clickBox(compare, t.compare_rects[0]);  // one run
    await pick(compare, 'train_images', 5);       // 60,000 (all)
    t = (await state(compare)).panel_state.train;
    const clicked = Date.now();
    await clickBox(compare, t.start_rect);
    s = await waitForState(compare, (st) => (st.panel_state.train.status === 'running' &&
                                             st.panel_state.train.train_images === 60000) ||
                                            st.panel_state.train.status === 'failed', RUN_TIMEOUT);
    const readySeconds = (Date.now() - clicked) / 1000;
    await compare.evaluate(() => { window.__frameMs = []; window.__timeFrames = true; });
    t = s.panel_state.train;
    check(t.status === 'running' && t.train_images === 60000 && t.held_out_images === 1000 && t.data_source === 'training_set',
          'the full training set: 60,000 images to learn from, the 1,000 shipped test images held out',
          `${t.status} ${t.train_images}/${t.held_out_images} ${t.data_source} ${t.problem}`);
    await compare.waitForTimeout(10000);
    t = (await state(compare)).panel_state.train;
    const fullFrames = await compare.evaluate(() => { window.__timeFrames = false; return window.__frameMs; });
    const perEpoch = t.images_per_second > 0 ? 60000 / t.images_per_second : NaN;
    console.log(`MLP on 60,000 MNIST images: download, parse and start ${readySeconds.toFixed(1)} s, ` +
                `${Math.round(t.images_per_second)} images/s, about ${perEpoch.toFixed(0)} s an epoch (step ` +
                `${t.global_step}/${t.steps_per_epoch} after 10 s; frames: median ${quantile(fullFrames, 0.5).toFixed(1)} ms, ` +
                `p95 ${quantile(fullFrames, 0.95).toFixed(1)} ms, max ${Math.max(...fullFrames).toFixed(1)} ms)`);
    check(t.global_step > 10 && t.images_per_second > 0, 'it trains on the full set',
          `${t.global_step} steps, ${Math.round(t.images_per_second)} images/s`);
    await clickBox(compare, t.reset_rect);
  } else {
    check(false, 'the site has the MNIST training set (DIGITLAB_WEB_TRAINING_SETS=ON)', JSON.stringify(t.training_sets));
  }
  await compare.close();

  // ---- A site without training sets: the index answers 404 ---------------------------------------------------------
  const bare = await site.context.newPage();
  await bare.route('**/data/training-sets.txt', (route) => route.fulfill({status: 404, body: 'Not Found'}));
  await bare.goto(`${site.origin}/index.html?panels=train`);
  await bare.evaluate(() => window.digitlab.ready);
  s = await waitForState(bare, (st) => st.panel_state.train && st.panel_state.train.index_state !== 'pending');
  t = s.panel_state.train;
  check(t.index_state === 'failed' && t.train_size_choices.join(',') === '100,200,400,800' && t.problem === '',
        'without training sets: the subset\'s sizes only, and no error', `${t.index_state} [${t.train_size_choices}] ${t.problem}`);
  await bare.close();

  // ---- A corrupt training set: a sentence, the page keeps working --------------------------------------------------
  const corrupt = await site.context.newPage();
  await corrupt.route('**/data/mnist/train-images-idx3-ubyte.gz',
                      (route) => route.fulfill({status: 200, contentType: 'application/octet-stream', body: 'not a gzip file'}));
  await corrupt.goto(`${site.origin}/index.html?panels=train`);
  await corrupt.evaluate(() => window.digitlab.ready);
  await waitForState(corrupt, (st) => st.panel_state.train && st.panel_state.train.train_size_choices.length === 6);
  await pick(corrupt, 'train_images', 5);
  t = (await state(corrupt)).panel_state.train;
  await clickBox(corrupt, t.start_rect);
  s = await waitForState(corrupt, (st) => st.panel_state.train.status === 'failed' || st.panel_state.train.status === 'running',
                         60000);
  t = s.panel_state.train;
  check(t.status === 'failed' && /damaged/.test(t.problem) && t.problem.includes('train-images-idx3-ubyte.gz'),
        'a corrupt training set: the panel says which file is damaged', t.problem);
  await screenshot(corrupt, opts, 'panel-train-corrupt');
  await pick(corrupt, 'train_images', 3);  // 800: the shipped subset still trains
  t = (await state(corrupt)).panel_state.train;
  await clickBox(corrupt, t.start_rect);
  // (the old failure is still the state until the click's frame has run: wait for the run itself)
  s = await waitForState(corrupt, (st) => st.panel_state.train.global_step > 0, 60000).catch(async () => state(corrupt));
  check(s.panel_state.train.status === 'running' && s.panel_state.train.data_source === 'test_subset',
        'then 800 images train on the shipped subset', `${s.panel_state.train.status} ${s.panel_state.train.problem}`);
  await corrupt.close();
});
