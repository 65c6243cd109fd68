#!/usr/bin/env node
// Reproduces weights/ from scratch (scripts/zoo.json lists each file's command), then writes
// weights/manifest.json and weights/README.md from what the files are: Eigen-core test accuracy, bytes,
// sha256. Usage: node scripts/train-zoo.mjs [--only NAME[,NAME]] [--manifest-only]
// Needs the native build (make native). CPU times on the 2-core machine: docs/benchmarks.md.
import {execFileSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const args = process.argv.slice(2);
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] || '').split(',')) : null;
const manifestOnly = args.includes('--manifest-only');
const zoo = JSON.parse(fs.readFileSync('scripts/zoo.json', 'utf8'));
const trainer = 'build/native/digitlab';
if (!fs.existsSync(trainer)) {
  console.error(`train-zoo: ${trainer} is missing: build it first (make native)`);
  process.exit(2);
}
fs.mkdirSync('build/zoo', {recursive: true});

const fileOf = (entry) => entry.command.match(/-o (\S+)/)[1];
const run = (command) => {
  const [program, ...rest] = command.split(/\s+/);
  return execFileSync(program, rest, {stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 28});
};

if (!manifestOnly) {
  for (const entry of zoo.models) {
    if (only && !only.has(entry.name)) continue;
    console.log(`train-zoo: ${entry.name}: ${entry.command}`);
    const started = Date.now();
    const output = run(entry.command);
    fs.writeFileSync(`build/zoo/${entry.name}.log`, output);
    console.log(`train-zoo: ${entry.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
}

const models = [];
for (const entry of zoo.models) {
  const file = fileOf(entry);
  if (!fs.existsSync(file)) {
    console.error(`train-zoo: ${file} is missing: run node scripts/train-zoo.mjs --only ${entry.name}`);
    process.exit(1);
  }
  const info = JSON.parse(run(`${trainer} info ${file} --json`));
  const evaluation = JSON.parse(run(`${trainer} eval ${file} --json --threads 1`));
  if (!evaluation.passed) {
    console.error(`train-zoo: ${file}: LibTorch and the Eigen core disagree (max |logit diff| ${evaluation.max_abs_logit_diff})`);
    process.exit(1);
  }
  const bytes = fs.readFileSync(file);
  models.push({
    name: entry.name,
    file: path.basename(file),
    dataset: info.card.dataset,
    architecture: info.card.architecture,
    dtype: info.dtype,
    test_accuracy: evaluation.core.correct / evaluation.images,
    bytes: bytes.length,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    parameters: info.parameters,
    recipe: info.card.recipe,
    command: entry.command,
    ...(entry.default ? {default: true} : {}),
  });
  console.log(`train-zoo: ${entry.name}: ${(100 * evaluation.core.accuracy).toFixed(2)} % (Eigen core), ${bytes.length} bytes`);
}
fs.writeFileSync('weights/manifest.json', JSON.stringify({models}, null, 2) + '\n');

const rows = models.map((m) =>
  `| \`${m.file}\`${m.default ? ' (default)' : ''} | ${m.dataset} | ${m.architecture} | ${m.dtype} | ` +
  `${(100 * m.test_accuracy).toFixed(2)} % | ${m.bytes.toLocaleString('en')} | \`${m.sha256.slice(0, 12)}…\` |`);
const commands = models.map((m) => `- \`${m.file}\`: \`${m.command}\``);
fs.writeFileSync('weights/README.md', `# Shipped models

Trained with \`digitlab\` (native/) and read by the Eigen core in the browser demo. Test accuracy is measured by
the Eigen core on the full test set (10,000 images); \`tests/shipped/test_shipped_weights.cpp\` checks every
figure below, the sha256 of every file, and that the default reads synthetic pen drawings. This page and
\`manifest.json\` are written by \`node scripts/train-zoo.mjs\`, which also retrains everything from scratch.

| file | dataset | model | dtype | test accuracy | bytes | sha256 |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Commands, run from the repository root:

${commands.join('\n')}

The float16 and int8 files are the default's weights re-encoded (\`digitlab convert\`): int8 stores one scale
per output channel. The format is \`docs/weights-format.md\`.
`);
console.log('train-zoo: wrote weights/manifest.json and weights/README.md');
