#!/usr/bin/env node
// The test subsets the teaching panels load (wasm/assets.hpp): the first N images and labels of the MNIST
// and Fashion-MNIST test sets (data/<dataset>/t10k-*.gz, installed by scripts/setup), as gzipped idx files:
//   <out>/<dataset>/test-subset-images-idx3-ubyte.gz, <out>/<dataset>/test-subset-labels-idx1-ubyte.gz
// The build runs it (wasm/CMakeLists.txt). The output is deterministic, and a file whose content would not
// change is left alone. Usage: node scripts/make-test-subset.mjs --data data --out DIR [--count 1000]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const DATASETS = ['mnist', 'fashion-mnist'];

function die(message) {
  console.error(`make-test-subset: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = {data: 'data', out: '', count: 1000};
  for (let i = 0; i < argv.length; ++i) {
    const name = argv[i], value = argv[i + 1];
    if (name === '--data' && value) { args.data = value; ++i; }
    else if (name === '--out' && value) { args.out = value; ++i; }
    else if (name === '--count' && value) { args.count = Number(value); ++i; }
    else die(`unknown or incomplete option ${name}\nusage: node scripts/make-test-subset.mjs --data data --out DIR [--count 1000]`);
  }
  if (!args.out) die('--out DIR is required');
  if (!Number.isInteger(args.count) || args.count < 1 || args.count > 10000) die('--count takes 1 to 10000');
  return args;
}

// An idx file's header: magic (0, 0, type 0x08 = uint8, rank), then rank big-endian uint32 dimensions.
function readIdx(file, rank) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    die(`cannot read ${file} (${e.code || e.message}): run scripts/setup to install the datasets`);
  }
  try {
    bytes = zlib.gunzipSync(bytes);
  } catch (e) {
    die(`${file} is not a valid gzip file (${e.message}): run scripts/setup again to reinstall it`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || bytes[3] !== rank)
    die(`${file} is not an idx${rank} uint8 file (magic ${bytes.subarray(0, 4).toString('hex')})`);
  const dims = [];
  for (let i = 0; i < rank; ++i) dims.push(bytes.readUInt32BE(4 + 4 * i));
  const itemBytes = dims.slice(1).reduce((a, b) => a * b, 1);
  if (bytes.length !== headerBytes + dims[0] * itemBytes)
    die(`${file}: ${bytes.length} bytes, but its header says ${dims.join('x')}`);
  return {dims, itemBytes, body: bytes.subarray(headerBytes)};
}

function subset(idx, rank, count) {
  const header = Buffer.alloc(4 + 4 * rank);
  header[2] = 0x08;
  header[3] = rank;
  header.writeUInt32BE(count, 4);
  for (let i = 1; i < rank; ++i) header.writeUInt32BE(idx.dims[i], 4 + 4 * i);
  return Buffer.concat([header, idx.body.subarray(0, count * idx.itemBytes)]);
}

function writeIfChanged(file, bytes) {
  // gzip with mtime 0 (node's default) and a fixed level: the same input gives the same file.
  const gz = zlib.gzipSync(bytes, {level: 9});
  if (fs.existsSync(file) && fs.readFileSync(file).equals(gz)) return false;
  fs.mkdirSync(path.dirname(file), {recursive: true});
  const temporary = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temporary, gz);
  fs.renameSync(temporary, file);
  return true;
}

const args = parseArgs(process.argv.slice(2));
for (const dataset of DATASETS) {
  const images = readIdx(path.join(args.data, dataset, 't10k-images-idx3-ubyte.gz'), 3);
  const labels = readIdx(path.join(args.data, dataset, 't10k-labels-idx1-ubyte.gz'), 1);
  if (images.dims[0] !== labels.dims[0]) die(`${dataset}: ${images.dims[0]} images but ${labels.dims[0]} labels`);
  const count = Math.min(args.count, images.dims[0]);
  const outDir = path.join(args.out, dataset);
  const wrote = [
    writeIfChanged(path.join(outDir, 'test-subset-images-idx3-ubyte.gz'), subset(images, 3, count)),
    writeIfChanged(path.join(outDir, 'test-subset-labels-idx1-ubyte.gz'), subset(labels, 1, count)),
  ];
  console.log(`${dataset}: the first ${count} test images ${wrote.some(Boolean) ? 'written to' : 'unchanged in'} ${outDir}`);
}
