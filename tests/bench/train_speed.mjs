#!/usr/bin/env node
// Training speed, images per second, of the tutorial's three networks with the tutorial's recipe (SGD lr
// 0.01 momentum 0.9, batch 64), measured side by side in one run: the core natively and as WebAssembly
// under node and in headless Chromium, LibTorch (`digitlab train --threads 1` itself), and
// TensorFlow.js (npm, tests/bench/package.json) with its wasm and cpu backends under node and in Chromium;
// all on one thread. Prints a table with the ratios to the core's wasm and the projected time of the
// tutorial's 5 MLP epochs in the page. Read next: train_speed_engines.mjs, then docs/benchmarks.md (its
// section on training speed against LibTorch and TensorFlow).
//
//   node tests/bench/train_speed.mjs [--models mlp,mlp-deep,cnn] [--engines LIST] [--seconds 5]
//        [--count 10000] [--rounds 1] [--native-build build/native] [--wasm-build build/wasm] [--json FILE]
//   engines: core-native, core-wasm-node, core-wasm-chromium, core-web-node, core-web-chromium, libtorch,
//            tfjs-wasm-node, tfjs-cpu-node, tfjs-wasm-chromium, tfjs-cpu-chromium (default: all but the last)
// Needs: cmake --build --preset native --target digitlab train_speed_core; cmake --build --preset wasm
// --target train_speed_core train_speed_core_web; npm ci in tests/bench and tests/browser (scripts/setup does both).
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import {createRequire} from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const fail = (message) => { console.error(`train_speed: ${message}`); process.exit(1); };

// core-web-*: the core built as the lab page ships it (digitlab_core_lab, linked -Oz with LTO and emmalloc as the
// app is: build/wasm/tests/train_speed_core_web).
const ENGINES = ['core-native', 'core-wasm-node', 'core-wasm-chromium', 'core-web-node', 'core-web-chromium', 'libtorch',
                 'tfjs-wasm-node', 'tfjs-cpu-node', 'tfjs-wasm-chromium', 'tfjs-cpu-chromium'];
const models = option('--models', 'mlp,mlp-deep,cnn').split(',');
// tfjs-cpu-chromium is left out unless asked for: TF.js's cpu backend takes about a minute per CNN step.
const engines = option('--engines', ENGINES.filter((e) => e !== 'tfjs-cpu-chromium').join(',')).split(',');
const seconds = Number(option('--seconds', '5'));
const count = Number(option('--count', '10000'));
const rounds = Number(option('--rounds', '1'));
const nativeBuild = path.resolve(repo, option('--native-build', 'build/native'));
const wasmBuild = path.resolve(repo, option('--wasm-build', 'build/wasm'));
const batch = 64;
const measureOptions = {count, batch, warmup: 3, minSteps: 10, minSeconds: seconds};
for (const e of engines) if (!ENGINES.includes(e)) fail(`unknown engine '${e}': choose from ${ENGINES.join(', ')}`);

// ---- the images: the first `count` MNIST training images, the same bytes for every engine but LibTorch,
// which reads data/mnist itself (the first images, as many as its steps need) ----------------------------
function readIdx(name, headerBytes, itemBytes) {
  const file = path.join(repo, 'data/mnist', name);
  let bytes;
  if (fs.existsSync(file)) bytes = fs.readFileSync(file);
  else if (fs.existsSync(`${file}.gz`)) bytes = zlib.gunzipSync(fs.readFileSync(`${file}.gz`));
  else fail(`${file} is missing: run scripts/setup (it fetches MNIST into data/)`);
  if (bytes.length < headerBytes + count * itemBytes) fail(`${file} holds fewer than ${count} images`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, count * itemBytes);
}

// ---- one measurement in this process (node engines run each in a fresh node: no JIT or heap carried over)
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
async function child(engine, model, pixels, labels) {
  const {coreStepper, measure, tfjsStepper} = await import('./train_speed_engines.mjs');
  let stepper;
  if (engine === 'core-wasm-node' || engine === 'core-web-node') {
    const module = path.join(wasmBuild, engine === 'core-wasm-node' ? 'tests/train_speed_core' : 'tests/train_speed_core_web');
    const factory = createRequire(import.meta.url)(`${module}.js`);
    const core = await factory({wasmBinary: fs.readFileSync(`${module}.wasm`)});
    stepper = coreStepper(core, model, pixels, labels, measureOptions);
  } else {
    const core = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const layers = await import('@tensorflow/tfjs-layers');
    const backend = engine === 'tfjs-wasm-node' ? 'wasm' : 'cpu';
    if (backend === 'wasm') {
      core.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);  // node: false already; one thread either way
      wasm.setThreadsCount(1);
    }
    if (!(await core.setBackend(backend))) throw new Error(`TF.js could not start its ${backend} backend`);
    stepper = tfjsStepper({...core, layers: layers.layers, sequential: layers.sequential}, model, pixels, labels, measureOptions);
  }
  const result = measure(stepper.step, {...measureOptions, cpuSeconds});
  stepper.end();
  return result;
}

if (argv[0] === '--child') {
  const [engine, model] = argv.slice(1, 3);
  const pixels = new Uint8Array(fs.readFileSync(option('--images')));
  const labels = new Uint8Array(fs.readFileSync(option('--labels')));
  try {
    console.log(JSON.stringify(await child(engine, model, pixels, labels)));
  } catch (e) {
    console.log(JSON.stringify({error: String(e && e.message ? e.message : e)}));
  }
  process.exit(0);
}

// ---- the driver -------------------------------------------------------------------------------------------
const site = fs.mkdtempSync(path.join(os.tmpdir(), 'digitlab-train-speed-'));
process.on('exit', () => fs.rmSync(site, {recursive: true, force: true}));
const pixels = readIdx('train-images-idx3-ubyte', 16, 784), labels = readIdx('train-labels-idx1-ubyte', 8, 1);
fs.writeFileSync(path.join(site, 'images.bin'), pixels);
fs.writeFileSync(path.join(site, 'labels.bin'), labels);

const need = (file, how) => { if (!fs.existsSync(file)) fail(`${file} is missing: ${how}`); return file; };
const coreNative = path.join(nativeBuild, 'tests/train_speed_core');
const digitlab = path.join(nativeBuild, 'digitlab');
const coreJs = path.join(wasmBuild, 'tests/train_speed_core.js');
if (engines.includes('core-native')) need(coreNative, 'cmake --build --preset native --target train_speed_core');
if (engines.includes('libtorch')) need(digitlab, 'cmake --build --preset native --target digitlab');
if (engines.some((e) => e.startsWith('core-wasm'))) need(coreJs, 'cmake --preset wasm && cmake --build --preset wasm --target train_speed_core');
if (engines.some((e) => e.startsWith('core-web'))) need(path.join(wasmBuild, 'tests/train_speed_core_web.js'), 'cmake --build --preset wasm --target train_speed_core_web');
if (engines.some((e) => e.startsWith('tfjs'))) need(path.join(here, 'node_modules/@tensorflow/tfjs-core'), 'run scripts/setup (npm ci in tests/bench)');

function runChild(engine, model) {
  const out = spawnSync(process.execPath, ['--no-experimental-fetch', fileURLToPath(import.meta.url), '--child', engine, model,
                                           '--images', path.join(site, 'images.bin'), '--labels', path.join(site, 'labels.bin'),
                                           ...argv], {encoding: 'utf8', maxBuffer: 1 << 24});
  const line = out.stdout.trim().split('\n').pop();
  try { return JSON.parse(line); } catch { return {error: `no result (exit ${out.status}): ${out.stderr.slice(-400)}`}; }
}

function runCoreNative(model) {
  const out = spawnSync(coreNative, ['--count', String(count), '--batch', String(batch), '--warmup', '3', '--min-steps', '10',
                                     '--seconds', String(seconds), model], {encoding: 'utf8'});
  if (out.status !== 0) return {error: out.stderr.trim()};
  const r = JSON.parse(out.stdout.trim());
  return {...r, images_per_second: r.images / r.seconds, cpu_images_per_second: r.images / r.cpu_seconds};
}

// CPU seconds a process has used (all its threads), from /proc (clock ticks of 1/100 s on Linux).
function processCpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;  // utime, stime
  } catch { return NaN; }
}

// LibTorch: `digitlab train --threads 1` itself, timed by its own log lines: with --log-every 5 the line
// of step 5 ends the warm-up and the line of the last step ends the measurement; at each line this reads
// the clock and the process's CPU time. Test evaluation (64 images) comes after the last line, outside.
const LIBTORCH_GUESS = {mlp: 10000, 'mlp-deep': 3000, cnn: 1500};  // images/s, to size the run
function runLibtorch(model) {
  const every = 5;
  const timedSteps = Math.max(10, Math.ceil((seconds * LIBTORCH_GUESS[model]) / batch));
  const steps = Math.min(Math.floor(60000 / batch / every) * every, Math.ceil((every + timedSteps) / every) * every);  // its own data: all 60,000 if need be
  const args = ['train', '--model', model, '--threads', '1', '--device', 'cpu', '--epochs', '1', '--limit-train', String(steps * batch),
                '--limit-test', '64', '--log-every', String(every), '--progress', 'off', '--data-dir', path.join(repo, 'data/mnist'),
                '-o', path.join(site, `libtorch-${model}.dlw`)];
  return new Promise((resolve) => {
    const process_ = spawn(digitlab, args, {stdio: ['ignore', 'pipe', 'pipe']});
    const marks = [];  // {step, wall, cpu, loss}
    let pending = '', log = '', header = '';
    process_.stdout.on('data', (data) => {
      const wall = performance.now() / 1000, cpu = processCpuSeconds(process_.pid);
      pending += data;
      log += data;
      for (let end; (end = pending.indexOf('\n')) >= 0; pending = pending.slice(end + 1)) {
        const line = pending.slice(0, end);
        const m = line.match(/Step \[(\d+)\/(\d+)\], Loss: ([0-9.naif]+)/);
        if (m) marks.push({step: Number(m[1]), wall, cpu, loss: Number(m[3])});
        if (/^LibTorch /.test(line)) header = line;
      }
    });
    process_.stderr.on('data', (data) => { log += data; });
    process_.on('close', (code) => {
      const first = marks.find((m) => m.step === every), last = marks[marks.length - 1];
      if (code !== 0 || !first || !last || last.step <= first.step) {
        resolve({error: `digitlab train exited ${code}: ${log.trim().split('\n').slice(-3).join(' / ')}`});
        return;
      }
      const images = (last.step - first.step) * batch, wall = last.wall - first.wall, cpu = last.cpu - first.cpu;
      resolve({steps: last.step - first.step, images, seconds: wall, images_per_second: images / wall, cpu_seconds: cpu,
               cpu_images_per_second: images / cpu, first_loss: marks[0].loss, last_loss: last.loss, libtorch: header});
    });
  });
}

// Chromium: scripts/serve.mjs serves the page, the core's module, the TF.js bundles and the images; every
// measurement opens a fresh tab.
let browser = null, browserServer = null, origin = null, server = null;
async function startChromium() {
  const link = (target, name) => fs.symlinkSync(target, path.join(site, name));
  fs.copyFileSync(path.join(here, 'train_speed.html'), path.join(site, 'index.html'));
  link(path.join(here, 'train_speed_engines.mjs'), 'train_speed_engines.mjs');
  link(coreJs, 'train_speed_core.js');
  link(path.join(wasmBuild, 'tests/train_speed_core.wasm'), 'train_speed_core.wasm');
  for (const ext of ['js', 'wasm']) {
    const file = path.join(wasmBuild, `tests/train_speed_core_web.${ext}`);
    if (fs.existsSync(file)) link(file, `train_speed_core_web.${ext}`);
  }
  fs.mkdirSync(path.join(site, 'tfjs'));
  const dist = (pkg) => path.join(here, 'node_modules/@tensorflow', pkg, 'dist');
  for (const [pkg, file] of [['tfjs-core', 'tf-core.min.js'], ['tfjs-layers', 'tf-layers.min.js'], ['tfjs-backend-cpu', 'tf-backend-cpu.min.js'],
                             ['tfjs-backend-wasm', 'tf-backend-wasm.min.js'], ['tfjs-backend-wasm', 'tfjs-backend-wasm.wasm'],
                             ['tfjs-backend-wasm', 'tfjs-backend-wasm-simd.wasm'], ['tfjs-backend-wasm', 'tfjs-backend-wasm-threaded-simd.wasm']]) {
    if (fs.existsSync(path.join(dist(pkg), file))) link(path.join(dist(pkg), file), `tfjs/${file}`);
  }
  const port = await new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => { const {port: p} = probe.address(); probe.close(() => resolve(p)); });
  });
  origin = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, [path.join(repo, 'scripts/serve.mjs'), '--root', site, '--port', String(port)], {stdio: 'ignore'});
  process.on('exit', () => server.kill('SIGTERM'));
  for (let i = 0; ; ++i) {
    try { if ((await fetch(`${origin}/index.html`)).ok) break; } catch { /* not up yet */ }
    if (i > 100) fail(`scripts/serve.mjs did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let chromium;
  try {
    ({chromium} = createRequire(path.join(repo, 'tests/browser/package.json'))('playwright-core'));
  } catch (e) {
    fail(`playwright-core is not installed in tests/browser: run scripts/setup (npm ci there). (${e.message})`);
  }
  // The browser tests' flags (tests/browser/harness.mjs); no GL is used here.
  // launchServer rather than launch: its process id finds the tabs' renderer processes, whose CPU time
  // this reads around the timed steps.
  browserServer = await chromium.launchServer({executablePath: option('--chromium', '/usr/bin/chromium'), headless: true,
    args: ['--no-sandbox', '--use-gl=swiftshader', '--enable-unsafe-swiftshader', '--disable-gpu',
           '--disable-background-networking', '--disable-component-update', '--no-first-run']});
  browser = await chromium.connect(browserServer.wsEndpoint());
}

// CPU seconds of each renderer process (--type=renderer) descended from our Chromium, by process id.
function rendererCpuSeconds() {
  const parent = new Map(), renderers = [];
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      parent.set(pid, fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) renderers.push(pid);
    } catch { /* gone */ }
  }
  const root = String(browserServer.process().pid), cpu = new Map();
  for (const pid of renderers) {
    for (let p = pid, hops = 0; p && p !== '0' && hops < 10; p = parent.get(p), ++hops) {
      if (p === root) { cpu.set(pid, processCpuSeconds(pid)); break; }
    }
  }
  return cpu;
}

async function runChromium(engine, model) {
  if (!browser) await startChromium();
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => window.benchReady === true, null, {timeout: 30000});
    await page.evaluate(([e, m, o]) => window.prepareEngine(e, m, o), [engine.replace('-chromium', ''), model, measureOptions]);
    const before = rendererCpuSeconds();
    const result = await page.evaluate(() => window.timeEngine());
    const after = rendererCpuSeconds();
    // The tab's renderer is the one that worked: the largest CPU time between the two readings.
    const cpu = Math.max(...[...after].map(([pid, t]) => t - (before.get(pid) ?? t)));
    if (cpu > 0) Object.assign(result, {cpu_seconds: cpu, cpu_images_per_second: result.images / cpu});
    return result;
  } catch (e) {
    const message = String(e.message || e).split('\n')[0].replace(/^page\.evaluate: (Error: )?/, '');
    return {error: `${message}${errors.length ? ` (${errors[0]})` : ''}`};
  } finally {
    await page.close();
  }
}

async function run(engine, model) {
  if (engine === 'core-native') return runCoreNative(model);
  if (engine === 'libtorch') return runLibtorch(model);
  if (engine.endsWith('-chromium')) return runChromium(engine, model);
  return runChild(engine, model);
}

// ---- the run ----------------------------------------------------------------------------------------------
const version = (command, args) => { try { return execFileSync(command, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim().split('\n')[0]; } catch { return 'unknown'; } };
const cpuModel = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || 'unknown';
console.log(`train_speed: ${new Date().toISOString()}, ${os.cpus().length} cores (${cpuModel}), load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`  node ${process.version}, ${version(option('--chromium', '/usr/bin/chromium'), ['--version'])}, ` +
            `TF.js ${(() => { try { return JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')).version; } catch { return 'not installed (npm ci in tests/bench)'; } })()}`);
console.log(`  ${count} MNIST training images, batch ${batch}, SGD lr 0.01 momentum 0.9; per measurement 3 warm-up steps, ` +
            `then at least 10 steps and ${seconds} s; ${rounds} round(s), engines interleaved`);
const results = {};  // model -> engine -> [result per round]
for (let round = 1; round <= rounds; ++round) {
  for (const model of models) {
    for (const engine of engines) {
      const r = await run(engine, model);
      ((results[model] ??= {})[engine] ??= []).push(r);
      const rate = (v) => (v === undefined ? '' : `${Math.round(v)} img/s`);
      console.log(`  round ${round} ${model.padEnd(8)} ${engine.padEnd(18)} ${r.error ? `ERROR ${r.error}` :
        `${rate(r.images_per_second).padStart(11)} wall${r.cpu_images_per_second ? `, ${rate(r.cpu_images_per_second)} CPU time` : ''}` +
        `  (${r.steps} steps, ${r.seconds.toFixed(1)} s, loss ${r.first_loss?.toFixed(3) ?? '-'} -> ${r.last_loss?.toFixed(3) ?? '-'})`}`);
    }
  }
}
if (browser) { await browser.close(); await browserServer.close(); }
console.log(`  load at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// Best round per cell (the least disturbed on a shared machine), wall clock and CPU time separately.
const best = (rs, key) => Math.max(...rs.filter((r) => !r.error && r[key] !== undefined).map((r) => r[key]), -Infinity);
const cell = (v) => (!Number.isFinite(v) ? '-' : v < 10 ? v.toPrecision(2) : Math.round(v).toLocaleString('en-US'));
const ratio = (v, base) => (!Number.isFinite(v) || !Number.isFinite(base) ? '-' : v / base < 0.1 ? `${(v / base).toPrecision(2)}x` : `${(v / base).toFixed(2)}x`);
const lines = ['', '| model | engine | images/s (wall) | x core wasm node | images/s (CPU time) | x core wasm node (CPU) |', '|---|---|---|---|---|---|'];
for (const model of models) {
  const base = best(results[model]['core-wasm-node'] ?? [], 'images_per_second');
  const baseCpu = best(results[model]['core-wasm-node'] ?? [], 'cpu_images_per_second');
  for (const engine of engines) {
    const rs = results[model][engine];
    const wall = best(rs, 'images_per_second'), cpu = best(rs, 'cpu_images_per_second');
    const error = rs.find((r) => r.error);
    lines.push(`| ${model} | ${engine} | ${Number.isFinite(wall) ? cell(wall) : `fails: ${error ? error.error.slice(0, 90) : '?'}`} | ` +
               `${ratio(wall, base)} | ${cell(cpu)} | ${ratio(cpu, baseCpu)} |`);
  }
}
console.log(lines.join('\n'));

// The tutorial's 5 MLP epochs on all 60,000 images in the page: the panel trains about 12 ms of each
// 16.7 ms frame (kTrainBudgetSeconds in wasm/teaching/panel_train.cpp), so the page trains at about 72 % of
// the rate the core reaches on Chromium's main thread with nothing else to do.
const duty = 12 / (1000 / 60);
if (results.mlp) {
  const minutes = (rate) => (Number.isFinite(rate) ? `${(5 * 60000 / (rate * duty) / 60).toFixed(1)} min` : '-');
  console.log(`\nThe tutorial's MLP, 5 epochs x 60,000 images in the page, training ${(duty * 100).toFixed(0)} % of each frame ` +
              '(12 of 16.7 ms, i.e. 60 frames a second; tests/bench/train_panel_frames.mjs measures the real page). Target: under 2 min.');
  for (const [engine, what] of [['core-wasm-chromium', 'the -O3 module'], ['core-web-chromium', "the lab page's build of the core"]]) {
    const rs = results.mlp[engine] ?? [];
    const wall = best(rs, 'images_per_second'), cpu = best(rs, 'cpu_images_per_second');
    if (Number.isFinite(wall)) {
      console.log(`  ${what} in Chromium: ${minutes(wall)} at its wall-clock rate in this run (${cell(wall)} img/s), ` +
                  `${minutes(cpu)} at its CPU-time rate (${cell(cpu)} img/s: a core to itself)`);
    }
  }
}
const jsonFile = option('--json');
if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify({date: new Date().toISOString(), cpu: cpuModel, cores: os.cpus().length, count, batch, seconds, rounds, results}, null, 2));
process.exit(0);  // the static server is a child process: the exit handler stops it and removes the site folder
