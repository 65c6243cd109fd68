#!/usr/bin/env node
// Browser test of the teaching panels that show what becomes of a drawing: activations, network and
// preprocess, each alone and next to the drawing panel (dark theme), with a 7 drawn, one interaction each
// proven by the state (drag the alpha slider, click a layer and a feature map, toggle "skip centring").
// Screenshots panel-activations.png, panel-network.png, panel-preprocess.png (+ variants).
// Usage: node teaching_drawing_panels.test.mjs --root build/wasm/web --out <folder>.
// Read next: harness.mjs, wasm/teaching/panel_activations.cpp.
import {DIGITS, checker, displayToPage, drawStrokes, openApp, options, run, screenshot, start, state, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const site = await start(opts);

async function clickBox(page, box, fx = 0.5) {
  const [x, y] = await displayToPage(page, box.x + box.width * fx, box.y + box.height / 2);
  await page.mouse.click(x, y);
}
async function drag(page, box, from, to) {
  const y = box.y + box.height / 2;
  await page.mouse.move(...await displayToPage(page, box.x + box.width * from, y));
  await page.mouse.down();
  await page.mouse.move(...await displayToPage(page, box.x + box.width * to, y), {steps: 6});
  await page.mouse.up();
}
// A 7 drawn small in the top-left part of the drawing area, to make the preprocessing steps matter.
const smallSeven = DIGITS[7].map((stroke) => stroke.map(([x, y]) => [0.08 + x * 0.5, 0.06 + y * 0.5]));

await run(site, {check, finish}, 'teaching_drawing_panels', async () => {
  // ---- activations alone: choose leaky ReLU, drag alpha, hover a plot; softmax with a colder temperature ----
  {
    const page = await openApp(site.context, site.origin, '?panels=activations');
    let s = await waitForState(page, (st) => st.panel_state.activations && st.panel_state.activations.controls &&
                                             st.panel_state.activations.controls.leaky_relu);
    let a = s.panel_state.activations;
    check(a.function === 'sigmoid' && Math.abs(a.probability_sum - 1) < 1e-9, 'activations alone: opens on sigmoid',
          `${a.function}, sum ${a.probability_sum}`);
    await clickBox(page, a.controls.leaky_relu, 0.1);
    s = await waitForState(page, (st) => st.panel_state.activations.function === 'leaky_relu' &&
                                         st.panel_state.activations.controls.alpha);
    a = s.panel_state.activations;
    const before = a.alpha;
    await drag(page, a.controls.alpha, 0.05, 0.5);
    s = await waitForState(page, (st) => Math.abs(st.panel_state.activations.alpha - 0.1) > 0.2);
    a = s.panel_state.activations;
    check(a.alpha > before + 0.2, 'activations: dragging the alpha slider changes alpha', `${before} -> ${a.alpha}`);
    const plot = a.controls.f_plot;
    await page.mouse.move(...await displayToPage(page, plot.x + plot.width * 0.3, plot.y + plot.height / 2));
    s = await waitForState(page, (st) => st.panel_state.activations.readout && st.panel_state.activations.readout.x < 0);
    a = s.panel_state.activations;
    check(Math.abs(a.readout.f - a.alpha * a.readout.x) < 1e-4 && Math.abs(a.readout.derivative - a.alpha) < 1e-6,
          'activations: the hover readout gives f(x) = alpha x and f\'(x) = alpha left of 0', JSON.stringify(a.readout));
    await screenshot(page, opts, 'panel-activations');

    await clickBox(page, a.controls.softmax, 0.1);
    s = await waitForState(page, (st) => st.panel_state.activations.function === 'softmax' &&
                                         st.panel_state.activations.controls.temperature);
    a = s.panel_state.activations;
    const topBefore = Math.max(...a.probabilities);
    await drag(page, a.controls.temperature, 0.5, 0.02);
    s = await waitForState(page, (st) => st.panel_state.activations.temperature < 0.5);
    a = s.panel_state.activations;
    check(Math.max(...a.probabilities) > topBefore && Math.abs(a.probability_sum - 1) < 1e-9,
          'softmax: a colder temperature sharpens p and it still sums to 1',
          `T ${a.temperature}, top ${topBefore.toFixed(3)} -> ${Math.max(...a.probabilities).toFixed(3)}`);
    await screenshot(page, opts, 'panel-activations-softmax');
    await page.close();
  }
  // ---- activations next to the drawing panel, dark: the drawing's logits into softmax --------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=draw,activations&theme=dark');
    await waitForState(page, (st) => st.panel_state.activations && st.panel_state.activations.controls);
    const drawn = await drawStrokes(page, DIGITS[7]);
    let a = (await state(page)).panel_state.activations;
    await clickBox(page, a.controls.softmax, 0.1);
    let s = await waitForState(page, (st) => st.panel_state.activations.controls.use_logits &&
                                             st.panel_state.activations.controls.use_logits.width > 0);
    await clickBox(page, s.panel_state.activations.controls.use_logits);
    s = await waitForState(page, (st) => st.panel_state.activations.inputs.length === 10);
    a = s.panel_state.activations;
    const argmax = a.probabilities.indexOf(Math.max(...a.probabilities));
    check(argmax === drawn.prediction, 'with draw: softmax of the drawing\'s logits picks the prediction',
          `argmax ${argmax}, prediction ${drawn.prediction}`);
    await screenshot(page, opts, 'panel-activations-draw-dark');
    await page.close();
  }
  // ---- network alone (the default CNN): its own drawing area, feature maps, click a layer and a map ------------
  {
    const page = await openApp(site.context, site.origin, '?panels=network');
    let s = await waitForState(page, (st) => st.panel_state.network && st.panel_state.network.layer_count > 0);
    let n = s.panel_state.network;
    check(n.layer_count === 22 && n.parameters === 953290 && n.has_drawing === false,
          'network alone: mnist-cnn has 22 layers and 953,290 parameters', `${n.model}: ${n.layer_count}, ${n.parameters}`);
    check(JSON.stringify(n.layers[0].shape) === '[32,28,28]' && JSON.stringify(n.layers[11].shape) === '[128,3,3]',
          'network: output shapes as digitlab info prints them', `${n.layers[0].shape} ... ${n.layers[11].shape}`);
    await drawStrokes(page, DIGITS[7]);
    s = await waitForState(page, (st) => st.panel_state.network.has_activations);
    n = s.panel_state.network;
    check(n.view === 'maps' && n.maps_drawn === 32 && n.layers.every((l) => l.activation_size === l.shape.reduce((p, d) => p * d, 1)),
          'network: every layer\'s output for the drawing; 32 feature maps for conv 0', `${n.view}, ${n.maps_drawn} maps`);
    await clickBox(page, n.layers[8].row);
    await page.mouse.move(2, 2);
    s = await waitForState(page, (st) => st.panel_state.network.selected_layer === 8 && st.panel_state.network.shown_layer === 8);
    n = s.panel_state.network;
    check(n.maps_drawn === 128, 'network: clicking layer 8 shows its 128 maps', `${n.maps_drawn}`);
    await clickBox(page, n.first_map);
    s = await waitForState(page, (st) => st.panel_state.network.selected_channel === 0);
    const enlarged = s.panel_state.network;
    check(enlarged.shown_layer === 8 && enlarged.first_map.width < n.first_map.width,
          'network: clicking a map enlarges it (the grid of maps shrinks to make room)',
          `layer ${enlarged.shown_layer}, channel ${enlarged.selected_channel}, grid cell ${n.first_map.width} -> ${enlarged.first_map.width}`);
    // Off the maps (a blank spot under the enlarged map) so that no tooltip covers them in the screenshot.
    await page.mouse.move(...await displayToPage(page, n.first_map.x + 560, n.first_map.y + 420));
    await page.waitForTimeout(200);
    await screenshot(page, opts, 'panel-network');

    await page.evaluate(() => window.digitlab.selectModel('mnist-mlp'));
    s = await waitForState(page, (st) => st.panel_state.network.model === 'mnist-mlp' && st.panel_state.network.has_activations);
    n = s.panel_state.network;
    check(n.layer_count === 6 && n.parameters === 669706 && n.view === 'strip',
          'network: mnist-mlp shows 6 layers as strips', `${n.layer_count}, ${n.parameters}, ${n.view}`);
    await screenshot(page, opts, 'panel-network-mlp');
    await page.close();
  }
  // ---- network next to the drawing panel, dark ----------------------------------------------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=draw,network&theme=dark');
    await waitForState(page, (st) => st.panel_state.network && st.panel_state.network.layer_count > 0);
    await drawStrokes(page, DIGITS[7]);
    const s = await waitForState(page, (st) => st.panel_state.network.has_activations);
    check(s.panel_state.network.maps_drawn === 32, 'network with draw, dark: feature maps', `${s.panel_state.network.maps_drawn}`);
    await screenshot(page, opts, 'panel-network-draw-dark');
    await page.close();
  }
  // ---- preprocess alone: a small 7 in a corner, every step predicted, then skip centring -----------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=preprocess');
    await waitForState(page, (st) => st.panel_state.preprocess && st.panel_state.preprocess.toggle);
    const drawn = await drawStrokes(page, smallSeven);
    let s = await waitForState(page, (st) => st.panel_state.preprocess.steps.length === 4);
    let p = s.panel_state.preprocess;
    check(p.steps.every((step) => step.label >= 0 && step.probability > 0), 'preprocess alone: a prediction after every step',
          p.steps.map((step) => `${step.name} ${step.class} ${(100 * step.probability).toFixed(0)}%`).join(', '));
    check(p.final.centred && p.final.label === drawn.prediction, 'preprocess: the final step is what the app predicts',
          `final ${p.final.label}, app ${drawn.prediction}`);
    check(p.box.x < 140 && p.box.y < 140, 'preprocess: the bounding box is in the top-left', JSON.stringify(p.box));
    await screenshot(page, opts, 'panel-preprocess');
    await clickBox(page, p.toggle, 0.03);
    s = await waitForState(page, (st) => st.panel_state.preprocess.skip_centring === true);
    p = s.panel_state.preprocess;
    check(!p.final.centred && p.final.label === p.steps[2].label, 'preprocess: "skip centring" makes the final step the uncentred one',
          `shift ${p.shift}, final ${p.final.class} ${(100 * p.final.probability).toFixed(0)}%`);
    await screenshot(page, opts, 'panel-preprocess-skip');
    await page.close();
  }
  // ---- preprocess next to the drawing panel, dark -------------------------------------------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=draw,preprocess&theme=dark');
    await waitForState(page, (st) => st.panel_state.preprocess && st.panel_state.preprocess.toggle);
    await drawStrokes(page, smallSeven);
    const s = await waitForState(page, (st) => st.panel_state.preprocess.steps.length === 4);
    check(s.panel_state.preprocess.final.centred, 'preprocess with draw, dark: the steps', JSON.stringify(s.panel_state.preprocess.final));
    await screenshot(page, opts, 'panel-preprocess-draw-dark');
    await page.close();
  }
});
