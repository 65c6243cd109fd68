#!/usr/bin/env node
// Reproduces weights/ from scratch (scripts/zoo.json lists each file's command, and the sweeps), then
// writes weights/manifest.json and weights/README.md from what the files are: Eigen-core test accuracy,
// bytes, sha256, the run record of each model (weights/runs/<model>.json, copied from the command's
// --record) and each sweep's table (weights/runs/sweep-<name>.json/.md/.csv, from its --out-dir).
// Usage: node scripts/train-zoo.mjs [--only NAME[,NAME]] [--manifest-only]
//   --only takes model and sweep names; --manifest-only trains nothing: it takes a record or sweep from
//   build/ only when it is newer than the copy in weights/runs/, and lists a record only when it matches
//   its weights file (bytes and recipe).
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
const recordOf = (entry) => (entry.command.match(/--record (\S+)/) || [])[1];
const outDirOf = (sweep) => sweep.command.match(/--out-dir (\S+)/)[1];
const sweeps = zoo.sweeps || [];
fs.mkdirSync('weights/runs', {recursive: true});
const newer = (from, than) => fs.existsSync(from) && (!fs.existsSync(than) || fs.statSync(from).mtimeMs > fs.statSync(than).mtimeMs);

// A run record as shipped: paths made relative to the repository (or cut to the file name) so that no
// machine's folders end up on the site.
const relativePaths = (value) => {
  if (typeof value === 'string' && path.isAbsolute(value)) {
    const relative = path.relative(root, value);
    return relative.startsWith('..') ? path.basename(value) : relative;
  }
  if (Array.isArray(value)) return value.map(relativePaths);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, relativePaths(v)]));
  return value;
};
const shipRecord = (from, to) => {
  const record = JSON.parse(fs.readFileSync(from, 'utf8'));
  if (record.format !== 'digitlab-run-record-1') throw new Error(`${from} is not a digitlab-run-record-1`);
  fs.writeFileSync(to, JSON.stringify(relativePaths(record), null, 2) + '\n');
  console.log(`train-zoo: ${from} -> ${to}`);
};

// A sweep's sweep.csv (+ the header of sweep.md) as weights/runs/sweep-<name>.json for the training panel.
const shipSweep = (sweep) => {
  const dir = outDirOf(sweep);
  const csv = fs.readFileSync(`${dir}/sweep.csv`, 'utf8').trim().split('\n');
  const markdown = fs.readFileSync(`${dir}/sweep.md`, 'utf8');
  const header = csv[0].split(',');
  const column = (name) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${dir}/sweep.csv has no column '${name}' (columns: ${header.join(', ')})`);
    return i;
  };
  const runs = csv.slice(1).map((line) => {
    const cells = line.split(',');
    return {
      run: parseInt(cells[column('run')], 10),
      optimizer: cells[column('optimizer')],
      learning_rate: Number(cells[column('lr')]),
      batch_size: parseInt(cells[column('batch')], 10),
      scheduler: cells[column('scheduler')],
      epochs: parseInt(cells[column('epochs')], 10),
      test_accuracy: Number((Number(cells[column('test acc %')]) / 100).toFixed(6)),
      train_loss: Number(cells[column('train loss')]),
      seconds_per_epoch: Number(cells[column('s/epoch')]),
    };
  });
  const option = (name, fallback) => (sweep.command.match(new RegExp(`--${name} (\\S+)`)) || [])[1] || fallback;
  const images = markdown.match(/seed (\d+), (\d+) training images; test accuracy on (\d+) test images/) || [];
  const best = runs.reduce((a, b) => (b.test_accuracy > a.test_accuracy ? b : a));
  const table = {
    format: 'digitlab-sweep-1',
    name: sweep.name,
    about: sweep.about,
    command: sweep.command,
    dataset: option('dataset', 'mnist'),
    model: option('model', 'mlp'),
    epochs: parseInt(option('epochs', '1'), 10),
    seed: parseInt(images[1] || option('seed', '1'), 10),
    threads: parseInt(option('threads', '0'), 10),
    train_images: parseInt(images[2] || '0', 10),
    test_images: parseInt(images[3] || '0', 10),
    best_run: best.run,
    runs,
  };
  fs.writeFileSync(`weights/runs/sweep-${sweep.name}.json`, JSON.stringify(table, null, 2) + '\n');
  fs.copyFileSync(`${dir}/sweep.md`, `weights/runs/sweep-${sweep.name}.md`);
  fs.copyFileSync(`${dir}/sweep.csv`, `weights/runs/sweep-${sweep.name}.csv`);
  console.log(`train-zoo: ${dir}/sweep.csv -> weights/runs/sweep-${sweep.name}.json (.md, .csv)`);
};
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
    if (recordOf(entry)) shipRecord(recordOf(entry), `weights/runs/${entry.name}.json`);
  }
  for (const sweep of sweeps) {
    if (only && !only.has(sweep.name)) continue;
    console.log(`train-zoo: sweep ${sweep.name}: ${sweep.command}`);
    const started = Date.now();
    fs.writeFileSync(`build/zoo/sweep-${sweep.name}.log`, run(sweep.command));
    console.log(`train-zoo: sweep ${sweep.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    shipSweep(sweep);
  }
} else {
  // Records and sweeps run by hand (the same commands) since the last copy.
  for (const entry of zoo.models) {
    const from = recordOf(entry);
    if (from && newer(from, `weights/runs/${entry.name}.json`)) shipRecord(from, `weights/runs/${entry.name}.json`);
  }
  for (const sweep of sweeps)
    if (newer(`${outDirOf(sweep)}/sweep.csv`, `weights/runs/sweep-${sweep.name}.json`)) shipSweep(sweep);
}

// The record of a model: its own, or for a converted file (f16, int8) the record of the file it came from.
const recordEntryOf = (entry) => {
  if (recordOf(entry)) return entry;
  const source = (entry.command.match(/ convert (\S+)/) || [])[1];
  return zoo.models.find((other) => source && fileOf(other) === source && recordOf(other));
};

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
  // The record must describe this very file: its own weights bytes and recipe (a converted file: its source's).
  let record;
  const recordEntry = recordEntryOf(entry);
  if (recordEntry) {
    const shipped = `weights/runs/${recordEntry.name}.json`;
    const sourceFile = fileOf(recordEntry);
    if (!fs.existsSync(shipped)) {
      console.error(`train-zoo: ${entry.name}: ${shipped} is missing (run ${recordEntry.name}'s command): listed without a record`);
    } else {
      const content = JSON.parse(fs.readFileSync(shipped, 'utf8'));
      const sourceBytes = fs.statSync(sourceFile).size;
      if (content.weights?.bytes !== sourceBytes || content.recipe !== info.card.recipe) {
        console.error(`train-zoo: ${entry.name}: ${shipped} belongs to another training run (record: ${content.weights?.bytes} ` +
                      `bytes, "${content.recipe}"; ${sourceFile}: ${sourceBytes} bytes, "${info.card.recipe}"): listed ` +
                      `without a record. Run ${recordEntry.name}'s command again, or copy its --record file.`);
      } else {
        record = `runs/${recordEntry.name}.json`;
        const difference = Math.abs(content.test.correct - evaluation.core.correct);
        if (difference > 0)
          console.log(`train-zoo: ${entry.name}: the record says ${content.test.correct} correct (LibTorch), the Eigen core ` +
                      `${evaluation.core.correct} (${entry.name === recordEntry.name ? 'float rounding' : 'converted weights'})`);
      }
    }
  }
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
    ...(entry.about ? {about: entry.about} : {}),
    ...(record ? {record} : {}),
    ...(entry.default ? {default: true} : {}),
  });
  console.log(`train-zoo: ${entry.name}: ${(100 * evaluation.core.accuracy).toFixed(2)} % (Eigen core), ${bytes.length} bytes`);
}
const sweepRows = [];
for (const sweep of sweeps) {
  const file = `runs/sweep-${sweep.name}.json`;
  if (!fs.existsSync(`weights/${file}`)) {
    console.error(`train-zoo: weights/${file} is missing: run node scripts/train-zoo.mjs --only ${sweep.name}`);
    continue;
  }
  const table = JSON.parse(fs.readFileSync(`weights/${file}`, 'utf8'));
  sweepRows.push({name: sweep.name, file, about: sweep.about, command: sweep.command, table});
}
fs.writeFileSync('weights/manifest.json', JSON.stringify({
  models,
  sweeps: sweepRows.map(({name, file, about, command}) => ({name, file, about, command})),
}, null, 2) + '\n');

const rows = models.map((m) =>
  `| \`${m.file}\`${m.default ? ' (default)' : ''} | ${m.dataset} | ${m.architecture} | ${m.dtype} | ` +
  `${(100 * m.test_accuracy).toFixed(2)} % | ${m.bytes.toLocaleString('en')} | \`${m.sha256.slice(0, 12)}…\` |`);
const commands = models.map((m) => `- \`${m.file}\`: \`${m.command}\`${m.about ? `\n  ${m.about}` : ''}`);
const records = models.filter((m) => m.record).map((m) => `\`${m.record}\``).filter((r, i, all) => all.indexOf(r) === i);
const sweepSections = sweepRows.map(({name, file, about, command, table}) => {
  const best = table.runs.find((r) => r.run === table.best_run);
  return `### Sweep \`${name}\`

${about} Results: \`${file}\` (the training panel's table), \`runs/sweep-${name}.md\` and \`.csv\` (the trainer's
own). Best: run ${best.run}, ${best.optimizer} lr=${best.learning_rate} batch=${best.batch_size} scheduler=${best.scheduler},
${(100 * best.test_accuracy).toFixed(2)} % test accuracy after ${table.epochs} epoch(s). Command:

\`\`\`
${command}
\`\`\`
`;
});
// The default's training for drawn digits (issue 16), said only while its recipe has it.
const penParagraph = (models.find((m) => m.default)?.recipe || '').includes('pen') ? `The default is trained for drawings as people make them: \`--augment pen\` (native/src/augment.hpp) replaces
part of every MNIST batch by synthetic pen drawings of the same digits in the styles of
\`tests/data/digit_styles.json\` (a flagged 1, a 1 with a base, a crossed 7, a closed 4, a slashed 0, ...), each
with its own random placement. The evaluation set draws the same styles on a fixed grid of pen widths, sizes,
slants and positions with other jitter (tests/support/digit_style_set.cpp); \`tests/styles/test_digit_styles.cpp\`
checks the default reads at least 99.5 % of it with no digit and no style below 97 %, and docs/benchmarks.md
("Digits as people write them") has every model's figures per digit and per style.
` : '';
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

${penParagraph}
## Run records and sweeps (\`runs/\`)

Each trained model's run record (the trainer's \`--record\`, format \`digitlab-run-record-1\`: the configuration,
the loss every 100 steps, test accuracy and learning rate per epoch, timings, the confusion matrix and the
misclassified test images) ships as \`runs/<model>.json\`, named by the model's \`"record"\` in \`manifest.json\`
(the float16 and int8 files point to their float32 source's). The web app's training panel draws them.
Records: ${records.join(', ')}.

${sweepSections.join('\n')}`);
console.log('train-zoo: wrote weights/manifest.json and weights/README.md');
