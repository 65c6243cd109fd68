#!/usr/bin/env node
// Browser test on phones and tablets (Chromium's device emulation: mobile viewport, touch, devicePixelRatio 2-3):
// at 360x640 and 768x1024 the demo and the lab build fit the window (no page scroll, the drawing area square
// and inside the canvas), a 1 drawn with a finger is read as 1 and scrolls nothing, a tap on Undo undoes one
// stroke (the tap reaches ImGui once); in lesson.html at 360x640 a swipe on the text and a swipe on an
// embedded panel outside its drawing area both scroll the lesson, a swipe on the drawing area draws and does
// not, and a tap on the embedded Undo (an emulated click there) undoes one stroke. No page or console errors, embedded or not, phone or desktop. Screenshots of each case in --out.
// Usage: node phones.test.mjs --root build/wasm/web --out <folder>. Read next: harness.mjs,
// wasm/platform/web_platform.cpp (which touches the app takes), wasm/common/layout.cpp (how panels stack).
import {checker, options, run, screenshot, start} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const DEVICES = [
  {name: 'phone', width: 360, height: 640, deviceScaleFactor: 3},
  {name: 'tablet', width: 768, height: 1024, deviceScaleFactor: 2},
];
const QUERIES = ['', '?panels=draw,prediction,network', '?panels=draw,prediction&embed=1'];
const screenshots = [];

function watchErrors(page, label) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${label}: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${label} console (${m.location().url}): ${m.text()}`); });
  return errors;
}
async function shoot(page, name) {
  const file = await screenshot(page, opts, name);
  screenshots.push(file);
  return file;
}
const scrolled = (page) => page.evaluate(() => ({
  y: window.scrollY, top: document.scrollingElement.scrollTop, pageTop: visualViewport.pageTop, scale: visualViewport.scale,
}));

// One finger along points given in page CSS px (CDP touch events, as a phone's touchscreen sends them).
async function swipe(cdp, points, pauseMs = 16) {
  const at = ([x, y]) => [{x, y, id: 1}];
  await cdp.send('Input.dispatchTouchEvent', {type: 'touchStart', touchPoints: at(points[0])});
  for (const point of points.slice(1)) {
    await sleep(pauseMs);
    await cdp.send('Input.dispatchTouchEvent', {type: 'touchMove', touchPoints: at(point)});
  }
  await cdp.send('Input.dispatchTouchEvent', {type: 'touchEnd', touchPoints: []});
}
const line = (from, to, steps = 12) => Array.from({length: steps + 1}, (_, i) =>
  [from[0] + ((to[0] - from[0]) * i) / steps, from[1] + ((to[1] - from[1]) * i) / steps]);
const inRect = (r, u, v) => [r.x + u * r.width, r.y + v * r.height];
// Strokes of `frame` (a page or an iframe's frame) once its prediction is up to date.
const settled = (frame) => frame.waitForFunction(() => window.digitlab.state().up_to_date, null, {timeout: 20000, polling: 50})
  .then(() => frame.evaluate(() => window.digitlab.state()));

const site = await start(opts, {need: ['lesson.html', 'digitlab-lab.js', 'digitlab-lab.wasm']});
await run(site, {check, finish}, 'phones', async () => {
  // ---- the app alone: fits the window, draws with a finger, taps reach ImGui once -----------------------
  for (const device of DEVICES) {
    for (const query of QUERIES) {
      const label = `${device.name} ${device.width}x${device.height} ${query || '(demo)'}`;
      const context = await site.browser.newContext({
        viewport: {width: device.width, height: device.height}, deviceScaleFactor: device.deviceScaleFactor,
        isMobile: true, hasTouch: true});
      const page = await context.newPage();
      const errors = watchErrors(page, label);
      await page.goto(`${site.origin}/index.html${query}`);
      await page.evaluate(() => window.digitlab.ready);
      await sleep(300);
      const fit = await page.evaluate(() => {
        const box = document.getElementById('canvas').getBoundingClientRect();
        return {canvas: {x: box.x, y: box.y, width: box.width, height: box.height}, inner: [innerWidth, innerHeight],
                scrollHeight: document.documentElement.scrollHeight, scrollWidth: document.documentElement.scrollWidth,
                draw: window.digitlab.drawingRect(), dpr: devicePixelRatio};
      });
      const {canvas, draw} = fit;
      check(fit.scrollHeight <= fit.inner[1] + 1 && fit.scrollWidth <= fit.inner[0] + 1 && canvas.y >= 0 &&
            canvas.y + canvas.height <= fit.inner[1] + 1, `${label}: the app fits the window, nothing to scroll`,
            `window ${fit.inner.join('x')} (dpr ${fit.dpr}), document ${fit.scrollWidth}x${fit.scrollHeight}, ` +
            `canvas at y ${canvas.y.toFixed(0)}, ${canvas.width.toFixed(0)}x${canvas.height.toFixed(0)}`);
      const inside = draw && draw.x >= canvas.x - 0.5 && draw.y >= canvas.y - 0.5 &&
                     draw.x + draw.width <= canvas.x + canvas.width + 0.5 && draw.y + draw.height <= canvas.y + canvas.height + 0.5;
      // Portrait: the drawing panel first, on top, square, most of the width (wasm/common/layout.cpp).
      const square = draw && Math.abs(draw.width - draw.height) <= 1;
      const onTop = draw && draw.y + draw.height / 2 < canvas.y + canvas.height / 2 && draw.width >= 0.5 * canvas.width;
      check(inside && square && onTop, `${label}: the drawing area is square, inside the canvas, on top and wide`,
            draw ? `drawing ${draw.width.toFixed(0)}x${draw.height.toFixed(0)} at ${draw.x.toFixed(0)},${draw.y.toFixed(0)}` : 'none');

      // A 1 drawn with a finger; the page stays where it is.
      const cdp = await context.newCDPSession(page);
      await swipe(cdp, line(inRect(draw, 0.52, 0.16), inRect(draw, 0.5, 0.84)));
      let s = await settled(page);
      let where = await scrolled(page);
      check(s.strokes === 1 && s.prediction === 1, `${label}: a 1 drawn with a finger is read as 1`,
            `${s.strokes} strokes, prediction ${s.prediction}`);
      check(where.y === 0 && where.top === 0 && where.pageTop === 0 && where.scale === 1, `${label}: drawing scrolls and zooms nothing`,
            JSON.stringify(where));
      await shoot(page, `phones-${device.name}-${device.width}x${device.height}${query ? '-' + query.replace(/[?&=,]+/g, '-').replace(/^-/, '') : '-demo'}`);

      // A second stroke, then a tap along the toolbar row above the drawing area until one changes the
      // drawing: Undo comes before Clear, so that tap must leave exactly one stroke (one tap, one click).
      await swipe(cdp, line(inRect(draw, 0.3, 0.5), inRect(draw, 0.7, 0.5)));
      s = await settled(page);
      const rowY = draw.y - 12;
      let after = s.strokes, tapX = null;
      for (let x = canvas.x + 6; x < canvas.x + canvas.width - 6 && after === s.strokes; x += 8) {
        await swipe(cdp, [[x, rowY]]);
        await sleep(120);
        after = (await settled(page)).strokes;
        tapX = x;
      }
      check(s.strokes === 2 && after === 1, `${label}: a tap on Undo undoes one stroke`,
            `${s.strokes} strokes, after the tap at ${tapX?.toFixed(0)},${rowY.toFixed(0)}: ${after}`);
      check(errors.length === 0, `${label}: no page or console errors`, errors.slice(0, 3).join(' | '));
      await cdp.detach();
      await context.close();
    }
  }

  // ---- desktop sizes, embedded or not: no errors either --------------------------------------------------
  for (const query of ['?panels=draw,prediction,network', '?panels=draw,prediction,network&embed=1']) {
    const context = await site.browser.newContext({viewport: {width: 1280, height: 800}});
    const page = await context.newPage();
    const errors = watchErrors(page, `desktop ${query}`);
    await page.goto(`${site.origin}/index.html${query}`);
    await page.evaluate(() => window.digitlab.ready);
    await sleep(500);
    check(errors.length === 0, `desktop 1280x800 ${query}: no page or console errors`, errors.slice(0, 3).join(' | '));
    await context.close();
  }

  // ---- the lesson on a phone: swipes scroll it, except on a drawing area --------------------------------
  const context = await site.browser.newContext({viewport: {width: 360, height: 640}, deviceScaleFactor: 2,
                                                 isMobile: true, hasTouch: true});
  const page = await context.newPage();
  const errors = watchErrors(page, 'lesson 360x640');
  await page.goto(`${site.origin}/lesson.html`);
  const cdp = await context.newCDPSession(page);
  const frame = await (await page.$('iframe')).contentFrame();
  await frame.waitForFunction(() => window.digitlab && window.digitlab.ready, null, {timeout: 60000});
  await frame.evaluate(() => window.digitlab.ready);
  await sleep(500);

  // 1. On the text.
  await page.evaluate(() => window.scrollTo(0, 0));
  await sleep(300);
  const text = await page.evaluate(() => {
    const r = document.querySelector('h1 + p').getBoundingClientRect();
    return {x: r.x + r.width / 2, y: r.y + r.height / 2};
  });
  let y0 = (await scrolled(page)).y;
  await swipe(cdp, line([text.x, text.y + 60], [text.x, text.y - 60]));
  await sleep(700);
  let y1 = (await scrolled(page)).y;
  check(y1 - y0 >= 60, 'lesson 360x640: a swipe on the text scrolls the page', `scrollY ${y0} -> ${y1}`);
  await shoot(page, 'phones-lesson-360x640-text-swipe');

  // Brings the first iframe to 40 px below the top; returns its drawing area in page CSS px.
  const placeFrame = async () => {
    await page.evaluate(() => window.scrollTo(0, document.querySelector('iframe').getBoundingClientRect().top + scrollY - 40));
    await sleep(500);
    const box = await page.evaluate(() => {
      const r = document.querySelector('iframe').getBoundingClientRect();
      return {x: r.x, y: r.y, width: r.width, height: r.height};
    });
    const d = await frame.evaluate(() => window.digitlab.drawingRect());
    return {box, draw: {x: box.x + d.x, y: box.y + d.y, width: d.width, height: d.height}};
  };
  // 2. On an embedded panel, below its drawing area (the network and prediction panels).
  let {box, draw} = await placeFrame();
  const strokes0 = (await frame.evaluate(() => window.digitlab.state())).strokes;
  const startY = Math.min(box.y + box.height - 20, draw.y + draw.height + 60);
  y0 = (await scrolled(page)).y;
  await swipe(cdp, line([box.x + box.width / 2, startY], [box.x + box.width / 2, startY - 150]));
  await sleep(700);
  y1 = (await scrolled(page)).y;
  const strokes1 = (await frame.evaluate(() => window.digitlab.state())).strokes;
  check(startY > draw.y + draw.height && y1 - y0 >= 60 && strokes1 === strokes0,
        'lesson 360x640: a swipe on an embedded panel outside its drawing area scrolls the page',
        `from y ${startY.toFixed(0)} (drawing area ends at ${(draw.y + draw.height).toFixed(0)}, iframe at ` +
        `${box.y.toFixed(0)}-${(box.y + box.height).toFixed(0)}): scrollY ${y0} -> ${y1}, strokes ${strokes0} -> ${strokes1}`);
  await shoot(page, 'phones-lesson-360x640-panel-swipe');

  // 3. On the drawing area: it draws, the page stays.
  ({box, draw} = await placeFrame());
  y0 = (await scrolled(page)).y;
  await swipe(cdp, line(inRect(draw, 0.52, 0.16), inRect(draw, 0.5, 0.84)));
  await sleep(700);
  y1 = (await scrolled(page)).y;
  const drawn = await settled(frame);
  check(y1 === y0 && drawn.strokes === strokes1 + 1 && drawn.prediction === 1,
        'lesson 360x640: a swipe on the drawing area draws (a 1) and does not scroll',
        `scrollY ${y0} -> ${y1}, strokes ${strokes1} -> ${drawn.strokes}, prediction ${drawn.prediction}`);
  await shoot(page, 'phones-lesson-360x640-drawing');

  // 4. A tap on the embedded app's Undo: in an iframe it reaches ImGui as the browser's emulated click,
  // once (the touch itself is left to the browser); a second stroke first, so that Undo and Clear differ.
  ({box, draw} = await placeFrame());
  await swipe(cdp, line(inRect(draw, 0.3, 0.5), inRect(draw, 0.7, 0.5)));
  const two = (await settled(frame)).strokes;
  const rowY = draw.y - 12;
  let left = two, tapX = null;
  for (let x = box.x + 6; x < box.x + box.width - 6 && left === two; x += 8) {
    await swipe(cdp, [[x, rowY]]);
    await sleep(150);
    left = (await settled(frame)).strokes;
    tapX = x;
  }
  check(two === strokes1 + 2 && left === two - 1 && (await scrolled(page)).y === y1,
        'lesson 360x640: a tap on the embedded Undo undoes one stroke, and scrolls nothing',
        `${two} strokes, after the tap at ${tapX?.toFixed(0)},${rowY.toFixed(0)}: ${left}`);
  check(errors.length === 0, 'lesson 360x640: no page or console errors', errors.slice(0, 3).join(' | '));
  await cdp.detach();
  await context.close();

  console.log(`screenshots:\n  ${screenshots.join('\n  ')}`);
});
