#!/usr/bin/env node
// Browser test of the teaching panels on the test set, explorer and confusion: each alone with the default
// model (mnist-cnn) and with Fashion-MNIST (the URL's model=, and the dataset picker), next to the drawing
// panel in the dark theme; the 1,000-image evaluation completes in the page with an accuracy within two
// points of the manifest's, the misclassified filter changes the count shown, a click on a confusion cell
// selects its images. Prints how long the evaluation took for the CNN and the MLP. Screenshots
// panel-explorer.png, panel-confusion.png (+ fashion and dark variants).
// Usage: node teaching_test_set_panels.test.mjs --root build/wasm/web --out <folder>.
// Read next: harness.mjs, wasm/teaching/panel_explorer.cpp, wasm/teaching/panel_confusion.cpp.
import {checker, displayToPage, openApp, options, run, screenshot, start, state, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const site = await start(opts, {need: ['data/mnist/test-subset-images-idx3-ubyte.gz',
                                       'data/fashion-mnist/test-subset-images-idx3-ubyte.gz']});
const EVALUATION_TIMEOUT = 180000;  // ms: 1,000 CNN forward passes, 8 ms of them per frame, in a software-GL page
const timings = [];

async function clickBox(page, box, fx = 0.5, fy = 0.5) {
  const [x, y] = await displayToPage(page, box.x + box.width * fx, box.y + box.height * fy);
  await page.mouse.click(x, y);
}

// A screenshot with the mouse moved off the canvas (no tooltip over the panel).
async function shot(page, name) {
  await page.mouse.move(1, 1);
  await page.waitForTimeout(250);
  await screenshot(page, opts, name);
}

// Opens the page and waits for the panel's evaluation to finish; returns {page, panel, seconds}.
async function evaluated(query, name, model) {
  const started = Date.now();
  const page = await openApp(site.context, site.origin, query);
  const s = await waitForState(page, new Function('st', `const p = st.panel_state.${name};
      return p && p.model === '${model}' && p.total > 0 && p.evaluated === p.total;`), EVALUATION_TIMEOUT);
  const seconds = (Date.now() - started) / 1000;
  const panel = s.panel_state[name];
  timings.push({query, model, wall: seconds, classify: panel.evaluation_seconds});
  return {page, panel, seconds};
}

const manifest = await (await fetch(`${site.origin}/weights/manifest.json`)).json();
const manifestAccuracy = (name) => manifest.models.find((m) => m.name === name).test_accuracy;

function checkEvaluation(panel, model, what) {
  const expected = manifestAccuracy(model);
  check(panel.evaluated === 1000 && panel.total === 1000 && panel.images_loaded === 1000,
        `${what}: the 1,000 test images are classified`, `${panel.evaluated}/${panel.total}`);
  // The manifest's accuracy is over all 10,000 test images, the subset is the first 1,000: a sample whose
  // standard error is about 0.8 points at 92 %. A Fashion CNN of 92.28 % read 94.0 % of the subset (940/1000,
  // the same count natively); two points of slack still catch a wrong normalisation or a broken model.
  check(Math.abs(panel.accuracy - expected) <= 0.02, `${what}: accuracy within two points of the manifest's`,
        `${(panel.accuracy * 100).toFixed(1)} % on the subset, ${(expected * 100).toFixed(2)} % in the manifest`);
  check(panel.misclassified === Math.round((1 - panel.accuracy) * 1000), `${what}: misclassified count agrees`,
        `${panel.misclassified}`);
  check(panel.problem === '', `${what}: no problem shown`, panel.problem);
}

async function checkExplorer(page, panel, what) {
  check(panel.shown === 1000 && panel.count_text === `${panel.misclassified} of 1,000 misclassified`,
        `${what}: all images listed, the count shown`, `${panel.shown}, "${panel.count_text}"`);
  await clickBox(page, panel.filter_rect, 0.1);
  let s = await waitForState(page, (st) => st.panel_state.explorer.only_misclassified);
  let e = s.panel_state.explorer;
  check(e.shown === panel.misclassified && e.shown < 1000 && e.on_page > 0,
        `${what}: "only misclassified" leaves the mistakes`, `${e.shown} shown, ${e.on_page} on the page`);
  await clickBox(page, e.first_tile_rect);
  s = await waitForState(page, (st) => st.panel_state.explorer.selected_image !== null);
  e = s.panel_state.explorer;
  check(e.selected_image === e.first_on_page && e.selected_label !== e.selected_predicted,
        `${what}: clicking a mistake selects it`,
        `image #${e.selected_image}: label ${e.selected_label}, predicted ${e.selected_predicted}`);
  return e;
}

// Clicks cell (t, p) of the matrix; returns the panel's state once it is selected.
async function clickCell(page, panel, t, p) {
  const r = panel.matrix_rect, cell = panel.cell_size;
  const [x, y] = await displayToPage(page, r.x + cell * (p + 0.5), r.y + cell * (t + 0.5));
  await page.mouse.click(x, y);
  const s = await waitForState(page, new Function('st', `const c = st.panel_state.confusion.selected_cell;
      return c && c[0] === ${t} && c[1] === ${p};`));
  return s.panel_state.confusion;
}

async function checkConfusion(page, panel, what) {
  const m = panel.confusion;
  const total = m.flat().reduce((a, b) => a + b, 0);
  const diagonal = m.reduce((a, row, i) => a + row[i], 0);
  check(m.length === 10 && total === 1000 && diagonal === 1000 - panel.misclassified,
        `${what}: the matrix counts every image once, the diagonal the right answers`,
        `total ${total}, diagonal ${diagonal}`);
  // The most frequent mistake.
  let worst = [0, 0, -1];
  m.forEach((row, t) => row.forEach((n, p) => { if (t !== p && n > worst[2]) worst = [t, p, n]; }));
  const c = await clickCell(page, panel, worst[0], worst[1]);
  check(c.cell_images === worst[2] && worst[2] > 0, `${what}: clicking the commonest mistake shows its images`,
        `true ${c.class_names[worst[0]]}, predicted ${c.class_names[worst[1]]}: ${c.cell_images} images`);
  return c;
}

await run(site, {check, finish}, 'teaching_test_set_panels', async () => {
  // ---- explorer alone, default model -------------------------------------------------------------------------
  {
    const {page, panel, seconds} = await evaluated('?panels=explorer', 'explorer', 'mnist-cnn');
    check(panel.dataset === 'mnist', 'explorer alone: the default model\'s dataset, mnist', panel.dataset);
    checkEvaluation(panel, 'mnist-cnn', 'explorer (mnist-cnn)');
    console.log(`     explorer: page open to 1,000 classified in ${seconds.toFixed(1)} s ` +
                `(${panel.evaluation_seconds.toFixed(2)} s of it classifying)`);
    await checkExplorer(page, panel, 'explorer (mnist)');
    await shot(page, 'panel-explorer');
    await page.close();
  }
  // ---- confusion alone, default model ---------------------------------------------------------------------------
  {
    const {page, panel} = await evaluated('?panels=confusion', 'confusion', 'mnist-cnn');
    checkEvaluation(panel, 'mnist-cnn', 'confusion (mnist-cnn)');
    check(JSON.stringify(panel.class_names) === JSON.stringify(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']),
          'confusion: digit class names', panel.class_names.join(' '));
    check(panel.selected_cell === null, 'confusion: nothing selected at first');
    await checkConfusion(page, panel, 'confusion (mnist)');
    await shot(page, 'panel-confusion');

    // The dataset picker: fashion-mnist switches to the best Fashion model, fashion-cnn.
    await clickBox(page, panel.dataset_rect, 0.3);
    await page.waitForTimeout(300);
    const r = panel.dataset_rect, line = r.height - 6 + 4;  // a frame is a text line + 2 x 3 px padding
    await clickBox(page, {x: r.x, y: r.y + r.height + 8 + line, width: r.width, height: line}, 0.3);
    const s = await waitForState(page, (st) => st.panel_state.confusion.dataset === 'fashion-mnist' &&
                                               st.panel_state.confusion.evaluated === 1000, EVALUATION_TIMEOUT);
    const c = s.panel_state.confusion;
    check(c.model === 'fashion-cnn' && c.class_names[9] === 'Ankle boot',
          'confusion: the dataset picker switches to fashion-cnn with word class names', `${c.model}, ${c.class_names[9]}`);
    checkEvaluation(c, 'fashion-cnn', 'confusion (fashion-cnn, picked)');
    await checkConfusion(page, c, 'confusion (fashion)');
    await shot(page, 'panel-confusion-fashion');
    await page.close();
  }
  // ---- explorer with fashion-cnn from the URL ---------------------------------------------------------------------
  {
    const {page, panel} = await evaluated('?panels=explorer&model=fashion-cnn', 'explorer', 'fashion-cnn');
    check(panel.dataset === 'fashion-mnist', 'explorer: model=fashion-cnn shows the fashion subset', panel.dataset);
    checkEvaluation(panel, 'fashion-cnn', 'explorer (fashion-cnn)');
    await checkExplorer(page, panel, 'explorer (fashion)');
    await shot(page, 'panel-explorer-fashion');
    await page.close();
  }
  // ---- both next to the drawing panel, dark; MLP timings --------------------------------------------------------
  {
    const {page, panel} = await evaluated('?panels=draw,explorer&theme=dark&model=mnist-mlp', 'explorer', 'mnist-mlp');
    checkEvaluation(panel, 'mnist-mlp', 'explorer (mnist-mlp, next to draw, dark)');
    await shot(page, 'panel-explorer-dark');
    await page.close();
  }
  {
    const {page, panel} = await evaluated('?panels=draw,confusion&theme=dark&model=fashion-mlp', 'confusion',
                                          'fashion-mlp');
    checkEvaluation(panel, 'fashion-mlp', 'confusion (fashion-mlp, next to draw, dark)');
    await checkConfusion(page, panel, 'confusion (fashion-mlp, dark)');
    await shot(page, 'panel-confusion-dark');
    await page.close();
  }
  // ---- both panels at once: one evaluation shared ---------------------------------------------------------------
  {
    const {page} = await evaluated('?panels=explorer,confusion', 'confusion', 'mnist-cnn');
    const s = await state(page);
    const e = s.panel_state.explorer, c = s.panel_state.confusion;
    check(e.evaluated === 1000 && e.evaluation_seconds === c.evaluation_seconds && e.accuracy === c.accuracy,
          'explorer + confusion: one shared evaluation', `${e.evaluation_seconds} s, ${c.evaluation_seconds} s`);
    await page.close();
  }
  console.log('\nEvaluation of the 1,000-image subset in the page (wall: page open to done; classify: time in forward passes):');
  for (const t of timings)
    console.log(`  ${t.model.padEnd(12)} ${t.wall.toFixed(1).padStart(5)} s wall, ${t.classify.toFixed(2).padStart(5)} s classify` +
                `  (${(t.classify * 1000 / 1000).toFixed(2)} ms per image)  ${t.query}`);
});
