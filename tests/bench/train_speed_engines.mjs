// The engines of the training-speed benchmark, shared by node (train_speed.mjs --child) and the page it
// opens in Chromium (train_speed.html): one clock for all (measure), the core's wasm module driven a step at
// a time, and TensorFlow.js training the tutorial's networks with the core's recipe (SGD lr 0.01 momentum
// 0.9, batch 64, Normalize(0.5, 0.5), cross-entropy on logits, train mode: batch statistics, dropout).
// The caller passes `tf` in (node: the npm packages; Chromium: their browser bundles).
// Read next: train_speed.mjs (the driver, the table), train_speed_core.cpp (the core's side).

// Times step() (which returns {images, loss}): warmUp() runs the warm-up steps (JIT, kernel set-up, first
// allocations), timeSteps() then steps until `minSteps` are done and `minSeconds` have passed. An engine
// whose first step takes over `slowSeconds` (TF.js's cpu backend on the CNN: tens of seconds) gets no more
// warm-up and one timed step. cpuSeconds(), where the host has one (node: process.cpuUsage), also times the
// stretch in CPU time, which a busy machine does not inflate. Two calls, so that a driver can read a
// browser tab's CPU time between them.
export function warmUp(step, {warmup = 3, slowSeconds = 3} = {}) {
  const start = performance.now();
  const first = step();
  const slow = (performance.now() - start) / 1000 > slowSeconds;
  for (let i = 1; i < (slow ? 1 : warmup); ++i) step();
  return {first, slow};
}

export function timeSteps(step, {first, slow}, {minSteps = 10, minSeconds = 5, cpuSeconds = null} = {}) {
  const wantSteps = slow ? 1 : minSteps, wantSeconds = slow ? 0 : minSeconds;
  const cpuStart = cpuSeconds ? cpuSeconds() : 0;
  const start = performance.now() / 1000;
  let steps = 0, images = 0, seconds = 0, last = first;
  while (steps < wantSteps || seconds < wantSeconds) {
    last = step();
    images += last.images;
    ++steps;
    seconds = performance.now() / 1000 - start;
  }
  const result = {steps, images, seconds, images_per_second: images / seconds, first_loss: first.loss, last_loss: last.loss};
  if (cpuSeconds) {
    result.cpu_seconds = cpuSeconds() - cpuStart;
    result.cpu_images_per_second = images / result.cpu_seconds;
  }
  if (!Number.isFinite(last.loss)) throw new Error(`the loss is ${last.loss}`);
  return result;
}

export const measure = (step, options) => timeSteps(step, warmUp(step, options), options);

// The core's wasm module (build/wasm/tests/train_speed_core.js, created by its factory): a stepper over
// `count` images (pixels: count x 784 bytes; labels: count bytes) copied into the module's memory.
export function coreStepper(core, name, pixels, labels, {count, batch = 64}) {
  const pixelsAt = core._malloc(count * 784), labelsAt = core._malloc(count);
  const nameBytes = core.lengthBytesUTF8(name) + 1, nameAt = core._malloc(nameBytes);
  core.HEAPU8.set(pixels.subarray(0, count * 784), pixelsAt);
  core.HEAPU8.set(labels.subarray(0, count), labelsAt);
  core.stringToUTF8(name, nameAt, nameBytes);
  if (core._digitlab_train_speed_begin(nameAt, pixelsAt, labelsAt, count, batch) !== 0) {
    throw new Error(`core ${name}: ${core.UTF8ToString(core._digitlab_train_speed_error())}`);
  }
  const step = () => {
    const images = core._digitlab_train_speed_steps(1);
    if (images < 0) throw new Error(`core ${name}: ${core.UTF8ToString(core._digitlab_train_speed_error())}`);
    return {images, loss: core._digitlab_train_speed_last_loss()};
  };
  const end = () => {
    core._digitlab_train_speed_end();
    for (const at of [pixelsAt, labelsAt, nameAt]) core._free(at);
  };
  return {step, end};
}

// The networks of architectures.cpp in TF.js's own layout (NHWC; NCHW convolutions are not implemented in
// its cpu and wasm backends). Kernels start from TF.js's default initialisers (Glorot uniform, zero biases),
// which change the loss curve, not the work per step. Batch norm: PyTorch's momentum 0.1 is Keras's 0.9,
// eps 1e-5 as in PyTorch. Max-pool 2x2 floors 7 -> 3 as PyTorch does ('valid').
export function buildModel(tf, name) {
  const model = tf.sequential();
  if (name === 'mlp' || name === 'mlp-deep') {
    const widths = name === 'mlp' ? [512, 512] : [1024, 1024, 512, 512];
    model.add(tf.layers.flatten({inputShape: [28, 28, 1]}));
    for (const width of widths) model.add(tf.layers.dense({units: width, activation: 'relu'}));
    model.add(tf.layers.dense({units: 10}));
    return model;
  }
  if (name !== 'cnn') throw new Error(`unknown model '${name}': choose mlp, mlp-deep or cnn`);
  const batchNorm = () => tf.layers.batchNormalization({axis: -1, momentum: 0.9, epsilon: 1e-5});
  [32, 64, 128].forEach((filters, block) => {
    model.add(tf.layers.conv2d({filters, kernelSize: 3, padding: 'same', ...(block === 0 ? {inputShape: [28, 28, 1]} : {})}));
    model.add(batchNorm());
    model.add(tf.layers.reLU());
    model.add(tf.layers.maxPooling2d({poolSize: 2, strides: 2, padding: 'valid'}));
  });
  model.add(tf.layers.flatten());  // 3 x 3 x 128 = 1152
  for (let i = 0; i < 2; ++i) {
    model.add(tf.layers.dense({units: 512}));
    model.add(batchNorm());
    model.add(tf.layers.reLU());
    model.add(tf.layers.dropout({rate: 0.4}));
  }
  model.add(tf.layers.dense({units: 10}));
  return model;
}

// A TF.js stepper for `name` over `count` images, like coreStepper: each step shuffles (one permutation per
// epoch), normalises the batch's bytes, runs forward, backward and the update, and reads the loss back (as
// the core's step reports it), so no work is left queued behind the clock.
export function tfjsStepper(tf, name, pixels, labels, {count, batch = 64}) {
  const model = buildModel(tf, name);
  const optimizer = tf.train.momentum(0.01, 0.9);  // v = 0.9 v + g; w -= 0.01 v: torch.optim.SGD's rule
  const normalised = new Float32Array(256);
  for (let v = 0; v < 256; ++v) normalised[v] = (v / 255 - 0.5) / 0.5;
  let seed = 1;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const order = Uint32Array.from({length: count}, (_, i) => i);
  let position = count;
  const inputs = new Float32Array(batch * 784);
  const targets = new Int32Array(batch);
  const step = () => {
    if (position >= count) {
      for (let i = count - 1; i > 0; --i) { const j = Math.floor(random() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
      position = 0;
    }
    const n = Math.min(batch, count - position);
    for (let b = 0; b < n; ++b) {
      const image = order[position + b];
      for (let p = 0; p < 784; ++p) inputs[b * 784 + p] = normalised[pixels[image * 784 + p]];
      targets[b] = labels[image];
    }
    position += n;
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(inputs.subarray(0, n * 784), [n, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(targets.subarray(0, n), 'int32'), 10);
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, {training: true})), true);
    });
    const value = loss.dataSync()[0];
    loss.dispose();
    return {images: n, loss: value};
  };
  const end = () => { model.dispose(); optimizer.dispose(); };
  return {step, end, parameters: model.countParams()};
}
