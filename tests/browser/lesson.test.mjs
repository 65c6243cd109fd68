#!/usr/bin/env node
// Browser test of the lesson pages (web/lesson.html and its Chinese twin web/lesson.zh-Hant.html): with a
// viewport tall enough for all eight lazy iframes every panel loads and reaches digitlab.ready with no error
// in the page or any frame, and the whole page left alone stays under 5 % of one core (the renderer main
// thread, which runs the same-origin iframes too; the figure is printed); at a normal size the iframes
// scrolled out of view draw nothing. The pages link to each other.
// Usage: node lesson.test.mjs --root build/wasm/web --out <folder>. Read next: harness.mjs, web/lesson.html.
import {busyShare, checker, options, run, screenshot, start} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const IDLE_SECONDS = 4;
const LESSONS = [
  {file: 'lesson.html', lang: 'en', other: 'lesson.zh-Hant.html', otherText: '中文', query: ''},
  {file: 'lesson.zh-Hant.html', lang: 'zh-Hant', other: 'lesson.html', otherText: 'English', query: 'lang=zh-Hant'},
];

// Every page error and console error of the page and of all its frames, labelled.
function watchErrors(page, label) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${label}: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${label} console (${m.location().url}): ${m.text()}`); });
  return errors;
}
const appFrames = (page) => page.frames().filter((f) => f !== page.mainFrame());

// Waits until every iframe of the lesson has its app ready; returns the frames in page order.
async function allReady(page, count, timeout = 120000) {
  const deadline = Date.now() + timeout;
  while (appFrames(page).length < count && Date.now() < deadline) await sleep(100);
  const frames = appFrames(page);
  await Promise.all(frames.map(async (frame) => {
    await frame.waitForFunction(() => window.digitlab && window.digitlab.ready, null, {timeout: Math.max(1000, deadline - Date.now())});
    await frame.evaluate(() => window.digitlab.ready);
  }));
  return frames;
}
const framesDrawn = (frames) => Promise.all(frames.map((f) => f.evaluate(() => window.digitlab.state().frames)));

const site = await start(opts, {need: ['lesson.html', 'lesson.zh-Hant.html', 'digitlab-lab.js', 'digitlab-lab.wasm']});
await run(site, {check, finish}, 'lesson', async () => {
  for (const lesson of LESSONS) {
    // ---- every panel on screen at once: all load, no errors, and the page left alone is nearly free ------
    const context = await site.browser.newContext({viewport: {width: 1100, height: 720}});
    const page = await context.newPage();
    const errors = watchErrors(page, lesson.file);
    await page.goto(`${site.origin}/${lesson.file}`);
    const layout = await page.evaluate(() => ({
      lang: document.documentElement.lang, height: document.documentElement.scrollHeight,
      sources: [...document.querySelectorAll('iframe')].map((f) => ({src: f.getAttribute('src'), lazy: f.loading === 'lazy'})),
      links: [...document.querySelectorAll('a')].map((a) => ({href: a.getAttribute('href'), text: a.textContent.trim()})),
    }));
    check(layout.lang === lesson.lang, `${lesson.file}: <html lang="${lesson.lang}">`, layout.lang);
    check(layout.sources.length === 8 && layout.sources.every((s) => s.lazy && s.src.includes('embed=1')),
          `${lesson.file}: eight iframes, each embedded and loaded lazily`, `${layout.sources.length} iframes`);
    check(layout.sources.every((s) => (lesson.query ? s.src.includes(lesson.query) : !s.src.includes('lang='))),
          `${lesson.file}: the iframes ask for ${lesson.query || 'no language (English)'}`, layout.sources.map((s) => s.src).join(' '));
    check(layout.links.some((a) => a.href === lesson.other && a.text === lesson.otherText),
          `${lesson.file}: links to ${lesson.other} ("${lesson.otherText}")`, JSON.stringify(layout.links));
    const otherOk = (await context.request.get(`${site.origin}/${lesson.other}`)).ok();
    check(otherOk, `${lesson.file}: the linked ${lesson.other} is served`);

    // Tall enough that every iframe is in view, so that every one loads.
    await page.setViewportSize({width: 1100, height: layout.height + 100});
    const started = Date.now();
    let frames = [];
    try {
      frames = await allReady(page, 8);
    } catch (e) {
      check(false, `${lesson.file}: every iframe reaches digitlab.ready`, String(e.message || e).split('\n')[0]);
    }
    if (frames.length === 8) {
      check(true, `${lesson.file}: all 8 iframes reach digitlab.ready`, `${((Date.now() - started) / 1000).toFixed(1)} s`);
      // Busy panels (the explorer classifies its test subset, the confusion matrix fills) finish first.
      await sleep(1000);
      const settleDeadline = Date.now() + 90000;
      for (;;) {
        const a = await framesDrawn(frames);
        await sleep(1000);
        const b = await framesDrawn(frames);
        if (a.every((n, i) => n === b[i]) || Date.now() > settleDeadline) break;
      }
      const still = await busyShare(context, page, IDLE_SECONDS, () => framesDrawn(frames));
      const drawn = still.after.reduce((sum, n, i) => sum + n - still.before[i], 0);
      console.log(`lesson idle: ${lesson.file}, 8 panels in view, ${still.seconds.toFixed(1)} s: renderer main thread ` +
                  `${(still.busy * 100).toFixed(2)} % of one core, ${drawn} frames drawn`);
      check(still.busy < 0.05, `${lesson.file}: all panels in view, left alone: under 5 % of one core`,
            `${(still.busy * 100).toFixed(2)} % over ${still.seconds.toFixed(1)} s, ${drawn} frames`);
      console.log(`screenshot: ${await screenshot(page, opts, `lesson-${lesson.lang}-all-panels`)}`);
    }
    check(errors.length === 0, `${lesson.file}: no page or console errors, in the page or any frame (all in view)`,
          errors.slice(0, 4).join(' | '));
    await context.close();

    // ---- a normal window: what is scrolled out of view draws nothing ------------------------------------
    const normal = await site.browser.newContext({viewport: {width: 1100, height: 720}});
    const p = await normal.newPage();
    const normalErrors = watchErrors(p, `${lesson.file} (1100x720)`);
    await p.goto(`${site.origin}/${lesson.file}`);
    // Scroll each iframe into view in turn so that each loads, then back to the top.
    for (let i = 0; i < 8; ++i) {
      await p.evaluate((n) => document.querySelectorAll('iframe')[n].scrollIntoView({block: 'center'}), i);
      await sleep(300);
    }
    let loaded = [];
    try {
      loaded = await allReady(p, 8);
    } catch (e) {
      check(false, `${lesson.file} 1100x720: every iframe loads when scrolled to`, String(e.message || e).split('\n')[0]);
    }
    if (loaded.length === 8) {
      await p.evaluate(() => window.scrollTo(0, 0));
      await sleep(800);
      const inView = await p.evaluate(() => [...document.querySelectorAll('iframe')].map((f) => {
        const r = f.getBoundingClientRect();
        return r.bottom > 0 && r.top < innerHeight;
      }));
      const hidden = loaded.filter((_, i) => !inView[i]);
      const h0 = await framesDrawn(hidden);
      await sleep(2000);
      const h1 = await framesDrawn(hidden);
      const moved = h1.map((n, i) => n - h0[i]);
      check(hidden.length >= 5 && moved.every((n) => n === 0),
            `${lesson.file} 1100x720: the ${hidden.length} iframes out of view draw nothing`, `frames in 2 s: ${moved.join(', ')}`);
      // Out of view and given work (section 5's explorer reclassifies its test subset for another model):
      // still nothing drawn until it is scrolled back, then it carries on.
      const explorerAt = layout.sources.findIndex((s) => s.src.includes('panels=explorer'));
      const explorer = loaded[explorerAt];
      const before = await explorer.evaluate(() => {
        const st = window.digitlab.state();
        const other = st.models.find((m) => m !== st.model) || st.models[0];
        window.digitlab.selectModel(other);
        return {frames: st.frames, model: other};
      });
      await sleep(2000);
      const whileHidden = await explorer.evaluate(() => window.digitlab.state().frames);
      await p.evaluate((n) => document.querySelectorAll('iframe')[n].scrollIntoView({block: 'center'}), explorerAt);
      await sleep(1500);
      const back = await explorer.evaluate(() => window.digitlab.state().frames);
      check(!inView[explorerAt] && whileHidden === before.frames && back > whileHidden,
            `${lesson.file} 1100x720: the explorer out of view, given another model (${before.model}), draws nothing until it is back`,
            `${whileHidden - before.frames} frames in 2 s hidden, ${back - whileHidden} in 1.5 s back in view`);
      console.log(`screenshot: ${await screenshot(p, opts, `lesson-${lesson.lang}-1100x720`)}`);
    }
    check(normalErrors.length === 0, `${lesson.file} 1100x720: no page or console errors`, normalErrors.slice(0, 4).join(' | '));
    await normal.close();
  }
});
