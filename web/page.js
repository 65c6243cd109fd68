// The page around the WebAssembly app: reads weights/manifest.json, fetches weights files for the app,
// opens dropped or picked files, keeps the aria-live prediction current, and offers window.digitlab and
// the same calls through postMessage (docs/embedding.md). The manifest's rules are in manifest.js (loaded
// first). Read next: web/manifest.js, wasm/platform/web_platform.cpp, wasm/app/app.hpp.
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  // embed= is read here too (same rules as wasm/common/url_options.cpp) so the page chrome never flashes.
  const embed = params.has('embed') && ['', '1', 'true', 'yes'].includes(params.get('embed'));
  document.documentElement.classList.toggle('embed', embed);
  // Two builds of the app (wasm/CMakeLists.txt): the demo's four panels in a small one, the teaching panels
  // in digitlab-lab. Any other panel name in the URL needs the lab (which also explains unknown names).
  const DEMO_PANELS = ['draw', 'prediction', 'input', 'model'];
  const wantedPanels = (params.get('panels') || '').split(',').map((name) => name.trim()).filter(Boolean);
  const appBuild = wantedPanels.some((name) => !DEMO_PANELS.includes(name)) ? 'digitlab-lab' : 'digitlab-app';

  // ---- the reader's language (wasm/i18n/README.md): ?lang= (same rule as wasm/common/url_options.cpp),
  // else the first of the browser's languages the app has. English is the source: it fetches nothing.
  const languageOfTag = (tag) => {
    const t = String(tag).toLowerCase();
    if (t === 'en' || t.startsWith('en-')) return 'en';
    if (/^zh-(hant|tw|hk|mo)\b/.test(t)) return 'zh-Hant';
    if (t === 'zh' || /^zh-(hans|cn|sg|my)\b/.test(t)) return 'zh-Hans';
    return null;
  };
  const askedLanguage = ['en', 'zh-hant', 'zh-hans'].includes(String(params.get('lang')).toLowerCase())
    ? languageOfTag(params.get('lang')) : null;  // a bad lang= is explained by the app
  const language = askedLanguage ||
    (navigator.languages || [navigator.language]).map(languageOfTag).find(Boolean) || 'en';
  const translations = new Map();  // English -> the shown language's text, once its table arrived
  // The shown language's text for an English one; each %s is replaced by the next argument.
  const tr = (english, ...args) => {
    let text = translations.get(english) || english;
    for (const arg of args) text = text.replace('%s', () => String(arg));
    return text;
  };
  // The page's own texts: elements marked data-tr (their text) and data-tr-label (their aria-label).
  const translatePage = () => {
    for (const element of document.querySelectorAll('[data-tr]')) {
      element.dataset.en = element.dataset.en || element.textContent.split(/\s+/).join(' ').trim();
      element.textContent = tr(element.dataset.en);
    }
    for (const element of document.querySelectorAll('[data-tr-label]')) {
      element.dataset.enLabel = element.dataset.enLabel || element.getAttribute('aria-label');
      element.setAttribute('aria-label', tr(element.dataset.enLabel));
    }
  };
  const readTable = (bytes) => {
    const lines = new TextDecoder().decode(bytes).split('\n');
    if (!lines[0].startsWith('digitlab-translations 1 ')) throw new Error('not a digitlab translation table');
    const unescape = (t) => t.replace(/\\([nt\\])/g, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
    for (const line of lines.slice(1)) {
      const tab = line.indexOf('\t');
      if (tab > 0 && !line.startsWith('#')) translations.set(unescape(line.slice(0, tab)), unescape(line.slice(tab + 1)));
    }
  };

  const canvas = document.getElementById('canvas');
  const liveRegion = document.getElementById('prediction');
  const alertRegion = document.getElementById('alerts');
  const fatalBox = document.getElementById('fatal');
  const loadingBox = document.getElementById('loading');
  const fileInput = document.getElementById('file-input');
  const timings = {};

  let module = null;       // the Emscripten module once it runs
  let started = false;     // digitlab_start() was called
  let lastStatus = '', lastAlerts = '';
  let resolveReady, rejectReady, readySettled = false;
  const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => {});  // a failed start is shown in the page; callers who await it see the error

  const showFatal = (message) => {
    fatalBox.textContent = message;
    fatalBox.hidden = false;
    loadingBox.hidden = true;
    if (!readySettled) { readySettled = true; rejectReady(new Error(message)); }
  };

  // ---- fetching (only from this page's origin: the page works offline from any static server) ---------
  const sameOriginUrl = (path) => {
    const url = new URL(path, location.href);
    if (url.origin !== location.origin) {
      throw new Error(`${url.href} is not on this page's origin (${location.origin}); the page only loads ` +
                      'its own files. Fetch it yourself and pass the ArrayBuffer to loadWeights.');
    }
    return url;
  };
  const fetchBytes = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status} ${response.statusText}`.trim());
    return response.arrayBuffer();
  };
  const weightsRequests = new Map();  // file -> Promise<ArrayBuffer>; the default model is fetched early
  const fetchWeightsFile = (file) => {
    if (!weightsRequests.has(file)) {
      const request = (async () => fetchBytes(sameOriginUrl(`weights/${file}`)))();
      request.catch(() => weightsRequests.delete(file));
      weightsRequests.set(file, request);
    }
    return weightsRequests.get(file);
  };
  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
  const checkSha256 = async (file, bytes, sha256) => {
    if (!sha256 || !(window.crypto && crypto.subtle)) return;  // no subtle crypto on insecure origins
    const got = hex(await crypto.subtle.digest('SHA-256', bytes));
    if (got !== sha256) {
      throw new Error(`weights/${file} does not match the sha256 in weights/manifest.json (file ${got.slice(0, 12)}..., ` +
                      `manifest ${sha256.slice(0, 12)}...): the site is stale; rebuild it with the wasm preset.`);
    }
  };

  // The language's table and font subset, fetched while the wasm compiles; the app starts once they are in.
  const languageRequest = language === 'en' ? null
    : Promise.all([fetchBytes(sameOriginUrl(`lang/${language}.txt`)), fetchBytes(sameOriginUrl(`lang/${language}.otf`))]);
  if (languageRequest) {
    languageRequest.then(([table]) => {
      readTable(table);
      document.documentElement.lang = language;
      translatePage();
    }).catch(() => {});  // said in the app when it starts (startApp)
  }

  // ---- the manifest: web/manifest.js has its rules (the same as wasm/common/manifest.cpp) -----------------------
  const manifestRules = window.digitlabManifest;
  const manifestRequest = manifestRules
    ? fetchBytes(sameOriginUrl('weights/manifest.json'))
      .then((bytes) => manifestRules.readManifestText(new TextDecoder().decode(bytes)))
    : Promise.reject(new Error('manifest.js did not load: the site is incomplete; build it with the wasm preset'));
  // Start the likely model's download while the wasm compiles (the app still decides what it loads).
  manifestRequest.then(({models}) => {
    const wanted = models.find((m) => m.name === params.get('model')) || models.find((m) => m.isDefault) || models[0];
    if (wanted) fetchWeightsFile(wanted.file).catch(() => {});
  }).catch(() => {});

  // ---- bytes into the app -------------------------------------------------------------------------------
  const withBytes = (bytes, call) => {
    const view = new Uint8Array(bytes);
    const pointer = module._malloc(Math.max(1, view.length));
    if (!pointer) throw new Error(`no memory for ${view.length} bytes`);
    try {
      module.HEAPU8.set(view, pointer);
      return call(pointer, view.length);
    } finally {
      module._free(pointer);
    }
  };

  // ---- PyTorch files: converted to a weights file by a module fetched on first use (docs/pytorch.md) -------
  // A torch.save archive is a ZIP; a .safetensors file starts with its header's length and a JSON object;
  // a pre-1.6 torch.save file is a bare pickle (the importer explains how to re-save it).
  const isPyTorchFile = (bytes) => {
    const view = new Uint8Array(bytes, 0, Math.min(bytes.byteLength, 9));
    if (view.length >= 4 && view[0] === 0x50 && view[1] === 0x4b && view[2] === 3 && view[3] === 4) return true;
    if (view.length >= 2 && view[0] === 0x80 && view[1] >= 2 && view[1] <= 5) return true;
    if (view.length < 9 || view[8] !== 0x7b) return false;
    const headerLength = new DataView(bytes).getUint32(0, true) + new DataView(bytes).getUint32(4, true) * 2 ** 32;
    return 8 + headerLength <= bytes.byteLength;
  };
  let importer = null;  // Promise of the importer module
  const loadImporter = () => {
    importer = importer || new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = 'digitlab-import.js';
      const incomplete = tr('%s did not load: the site is incomplete. Build it with the wasm preset (make demo).',
                            'digitlab-import.js');
      script.onerror = () => reject(new Error(incomplete));
      script.onload = () => createDigitlabImporter({print: (t) => console.log(t), printErr: (t) => console.warn(t)})
        .then(resolve, reject);
      document.head.appendChild(script);
    });
    importer.catch(() => { importer = null; });  // a later file tries again
    return importer;
  };
  const IMPORT_DEFAULTS = {architecture: 'auto', normalize: [0.5, 0.5], activation: 'relu', dataset: 'mnist'};
  // The weights file for a PyTorch file's bytes, or an Error with the importer's sentence.
  const importPyTorch = async (bytes, label, options) => {
    const o = {...IMPORT_DEFAULTS, ...(options || {})};
    const [mean, std] = Array.isArray(o.normalize) ? o.normalize.map(Number) : [NaN, NaN];
    if (!(mean >= -10 && mean <= 10) || !(std > 0 && std <= 10)) {
      throw new Error(`normalize must be [mean, std] with std > 0 (the tutorial's is [0.5, 0.5]), not ${JSON.stringify(o.normalize)}`);
    }
    const m = await loadImporter();
    const view = new Uint8Array(bytes);
    const pointer = m._malloc(Math.max(1, view.length));
    if (!pointer) throw new Error(`no memory for ${view.length} bytes`);
    try {
      m.HEAPU8.set(view, pointer);
      const error = m.ccall('digitlab_import', 'string',
                            ['number', 'number', 'string', 'string', 'number', 'number', 'string', 'string'],
                            [pointer, view.length, label, String(o.architecture), mean, std, String(o.activation),
                             String(o.dataset)]);
      if (error) throw new Error(error);
      const out = m.ccall('digitlab_import_output', 'number', [], []);
      return m.HEAPU8.slice(out, out + m.ccall('digitlab_import_output_size', 'number', [], [])).buffer;
    } finally {
      m._free(pointer);
    }
  };

  // ---- what the app calls (wasm/platform/web_platform.cpp, Module.digitlabPage) --------------------------------
  let publishQueued = false;
  const hooks = {
    fetchWeights(index, file, sha256) {
      fetchWeightsFile(file)
        .then((bytes) => {
          // The loader checks the file's own CRCs and self-test; the manifest's sha256 only says whether the
          // site is stale, so it is checked alongside instead of before (it cost ~0.1 s of first load).
          checkSha256(file, bytes, sha256).catch((e) => module.ccall('digitlab_add_message', null, ['string'], [e.message]));
          const arrived = performance.now();
          withBytes(bytes, (pointer, n) => module._digitlab_weights_arrived(index, pointer, n));
          weightsRequests.delete(file);  // the app keeps the loaded model; the bytes are not needed again
          if (timings.weights_fetched_ms === undefined) {
            timings.weights_fetched_ms = arrived;
            timings.weights_load_ms = performance.now() - arrived;  // load_weights: parse, checks, self-test
          }
        })
        .catch((e) => module.ccall('digitlab_weights_failed', null, ['number', 'string'], [index, String(e.message || e)]));
    },
    // A site file for the teaching panels (wasm/common/assets.hpp): run records, sweeps, test subsets,
    // training sets. A .gz file arrives inflated where the browser can (DecompressionStream, in small tasks
    // between frames), so that the app's reader does not spend one long frame on it (0.3 s for a 47 MB
    // training set); the app reads raw idx files as well. Where it cannot, or the file is not valid gzip,
    // the bytes go as they came and the app's reader says what is wrong with them.
    fetchAsset(path) {
      const inflated = async (bytes) => {
        if (!path.endsWith('.gz') || typeof DecompressionStream !== 'function') return bytes;
        try {
          return await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
        } catch {
          return bytes;
        }
      };
      (async () => inflated(await fetchBytes(sameOriginUrl(path))))()
        .then((bytes) => withBytes(bytes, (pointer, n) =>
          module.ccall('digitlab_asset_arrived', null, ['string', 'number', 'number'], [path, pointer, n])))
        .catch((e) => module.ccall('digitlab_asset_failed', null, ['string', 'string'], [path, String(e.message || e)]));
    },
    // The demo build was asked for a teaching panel (menu, showPanels): reload with the lab build.
    openTeachingBuild(query) { location.search = `?${query}`; },
    openFilePicker() { fileInput.click(); },
    // "Copy link" in the app's menu. Without the clipboard (refused, or a page not served over https) the
    // link itself is shown, to copy by hand.
    copyLink(query) {
      const url = shareUrlFor(query);
      const say = (text) => module.ccall('digitlab_add_message', null, ['string'], [text]);
      const copied = navigator.clipboard ? navigator.clipboard.writeText(url) : Promise.reject(new Error('no clipboard'));
      copied.then(() => say(tr('Link copied: it reopens this model, these panels and this drawing.')),
                  () => say(tr('The clipboard was refused; copy this link: %s', url)));
    },
    // A "Download" button (the train panel's model files): the bytes as a Blob behind an <a download>.
    saveFile(name, bytes) {
      const url = URL.createObjectURL(new Blob([bytes], {type: 'application/octet-stream'}));
      const link = Object.assign(document.createElement('a'), {href: url, download: name});
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    },
    stateChanged() {
      if (publishQueued) return;
      publishQueued = true;
      queueMicrotask(publish);  // after the app's call returns; several changes become one update
    },
    fatal: showFatal,
  };

  const shareUrlFor = (query) => `${location.origin}${location.pathname}?${query}`;
  const readState = () => JSON.parse(module.ccall('digitlab_state_json', 'string', [], []));
  const publicState = (s) => ({
    ready: s.ready, loading: s.loading, model: s.model, empty: s.empty, prediction: s.prediction, label: s.label,
    probabilities: s.probabilities, top_probability: s.top_probability, unsure: s.unsure, status: s.status,
    error: s.error, messages: s.messages, models: s.models, panels: s.panels, available_panels: s.available_panels,
    embed: s.embed, language: s.language, strokes: s.strokes, up_to_date: s.up_to_date, predictions: s.predictions, latency_ms: s.latency_ms,
    latency_summary_ms: s.latency_summary_ms, frames: s.frames, panel_state: s.panel_state, build: appBuild,
    copy_link_rect: s.copy_link_rect,
    timings: {...timings},
  });

  function publish() {
    publishQueued = false;
    if (!module) return;
    const s = readState();
    if (!Array.isArray(s.messages)) return;  // the app did not start (no WebGL 2): the page already says why
    if (s.status !== lastStatus) { lastStatus = s.status; liveRegion.textContent = s.status; }
    const alerts = s.messages.join('\n');
    if (alerts !== lastAlerts) { lastAlerts = alerts; alertRegion.textContent = alerts; }
    if (s.ready && timings.first_model_ms === undefined) timings.first_model_ms = performance.now();
    if (!s.empty && timings.first_prediction_ms === undefined) timings.first_prediction_ms = performance.now();
    if (started && !s.loading) loadingBox.hidden = true;  // loaded, or failed with a message in the app
    if (!readySettled && started && !s.ready && !s.loading) {
      readySettled = true;
      rejectReady(new Error(s.error || s.messages[s.messages.length - 1] || 'no model could be loaded'));
    }
    if (window.parent !== window) window.parent.postMessage({digitlab: 'event', type: 'state', state: publicState(s)}, '*');
  }

  // ready: a model is loaded and the drawing area has been laid out (so drawingRect() is real).
  const waitUntilReady = () => {
    if (readySettled) return;
    const s = readState();
    if (!s.drawing_rect) return;  // the app did not start
    const drawn = s.drawing_rect.width > 0 || !s.panels.includes('draw');
    if (s.ready && drawn) {
      readySettled = true;
      timings.ready_ms = performance.now();
      loadingBox.hidden = true;
      resolveReady(publicState(s));
      return;
    }
    requestAnimationFrame(waitUntilReady);
  };

  // ---- the JavaScript API (docs/embedding.md) -------------------------------------------------------------
  const startedWaiters = [];  // loadWeights calls made before the app started
  const needModule = () => { if (!module || !started) throw new Error('the app is still starting: await digitlab.ready'); };
  const describe = (value) => Object.prototype.toString.call(value).slice(8, -1);
  const api = {
    ready,
    version: 1,
    state() { needModule(); return publicState(readState()); },
    clear() { needModule(); module._digitlab_clear(); },
    undo() { needModule(); module._digitlab_undo(); },
    // A link to what is shown: model, panels, theme, embed, pen width and the drawing (docs/embedding.md).
    shareUrl() { needModule(); return shareUrlFor(module.ccall('digitlab_share_query', 'string', [], [])); },
    drawingRect() {
      needModule();
      const {x, y, width, height} = readState().drawing_rect;
      if (!(width > 0)) return null;  // no draw panel shown
      const box = canvas.getBoundingClientRect();
      const k = box.width / canvas.width;  // CSS pixels per framebuffer pixel
      return {x: box.left + x * k, y: box.top + y * k, width: width * k, height: height * k};
    },
    // Show these panels (names as in the URL's panels=, an array or a comma-separated string).
    showPanels(names) {
      needModule();
      const list = Array.isArray(names) ? names.join(',') : String(names);
      const why = module.ccall('digitlab_show_panels', 'string', ['string'], [list]);
      if (why) throw new Error(`showPanels: ${why}`);
      return publicState(readState());
    },
    // The 28x28 image (values in [0, 1], row-major) the model was last given, before its normalisation;
    // null while nothing is drawn.
    modelInput() {
      needModule();
      return JSON.parse(module.ccall('digitlab_model_input_json', 'string', [], []));
    },
    selectModel(name) {
      needModule();
      const why = module.ccall('digitlab_select_model', 'string', ['string'], [String(name)]);
      if (why) throw new Error(`selectModel: ${why}`);
      return publicState(readState());
    },
    // options (PyTorch files only): {architecture: 'auto'|'mlp'|'deep-mlp'|'cnn', normalize: [mean, std],
    // activation: 'relu'|'sigmoid'|'tanh'|'leaky_relu', dataset: 'mnist'|'fashion-mnist'}.
    async loadWeights(source, name, options) {
      await new Promise((resolve) => (started ? resolve() : startedWaiters.push(resolve)));
      let bytes, label = name;
      if (typeof source === 'string' || source instanceof URL) {
        const url = sameOriginUrl(String(source));
        bytes = await fetchBytes(url);
        label = label || decodeURIComponent(url.pathname.split('/').pop()) || 'weights file';
      } else if (describe(source) === 'ArrayBuffer') {
        bytes = source;
      } else if (ArrayBuffer.isView(source)) {
        bytes = source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength);
      } else if (source instanceof Blob) {
        bytes = await source.arrayBuffer();
        label = label || source.name;
      } else {
        throw new TypeError(`loadWeights takes a URL on this origin, an ArrayBuffer, a typed array or a File, not ${describe(source)}`);
      }
      label = String(label || 'weights file');
      // Refused before it is copied into the app's memory; the limit is the app's own (kMaxWeightsBytes).
      const maxBytes = module._digitlab_max_weights_bytes();
      if (bytes.byteLength > maxBytes) {
        const message = tr('%s was not loaded: it has %s MB; the app opens weights files up to %s MB.',
                           label, (bytes.byteLength / 1048576).toFixed(1), maxBytes / 1048576);
        module.ccall('digitlab_add_message', null, ['string'], [message]);
        throw new Error(message);
      }
      if (isPyTorchFile(bytes)) {
        try {
          bytes = await importPyTorch(bytes, label, options);
        } catch (e) {
          const why = String((e && e.message) || e);
          module.ccall('digitlab_user_file_failed', null, ['string', 'string'], [label, why]);
          throw new Error(why);
        }
      }
      const error = withBytes(bytes, (pointer, n) =>
        module.ccall('digitlab_open_user_file', 'string', ['string', 'number', 'number'], [label, pointer, n]));
      if (error) throw new Error(error);
      return publicState(readState());
    },
  };
  window.digitlab = api;

  // ---- postMessage: the same calls from a parent page (docs/embedding.md) --------------------------------
  const methods = ['ready', 'state', 'clear', 'undo', 'shareUrl', 'drawingRect', 'modelInput', 'selectModel', 'showPanels',
                   'loadWeights'];
  window.addEventListener('message', async (event) => {
    const message = event.data;
    if (!message || typeof message !== 'object' || message.digitlab !== 'call') return;
    const answer = (payload) => {
      if (!event.source) return;
      event.source.postMessage({digitlab: 'reply', id: message.id, method: message.method, ...payload},
                               event.origin && event.origin !== 'null' ? event.origin : '*');
    };
    try {
      if (!methods.includes(message.method)) {
        throw new Error(`unknown method "${String(message.method).slice(0, 40)}"; the methods are ${methods.join(', ')}`);
      }
      const args = Array.isArray(message.args) ? message.args : [];
      const result = message.method === 'ready' ? await api.ready : await api[message.method](...args);
      answer({ok: true, result: result === undefined ? null : result});
    } catch (e) {
      answer({ok: false, error: String((e && e.message) || e)});
    }
  });

  // ---- files: the picker and drag and drop anywhere on the page -------------------------------------------
  const openFile = (file) => { if (file) api.loadWeights(file).catch(() => {}); };  // errors show in the app
  fileInput.addEventListener('change', () => { openFile(fileInput.files[0]); fileInput.value = ''; });
  document.getElementById('open-file').addEventListener('click', () => fileInput.click());
  let dragDepth = 0;
  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes('Files');
  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    dragDepth += 1;
    document.documentElement.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) document.documentElement.classList.remove('dragging');
  });
  document.addEventListener('dragover', (event) => { if (hasFiles(event)) event.preventDefault(); });
  document.addEventListener('drop', (event) => {
    dragDepth = 0;
    document.documentElement.classList.remove('dragging');
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    openFile(event.dataTransfer.files[0]);
  });
  // Strokes that leave the canvas still end on release: the canvas keeps the pointer while it is down
  // (mouse events follow pointer capture), and the page does not scroll under a finger or pen.
  canvas.addEventListener('pointerdown', (event) => {
    try { canvas.setPointerCapture(event.pointerId); } catch (e) { /* not capturable: fine */ }
  });

  // ---- start ---------------------------------------------------------------------------------------------------
  const appScript = document.createElement('script');
  appScript.src = `${appBuild}.js`;
  appScript.onerror = () => showFatal(tr('%s did not load: the site is incomplete. Build it with the wasm preset (make demo).',
                                         `${appBuild}.js`));
  appScript.onload = () => {
    if (typeof createDigitlabModule !== 'function') {
      showFatal(tr('%s is not the digitlab app: rebuild the site with the wasm preset (make demo).', `${appBuild}.js`));
      return;
    }
    startApp();
  };
  document.body.appendChild(appScript);

  // Frames on demand (wasm/main.cpp): the app draws only when something changed. It is told when its
  // canvas is resized, and whether it can be seen at all: a hidden tab or an iframe scrolled out of view
  // draws nothing, even while a panel is busy.
  function watchCanvas() {
    new ResizeObserver(() => module.ccall('digitlab_wake', null, [], [])).observe(canvas);
    let onScreen = true;
    const tell = () => module.ccall('digitlab_set_visible', null, ['number'],
                                    [onScreen && document.visibilityState !== 'hidden' ? 1 : 0]);
    new IntersectionObserver((entries) => {
      onScreen = entries[entries.length - 1].isIntersecting;
      tell();
    }).observe(canvas);
    document.addEventListener('visibilitychange', tell);
  }

  function startApp() {
    createDigitlabModule({canvas, digitlabPage: hooks, print: (text) => console.log(text),
                          printErr: (text) => console.warn(text)})
      .then(async (instance) => {
        module = instance;
        timings.wasm_ms = performance.now();
        let rows = [], sweepRows = [];
        try {
          const {models, sweeps, problems} = await manifestRequest;
          rows = models;
          sweepRows = sweeps;
          for (const problem of problems) module.ccall('digitlab_add_message', null, ['string'], [problem]);
        } catch (e) {
          const reason = String(e.message || e).replace(/^\/?[^:]*manifest\.json: /, '');
          module.ccall('digitlab_add_message', null, ['string'], [tr('Could not read weights/manifest.json (%s).', reason)]);
        }
        for (const m of rows) {
          module.ccall('digitlab_add_model', null,
                       ['string', 'string', 'string', 'string', 'string', 'number', 'number', 'string', 'number', 'string'],
                       [m.name, m.file, m.architecture, m.dataset, m.dtype, m.accuracy, m.bytes, m.sha256, m.isDefault ? 1 : 0,
                        m.record]);
        }
        for (const w of sweepRows) {
          module.ccall('digitlab_add_sweep', null, ['string', 'string', 'string'], [w.name, w.file, w.about]);
        }
        if (languageRequest) {
          try {
            const [table, font] = await languageRequest;
            const why = withBytes(table, (tablePointer, tableSize) => withBytes(font, (fontPointer, fontSize) =>
              module.ccall('digitlab_set_language', 'string', ['number', 'number', 'number', 'number'],
                           [tablePointer, tableSize, fontPointer, fontSize])));
            if (why) throw new Error(why);
          } catch (e) {
            translations.clear();
            document.documentElement.lang = 'en';
            translatePage();
            module.ccall('digitlab_add_message', null, ['string'],
                         [`The ${language} texts could not be loaded (${(e && e.message) || e}); the app is in English.`]);
          }
        }
        started = true;
        module.ccall('digitlab_start', null, ['string'], [location.search]);
        startedWaiters.splice(0).forEach((resolve) => resolve());
        watchCanvas();
        publish();
        waitUntilReady();
      })
      .catch((e) => showFatal(tr('The app could not start: %s', (e && e.message) || e)));
  }
})();
