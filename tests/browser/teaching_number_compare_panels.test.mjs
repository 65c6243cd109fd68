#!/usr/bin/env node
// Browser test of the "number" and "compare" teaching panels: a whole number drawn with the mouse is read
// digit by digit (alone and next to the draw panel); every shipped model reads a drawn 7 after the "Load
// all models" button. Screenshots panel-number.png, panel-compare.png (+ panel-number-dark, panel-compare-alone-dark).
// Usage: node teaching_number_compare_panels.test.mjs --root build/wasm/web --out <folder>.
// Read next: harness.mjs, wasm/teaching/panel_number.cpp, wasm/teaching/panel_compare.cpp.
import fs from 'node:fs';
import path from 'node:path';
import {DIGITS, checker, displayToPage, drawStrokes, openApp, options, repo, run, screenshot, start, state, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const manifest = JSON.parse(fs.readFileSync(path.join(opts.root, 'weights/manifest.json'), 'utf8'));
const shipped = manifest.models || [];

// Digits from tests/data/digit_strokes.json (first style, Catmull-Rom smoothed as tests/support does),
// placed side by side across the drawing area (units 0..1), each in its own box with a gap.
const templates = JSON.parse(fs.readFileSync(path.join(repo, 'tests/data/digit_strokes.json'), 'utf8')).digits;
function smooth(control) {
  if (control.length < 3) return control;
  const at = (i) => control[Math.min(Math.max(i, 0), control.length - 1)];
  const out = [];
  for (let i = 0; i + 1 < control.length; ++i) {
    const [p0, p1, p2, p3] = [at(i - 1), at(i), at(i + 1), at(i + 2)];
    for (let s = 0; s < 8; ++s) {
      const t = s / 8, t2 = t * t, t3 = t2 * t;
      const blend = (a, b, c, d) => 0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3);
      out.push([blend(p0[0], p1[0], p2[0], p3[0]), blend(p0[1], p1[1], p2[1], p3[1])]);
    }
  }
  out.push(control[control.length - 1]);
  return out;
}
function numberStrokes(number) {
  const cell = 0.9 / number.length;
  const height = Math.min(0.5, cell * 1.25), width = height * 0.65;
  const strokes = [];
  [...number].forEach((digit, i) => {
    const style = templates[digit][0];
    const left = 0.05 + cell * i + (cell - width) / 2, top = 0.5 - height / 2;
    for (const control of style.strokes) {
      const path = style.smooth ? smooth(control) : control;
      strokes.push(path.map(([x, y]) => [left + x * width, top + y * height]));
    }
  });
  return strokes;
}

// The drawing area's rect in page pixels, null while none is laid out (publicState has no rect).
const drawingRect = (page) => page.evaluate(() => window.digitlab.drawingRect());

const site = await start(opts);
await run(site, {check, finish}, 'teaching_number_compare_panels', async () => {
  // ---- number, alone: the panel brings its own drawing area --------------------------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=number');
    let s = await waitForState(page, (st) => window.digitlab.drawingRect() && st.panel_state.number);
    check(Boolean(await drawingRect(page)) && s.panel_state.number.status === 'empty', 'number alone: opens with its own drawing area',
          JSON.stringify(s.panel_state.number));
    s = await drawStrokes(page, numberStrokes('42'));
    s = await waitForState(page, (st) => st.panel_state.number.status === 'read');
    const n = s.panel_state.number;
    check(n.text === '42', 'number alone: "42" drawn with the mouse reads 42', `text ${n.text}, ${JSON.stringify(n.digits)}`);
    check(n.digits.length === 2 && n.digits[0].box.x < n.digits[1].box.x, 'number alone: two boxes, left to right',
          JSON.stringify(n.digits.map((d) => d.box)));
    check(n.confidence > 0 && n.confidence <= 1, 'number alone: an overall confidence', String(n.confidence));
    await screenshot(page, opts, 'panel-number');
    await page.close();
  }
  // ---- number next to the draw panel, dark theme ------------------------------------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=draw,number&theme=dark');
    await drawStrokes(page, numberStrokes('17'));
    const s = await waitForState(page, (st) => st.panel_state.number.status === 'read');
    check(s.panel_state.number.text === '17', 'number with draw: "17" reads 17', JSON.stringify(s.panel_state.number));
    await page.evaluate(() => window.digitlab.undo());  // the 7 goes: only the 1 is left
    const after = await waitForState(page, (st) => st.strokes === 1 && st.up_to_date && st.panel_state.number.status === 'read');
    check(after.panel_state.number.text === '1', 'number with draw: undo the 7 -> reads 1', after.panel_state.number.text);
    await drawStrokes(page, numberStrokes('17').slice(1));
    await waitForState(page, (st) => st.panel_state.number.text === '17');
    await screenshot(page, opts, 'panel-number-dark');
    await page.close();
  }
  // ---- compare, next to the draw panel: the button loads every shipped model ----------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=draw,compare');
    let s = await waitForState(page, (st) => st.panel_state.compare && st.panel_state.compare.load_button);
    const c0 = s.panel_state.compare;
    check(c0.loaded === 1 && c0.rows.length === 1, 'compare: only the model in use is loaded at first', `loaded ${c0.loaded}`);
    const bytes = shipped.reduce((sum, m) => sum + m.bytes, 0) - shipped.find((m) => m.name === s.model).bytes;
    check(c0.bytes_to_load === bytes, 'compare: the button says how many bytes the other models are', `${c0.bytes_to_load} vs ${bytes}`);
    const {x, y, width: w, height: h} = c0.load_button;
    const [px, py] = await displayToPage(page, x + w / 2, y + h / 2);
    await page.mouse.click(px, py);
    s = await waitForState(page, (st) => st.panel_state.compare.loaded === st.panel_state.compare.shipped, 60000);
    check(s.panel_state.compare.loaded === shipped.length, `compare: all ${shipped.length} shipped models loaded after the button`,
          `loaded ${s.panel_state.compare.loaded}`);
    check(s.model === manifest.models.find((m) => m.default).name, 'compare: loading them did not switch the model', s.model);
    await drawStrokes(page, DIGITS[7]);
    s = await waitForState(page, (st) => !st.panel_state.compare.empty && st.panel_state.compare.pending === 0);
    const rows = s.panel_state.compare.rows;
    check(rows.length === shipped.length, 'compare: one row per model', `${rows.length} rows`);
    const mnist = rows.filter((r) => r.dataset === 'mnist'), fashion = rows.filter((r) => r.dataset === 'fashion-mnist');
    check(mnist.length >= 2 && mnist.every((r) => r.class === '7'), 'compare: every MNIST model says 7',
          mnist.map((r) => `${r.name}:${r.class} ${(r.probability * 100).toFixed(0)}% ${r.ms.toFixed(2)} ms`).join(', '));
    check(fashion.length >= 1 && fashion.every((r) => r.class.length > 1), 'compare: Fashion models answer with a garment',
          fashion.map((r) => `${r.name}:${r.class}`).join(', '));
    check(rows.every((r) => r.ms > 0), 'compare: every row has a time', rows.map((r) => r.ms.toFixed(2)).join(' '));
    await screenshot(page, opts, 'panel-compare');
    await page.close();
  }
  // ---- compare alone: its own drawing area; nothing loads without the button ----------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=compare&theme=dark');
    const s = await waitForState(page, (st) => window.digitlab.drawingRect() && st.panel_state.compare && st.panel_state.compare.rows.length);
    check(s.panel_state.compare.rows.length === 1 && s.panel_state.compare.requested === false,
          'compare alone (dark): opens with one row and the button', JSON.stringify(s.panel_state.compare).slice(0, 200));
    await drawStrokes(page, DIGITS[1]);
    const after = await waitForState(page, (st) => st.panel_state.compare.pending === 0 && !st.panel_state.compare.empty);
    check(after.panel_state.compare.rows[0].class === '1', 'compare alone: a drawn 1 reads 1', after.panel_state.compare.rows[0].class);
    await screenshot(page, opts, 'panel-compare-alone-dark');
    await page.close();
  }
});
