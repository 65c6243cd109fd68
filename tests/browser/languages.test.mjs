#!/usr/bin/env node
// Browser test of the languages (issue 17 item 2; wasm/i18n/README.md): ?lang=zh-Hant, zh-Hans and en, and the
// browser's own language when there is no lang=; Chinese fetches its table and font subset (within 100 KB
// gzipped), English fetches neither; the app's texts, state().status, the live region, the page chrome and a
// rejected file's message are in the shown language; a bad lang= or a missing table gives a message, English,
// and no page error; a screenshot of each language. Usage: node languages.test.mjs --root build/wasm/web --out <dir>.
// Read next: harness.mjs, web/page.js (the language's part), wasm/common/i18n.hpp.
import zlib from 'node:zlib';
import {DIGITS, checker, drawStrokes, options, run, screenshot, start, state, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const han = /[\u4e00-\u9fff]/;  // a CJK ideograph

const site = await start(opts, {need: ['lang/zh-Hant.txt', 'lang/zh-Hant.otf', 'lang/zh-Hans.txt', 'lang/zh-Hans.otf']});

// Opens index.html<query> in a context with the given browser locale; records what it fetched from lang/.
async function open(query, {locale = 'en-US', block = false} = {}) {
  const context = await site.browser.newContext({viewport: {width: 1100, height: 720}, locale});
  const errors = [], fetched = [];
  if (block) await context.route('**/lang/**', (route) => route.fulfill({status: 404, body: 'gone'}));
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !block) errors.push(m.text()); });
  page.on('response', async (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/lang/') && r.ok()) fetched.push({path: url.pathname, bytes: (await r.body()).length,
                                                                    gzip: zlib.gzipSync(await r.body(), {level: 9}).length});
  });
  await page.goto(`${site.origin}/index.html${query}`);
  await page.evaluate(() => window.digitlab.ready);
  return {context, page, errors, fetched};
}

await run(site, {check, finish}, 'languages', async () => {
  // ---- each language by lang= ------------------------------------------------------------------------------------
  const expected = {
    'en': {title: 'digitlab: draw a digit', lang: 'en'},
    'zh-Hant': {title: 'digitlab：寫一個數字', lang: 'zh-Hant'},
    'zh-Hans': {title: 'digitlab：写一个数字', lang: 'zh-Hans'},
  };
  const statuses = {};
  for (const [code, want] of Object.entries(expected)) {
    const {context, page, errors, fetched} = await open(`?lang=${code}&panels=draw,prediction,input,model`);
    const s = await drawStrokes(page, DIGITS[1]);
    const chrome = await page.evaluate(() => ({title: document.title, lang: document.documentElement.lang,
                                                live: document.getElementById('prediction').textContent}));
    statuses[code] = s.status;
    check(s.language === code && chrome.lang === want.lang && chrome.title === want.title,
          `lang=${code}: the app and the page say ${code}`, `state ${s.language}, <html lang=${chrome.lang}>, title ${chrome.title}`);
    check(s.prediction === 1 && (code === 'en' ? !han.test(s.status) : han.test(s.status)) && chrome.live === s.status,
          `lang=${code}: a 1 is read and the status and live region are in ${code}`, `${s.status} | live: ${chrome.live}`);
    if (code === 'en') {
      check(fetched.length === 0, 'English fetches nothing from lang/', JSON.stringify(fetched));
    } else {
      const gzip = fetched.reduce((n, f) => n + f.gzip, 0);
      check(fetched.length === 2 && gzip <= 100000,
            `${code} fetches its table and font, ${gzip} B gzipped (at most 100,000)`, JSON.stringify(fetched));
      check(s.messages.length === 0, `${code}: no message`, s.messages.join(' | '));
    }
    // A file the loader refuses: its message is in the shown language too.
    const rejected = await page.evaluate(() => window.digitlab.loadWeights(new Uint8Array([1, 2, 3, 4]), 'broken.dlw')
      .then(() => '', (e) => e.message));
    const after = await state(page);
    const message = after.messages.find((m) => m.includes('broken.dlw')) || '';
    check(rejected !== '' && message !== '' && (code === 'en' ? !han.test(message) : han.test(message)),
          `lang=${code}: a rejected file's message is in ${code}`, message);
    const shot = await screenshot(page, opts, `language-${code}`);
    check(errors.length === 0, `lang=${code}: no page errors (screenshot ${shot})`, errors.join(' | '));
    await context.close();
  }
  check(statuses['zh-Hant'] !== statuses['zh-Hans'], 'Traditional and Simplified Chinese differ',
        `${statuses['zh-Hant']} | ${statuses['zh-Hans']}`);

  // ---- the teaching panels (the lab build) in Chinese ---------------------------------------------------------------
  {
    const {context, page, errors} = await open('?lang=zh-Hant&panels=draw,prediction,network,activations,training');
    await drawStrokes(page, DIGITS[7]);
    const shot = await screenshot(page, opts, 'language-zh-Hant-lab');
    check(errors.length === 0 && (await state(page)).language === 'zh-Hant',
          `the lab build in zh-Hant, no page errors (screenshot ${shot})`, errors.join(' | '));
    await context.close();
  }

  // ---- the browser's language when there is no lang= -----------------------------------------------------------
  for (const [locale, code] of [['zh-TW', 'zh-Hant'], ['zh-CN', 'zh-Hans'], ['fr-FR', 'en']]) {
    const {context, page} = await open('', {locale});
    const s = await state(page);
    check(s.language === code, `a browser in ${locale} gets ${code}`, s.language);
    await context.close();
  }

  // ---- bad input: a lang= the app does not have, a table that cannot be fetched -------------------------------------
  {
    const {context, page, errors} = await open('?lang=klingon', {locale: 'en-US'});
    const s = await state(page);
    check(s.language === 'en' && s.messages.some((m) => m.includes('lang') && m.includes('klingon')) && errors.length === 0,
          'lang=klingon: English and a message naming the parameter', s.messages.join(' | '));
    await context.close();
  }
  {
    const {context, page, errors} = await open('?lang=zh-Hant', {block: true});
    const s = await waitForState(page, (st) => st.messages.length > 0);
    check(s.language === 'en' && s.messages.some((m) => m.includes('zh-Hant') && m.includes('English')) &&
          errors.length === 0 && s.ready, 'a missing lang/zh-Hant.txt: the app in English, a message, no page error',
          s.messages.join(' | '));
    await context.close();
  }
});
