#!/usr/bin/env node
// Browser test of bringing your own PyTorch model: the tutorial's MLP and CNN, trained briefly and saved by
// PyTorch (pytorch_page_models.py), are dropped on the page and opened through loadWeights(); the page's
// probabilities for a drawn digit must equal PyTorch's on the 28x28 image the page gave its model. A
// whole-module pickle and a damaged archive are refused with a message and the previous model stays; the
// demo does not fetch the importer until such a file arrives. Screenshot pytorch-import.png.
// Usage: node pytorch_import.test.mjs --root build/wasm/web --out <folder>. Read next: harness.mjs, web/page.js.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {DIGITS, checker, drawStrokes, openApp, options, repo, run, screenshot, start, state, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const python = '/usr/bin/python3';
const helper = path.join(repo, 'tests/browser/pytorch_page_models.py');
try {
  execFileSync(python, ['-c', 'import torch'], {stdio: 'ignore'});
} catch (e) {
  console.log(`pytorch_import: SKIPPED: ${python} cannot import torch (apt: python3-torch; scripts/setup installs it)`);
  process.exit(0);
}
const fixtures = path.join(opts.out, 'pytorch-page');
execFileSync(python, [helper, 'save', fixtures], {stdio: 'inherit'});
const pytorchProbabilities = (file, kind, image) =>
  JSON.parse(execFileSync(python, [helper, 'predict', path.join(fixtures, file), kind], {input: JSON.stringify(image)}).toString());

// Largest |difference| and where, between two probability vectors.
function largestDifference(a, b) {
  let worst = {diff: a.length === b.length ? 0 : Infinity, at: -1};
  for (let i = 0; i < Math.min(a.length, b.length); ++i) {
    const diff = Math.abs(a[i] - b[i]);
    if (diff > worst.diff) worst = {diff, at: i};
  }
  return worst;
}
const TOLERANCE = 1e-4;  // probabilities; the page's image is sent with 6 significant digits

// Drops a file on the page as a user would (a DataTransfer with a File, on the canvas).
async function drop(page, file, name) {
  const bytes = [...fs.readFileSync(file)];
  await page.evaluate(([data, fileName]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(data)], fileName));
    document.getElementById('canvas').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
  }, [bytes, name]);
}

const site = await start(opts, {need: ['digitlab-import.js', 'digitlab-import.wasm']});
await run(site, {check, finish}, 'pytorch_import', async () => {
  const page = await openApp(site.context, site.origin, '');
  const requested = [];
  page.on('request', (request) => requested.push(new URL(request.url()).pathname));
  const shipped = (await state(page)).model;
  check(!requested.some((p) => p.includes('digitlab-import')), 'the demo starts without fetching the importer', requested.join(' '));

  // A whole-module pickle: refused with how to re-save it; the shipped model stays.
  await drop(page, path.join(fixtures, 'whole-module.pth'), 'whole-module.pth');
  let s = await waitForState(page, (st) => st.messages.some((m) => m.startsWith('whole-module.pth was not loaded')));
  check(requested.some((p) => p.endsWith('/digitlab-import.wasm')), 'a dropped .pth fetches the importer module', requested.join(' '));
  check(/forbidden_global/.test(s.error) && /state_dict\(\)/.test(s.error), 'a whole-module pickle is refused, saying how to re-save it', s.error);
  check(s.model === shipped, 'after the refusal the previous model is still loaded', s.model);

  // A damaged archive (one byte of a tensor changed: its CRC-32 no longer matches).
  const damaged = fs.readFileSync(path.join(fixtures, 'model-mlp.pth'));
  damaged[damaged.length >> 1] ^= 0xff;
  const damagedError = await page.evaluate((data) => window.digitlab.loadWeights(new Uint8Array(data), 'damaged.pth').then(() => 'loaded', (e) => e.message), [...damaged]);
  check(/checksum_mismatch|bad_archive/.test(damagedError), 'loadWeights(damaged .pth) rejects with the reader\'s error', damagedError);
  check((await state(page)).model === shipped, 'after it the previous model is still loaded');

  for (const [file, kind] of [['model-mlp.pth', 'mlp'], ['model-cnn.pth', 'cnn']]) {
    await page.evaluate(() => window.digitlab.clear());
    await drop(page, path.join(fixtures, file), file);
    s = await waitForState(page, new Function('st', `return st.model === ${JSON.stringify(file)} && st.ready;`));
    check(s.model === file && !s.error, `${file}: dropped, it is the model in use`, `${s.model} ${s.error || ''}`);
    for (const digit of [7, 1, 0]) {
      await page.evaluate(() => window.digitlab.clear());
      s = await drawStrokes(page, DIGITS[digit]);
      const image = await page.evaluate(() => window.digitlab.modelInput());
      const expected = pytorchProbabilities(file, kind, image);
      const worst = largestDifference(s.probabilities, expected);
      const torchLabel = expected.indexOf(Math.max(...expected));
      check(worst.diff <= TOLERANCE && s.prediction === torchLabel,
            `${file}: a drawn ${digit} gets PyTorch's probabilities (page ${s.prediction}, PyTorch ${torchLabel})`,
            `largest |difference| ${worst.diff.toExponential(2)} at class ${worst.at} (tolerance ${TOLERANCE})`);
    }
  }
  // The same file through loadWeights() with another normalisation: the card says so, the prediction moves.
  const before = (await state(page)).probabilities;
  const bytes = [...fs.readFileSync(path.join(fixtures, 'model-cnn.pth'))];
  await page.evaluate((data) => window.digitlab.loadWeights(new Uint8Array(data), 'model-cnn.pth', {normalize: [0.1307, 0.3081]}), bytes);
  s = await waitForState(page, (st) => st.up_to_date && st.ready);
  const moved = largestDifference(s.probabilities, before);
  check(moved.diff > 1e-3, 'loadWeights(.pth, name, {normalize}) changes what the model sees', `largest change ${moved.diff.toExponential(2)}`);
  const badOption = await page.evaluate((data) => window.digitlab.loadWeights(new Uint8Array(data), 'x.pth', {normalize: [0.5, 0]}).then(() => 'loaded', (e) => e.message), bytes);
  check(/std > 0/.test(badOption), 'a normalisation with std 0 is refused with a message', badOption);
  await screenshot(page, opts, 'pytorch-import');
});
