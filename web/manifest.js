// The rules for weights/manifest.json in the browser: which rows become models and sweeps, and the sentence
// for each row skipped or field ignored. The same rules as wasm/common/manifest.cpp (the desktop's reader);
// both are tested on tests/data/manifest-cases.json (tests/app/test_manifest.cpp, tests/app/test_manifest.mjs).
// A plain script (index.html loads it before page.js, which finds it as window.digitlabManifest) that node
// can also require(). Read next: web/page.js, docs/embedding.md ("The model manifest").
'use strict';

((exports) => {
  const safeName = (name) => typeof name === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(name);
  // Inside weights/: relative, no "..", no scheme, no backslash, no query or fragment.
  const safeFile = (file) => typeof file === 'string' && file.length > 0 && file.length <= 200 &&
      !file.startsWith('/') && !/\.\.|[:\\?#]/.test(file);

  // The manifest as parsed JSON -> {models, sweeps, problems}; nothing throws.
  const readManifest = (manifest) => {
    const models = [], sweeps = [], problems = [];
    if (!manifest || typeof manifest !== 'object' || !Array.isArray(manifest.models)) {
      problems.push('weights/manifest.json has no "models" list (expected {"models": [...]}).');
      return {models, sweeps, problems};
    }
    let haveDefault = false;
    manifest.models.forEach((row, i) => {
      const where = `weights/manifest.json, model ${i + 1}`;
      if (!row || typeof row !== 'object' || Array.isArray(row)) { problems.push(`${where} is not an object; skipped.`); return; }
      if (!safeName(row.name)) { problems.push(`${where}: "name" must be letters, digits, '-', '_' or '.'; skipped.`); return; }
      if (!safeFile(row.file)) { problems.push(`${where} (${row.name}): "file" must be a path inside weights/; skipped.`); return; }
      const text = (value) => (typeof value === 'string' ? value : '');
      const accuracy = typeof row.test_accuracy === 'number' && row.test_accuracy >= 0 && row.test_accuracy <= 1
          ? row.test_accuracy : -1;
      const bytes = Number.isInteger(row.bytes) && row.bytes >= 0 ? row.bytes : 0;
      let record = text(row.record);
      if (record && !safeFile(record)) {
        problems.push(`${where} (${row.name}): "record" must be a path inside weights/; ignored.`);
        record = '';
      }
      let sha256 = text(row.sha256);
      if (sha256 && !/^[0-9a-f]{64}$/.test(sha256)) {
        problems.push(`${where} (${row.name}): "sha256" is not 64 lower-case hex digits; ignored.`);
        sha256 = '';
      }
      let isDefault = row.default === true;
      if (isDefault && haveDefault) {
        problems.push(`${where} (${row.name}) is a second default; the first one counts.`);
        isDefault = false;
      }
      haveDefault = haveDefault || isDefault;
      models.push({name: row.name, file: row.file, architecture: text(row.architecture), dataset: text(row.dataset),
                   dtype: text(row.dtype), accuracy, bytes, sha256, isDefault, record});
    });
    (Array.isArray(manifest.sweeps) ? manifest.sweeps : []).forEach((row, i) => {
      if (!row || typeof row !== 'object' || !safeName(row.name) || !safeFile(row.file)) {
        problems.push(`weights/manifest.json, sweep ${i + 1} needs a "name" (letters, digits, '-', '_', '.') and a ` +
                      '"file" inside weights/; skipped.');
        return;
      }
      sweeps.push({name: row.name, file: row.file, about: typeof row.about === 'string' ? row.about : ''});
    });
    return {models, sweeps, problems};
  };

  // The file's text -> the same; text that is not JSON gives one problem and nothing else.
  const readManifestText = (text) => {
    let manifest;
    try {
      manifest = JSON.parse(text);
    } catch (e) {
      return {models: [], sweeps: [], problems: ['weights/manifest.json is not valid JSON; rebuild the site or fix the file.']};
    }
    return readManifest(manifest);
  };

  Object.assign(exports, {readManifest, readManifestText, safeName, safeFile});
})(typeof module === 'object' && module.exports ? module.exports : (globalThis.digitlabManifest = {}));
