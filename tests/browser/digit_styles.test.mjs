#!/usr/bin/env node
// Browser test of issue 16's drawn-digit set: a sample of it (--per-style N drawings per style, 1 by default:
// 25 drawings over every pen width, size, slant and position; written by digit_styles_report --sample with
// the native reading of each; every drawing of the set natively: tests/styles) is drawn
// with the mouse in the real page, at the page's own pen width (?stroke=4, 7, 10), and read by the page's
// default model. Prints per-style accuracy in the page; checks the page gives the native answer.
// Usage: node digit_styles.test.mjs --root build/wasm/web --out <folder> --report <digit_styles_report>.
// Read next: tests/styles/digit_styles_report.cpp, harness.mjs.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {checker, drawStrokes, fatal, openApp, options, run, start} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.indexOf(name) >= 0 ? argv[argv.indexOf(name) + 1] : fallback);
const report = path.resolve(arg('--report', 'build/native/tests/digit_styles_report'));
const perStyle = Number(arg('--per-style', '1'));
if (!fs.existsSync(report)) fatal(`${report} is missing: build it first (cmake --build build/native --target digit_styles_report)`);

// The native reading of the same drawings, by the same weights the site serves.
if (!fs.existsSync(path.join(opts.root, 'weights/manifest.json')))
  fatal(`${opts.root}/weights/manifest.json is missing: build the site first (cmake --preset wasm && cmake --build --preset wasm, or make test)`);
fs.mkdirSync(opts.out, {recursive: true});
const sampleFile = path.join(opts.out, 'digit-styles-sample.json');
try {
  execFileSync(report, ['--weights', path.join(opts.root, 'weights'), '--sample', sampleFile, '--per-style', String(perStyle)],
               {stdio: ['ignore', 'ignore', 'inherit']});
} catch (e) {
  fatal(`${report} failed: ${e.message}`);
}
const sample = JSON.parse(fs.readFileSync(sampleFile, 'utf8'));
const byWidth = new Map();
for (const d of sample.drawings) {
  const percent = Math.round(d.pen_width * 100);
  if (!byWidth.has(percent)) byWidth.set(percent, []);
  byWidth.get(percent).push(d);
}

const site = await start(opts);
await run(site, {check, finish}, 'digit_styles (the style set drawn in the page)', async () => {
  const results = [];
  const started = Date.now();
  for (const [percent, drawings] of byWidth) {
    const page = await openApp(site.context, site.origin, `?stroke=${percent}`);
    const opened = await page.evaluate(() => window.digitlab.state());
    check(opened.model === sample.model, `pen ${percent} %: the page reads with the model the native figures are for`,
          `page ${opened.model}, native ${sample.model}`);
    for (const d of drawings) {
      await page.evaluate(() => window.digitlab.clear());
      const s = await drawStrokes(page, d.strokes);
      const largest = Math.max(...s.probabilities.map((p, i) => Math.abs(p - d.native_probabilities[i])));
      results.push({...d, page_label: s.prediction, largest});
      if (results.length % 25 === 0) console.log(`  ${results.length}/${sample.drawings.length} drawn (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    await page.close();
  }
  // Per-style accuracy in the page, and where the page and the native core differ.
  const styles = new Map(sample.drawings.map((d) => [`${d.digit} ${d.style}`, {right: 0, total: 0}]));  // set order
  for (const r of results) {
    const key = `${r.digit} ${r.style}`;
    const entry = styles.get(key);
    entry.right += r.page_label === r.digit;
    entry.total += 1;
    styles.set(key, entry);
  }
  const right = results.filter((r) => r.page_label === r.digit).length;
  console.log(`\nIn the page (${sample.model}): ${right}/${results.length} read right ` +
              `(${(100 * right / results.length).toFixed(1)} %); per style:`);
  console.log([...styles].map(([k, v]) => `  ${k.padEnd(16)} ${v.right}/${v.total}`).join('\n'));
  for (const r of results.filter((x) => x.page_label !== x.digit)) console.log(`  misread in the page: ${r.describe} -> ${r.page_label}`);
  const disagree = results.filter((r) => r.page_label !== r.native_label);
  const worst = results.reduce((a, b) => (b.largest > a.largest ? b : a));
  // The page gets the same points as mouse events in CSS pixels, so its ink differs from the native
  // replay by the rounding of each point: the answers must agree, the probabilities to within 0.15.
  check(results.length === sample.drawings.length && results.length >= 25 * perStyle,
        'every drawing of the sample was drawn and read', `${results.length} of ${sample.drawings.length}`);
  check(disagree.length === 0, 'the page gives the native answer for every drawing',
        disagree.map((r) => `${r.describe}: page ${r.page_label}, native ${r.native_label}`).join('; '));
  check(worst.largest <= 0.15, 'the page\'s probabilities are the native ones to within 0.15',
        `largest difference ${worst.largest.toFixed(4)} at ${worst.describe}`);
  fs.writeFileSync(path.join(opts.out, 'digit-styles-browser.json'), JSON.stringify({model: sample.model, results}, null, 1));
});
