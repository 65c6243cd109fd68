#!/usr/bin/env node
// Browser test of frames on demand: an idle page draws no frames; drawing gets its frames and its
// prediction at once and the page goes quiet again; an iframe scrolled out of view draws nothing even
// while its panel is busy (and carries on when it is back); a canvas exactly the size of the screen
// (kiosks, fullscreen browsers) never asks for fullscreen, embedded or not, at desktop and phone sizes.
// Usage: node frames_on_demand.test.mjs --root build/wasm/web --out <folder>. Read next: harness.mjs, wasm/main.cpp.
import {DIGITS, checker, drawStrokes, openApp, options, run, start, state} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const framesOver = async (read, ms) => {
  const before = await read();
  await sleep(ms);
  return (await read()) - before;
};

const site = await start(opts);
await run(site, {check, finish}, 'frames_on_demand', async () => {
  // ---- the demo, idle and drawing ------------------------------------------------------------------------
  const page = await openApp(site.context, site.origin, '');
  const frames = async () => (await state(page)).frames;
  await sleep(800);  // start-up settles
  let drawn = await framesOver(frames, 1500);
  check(drawn === 0, 'an idle page draws no frames', `${drawn} frames in 1.5 s`);
  const before = await frames();
  const s = await drawStrokes(page, DIGITS[1]);
  check(s.prediction === 1 && s.frames > before, 'drawing a 1 gets its frames and its prediction', `prediction ${s.prediction}, ${s.frames - before} frames`);
  await sleep(800);
  drawn = await framesOver(frames, 1500);
  check(drawn === 0, 'after the stroke the page goes quiet again', `${drawn} frames in 1.5 s`);
  await page.close();

  // ---- an iframe scrolled out of view, its panel busy classifying the test subset -------------------------
  const host = await site.context.newPage();
  await host.setContent(`<iframe id="app" src="${site.origin}/index.html?panels=explorer&embed=1" ` +
                        'style="width:900px;height:600px;border:0"></iframe><div style="height:4000px"></div>');
  const frame = await (await host.$('#app')).contentFrame();
  await frame.waitForFunction(() => window.digitlab && window.digitlab.ready);
  await frame.evaluate(() => window.digitlab.ready);
  await frame.waitForFunction(() => window.digitlab.state().panel_state?.explorer?.evaluated > 0, null,
                              {timeout: 30000, polling: 50});
  const explorer = async () => frame.evaluate(() => {
    const st = window.digitlab.state();
    return {frames: st.frames, evaluated: st.panel_state.explorer.evaluated, total: st.panel_state.explorer.total};
  });
  const busy = await explorer();
  check(busy.evaluated < busy.total, 'the embedded explorer is busy classifying', `${busy.evaluated}/${busy.total}`);
  await host.evaluate(() => window.scrollTo(0, 3000));
  await sleep(500);
  const hidden0 = await explorer();
  await sleep(1500);
  const hidden1 = await explorer();
  check(hidden1.frames === hidden0.frames && hidden1.evaluated === hidden0.evaluated,
        'scrolled out of view it draws nothing, busy or not', `${hidden1.frames - hidden0.frames} frames, ` +
        `${hidden1.evaluated - hidden0.evaluated} images classified in 1.5 s`);
  await host.evaluate(() => window.scrollTo(0, 0));
  await sleep(1500);
  const back = await explorer();
  check(back.frames > hidden1.frames && back.evaluated > hidden1.evaluated, 'back in view it carries on',
        `${back.frames - hidden1.frames} frames, ${back.evaluated - hidden1.evaluated} images`);
  await host.close();

  // ---- a canvas the size of the screen never asks for fullscreen -------------------------------------------
  for (const [width, height, label] of [[1280, 800, 'desktop'], [360, 640, 'phone']]) {
    for (const query of ['?embed=1', '']) {
      const context = await site.browser.newContext({viewport: {width, height}, hasTouch: label === 'phone'});
      const p = await context.newPage();
      const complaints = [];
      p.on('console', (m) => { if (/fullscreen|Pointer Lock|Permissions check/i.test(m.text())) complaints.push(m.text()); });
      p.on('pageerror', (e) => complaints.push(String(e)));
      await p.goto(`${site.origin}/index.html${query}`);
      await p.evaluate(() => window.digitlab.ready);
      await sleep(600);
      const sizes = await p.evaluate(() => [screen.width, screen.height, document.getElementById('canvas').clientWidth,
                                            document.getElementById('canvas').clientHeight]);
      check(complaints.length === 0, `${label} ${width}x${height} ${query || '(not embedded)'}: no fullscreen request, no page error`,
            `screen ${sizes[0]}x${sizes[1]}, canvas ${sizes[2]}x${sizes[3]}; ${complaints.slice(0, 2).join(' | ')}`);
      await context.close();
    }
  }
});
