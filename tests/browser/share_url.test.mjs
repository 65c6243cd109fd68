#!/usr/bin/env node
// Browser test of shared links: a 7 drawn in a dark page with a wide pen becomes digitlab.shareUrl(); that
// link opened in a new page shows the same strokes and the same probabilities; "Copy link" in the menu
// copies it (or shows it, where the clipboard is refused); a damaged or oversized drawing= gives a message
// and an empty canvas, no page error. Usage: node share_url.test.mjs --root build/wasm/web --out <folder>.
// Read next: harness.mjs, wasm/common/drawing_code.hpp.
import {DIGITS, checker, displayToPage, drawStrokes, openApp, options, run, start, state, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();

const site = await start(opts);
await run(site, {check, finish}, 'share_url', async () => {
  // ---- draw, share, reopen ---------------------------------------------------------------------------------
  const page = await openApp(site.context, site.origin, '?theme=dark&stroke=9');
  const drawn = await drawStrokes(page, DIGITS[7]);
  const url = await page.evaluate(() => window.digitlab.shareUrl());
  const query = new URL(url).search;
  check(url.startsWith(`${site.origin}/index.html?`) && /[?&]drawing=1\.[A-Za-z0-9_-]+(&|$)/.test(url) &&
        query.includes('theme=dark') && query.includes('stroke=9') && query.includes(`model=${drawn.model}`),
        'shareUrl() names the model, the theme, the pen and the drawing', url);

  const reopened = await openApp(site.context, site.origin, query);
  const again = await waitForState(reopened, (s) => s.strokes > 0 && s.up_to_date && !s.empty);
  const urlAgain = await reopened.evaluate(() => window.digitlab.shareUrl());
  check(again.strokes === drawn.strokes && urlAgain === url, 'the link reopens the same strokes (and the same link)',
        `${again.strokes} strokes; link again ${urlAgain === url ? 'the same' : urlAgain}`);
  let worst = 0, where = -1;
  drawn.probabilities.forEach((p, i) => {
    const d = Math.abs(p - again.probabilities[i]);
    if (d > worst) { worst = d; where = i; }
  });
  check(again.prediction === drawn.prediction && again.probabilities.length === drawn.probabilities.length && worst <= 1e-6,
        'and the same prediction and probabilities (within 1e-6)',
        `prediction ${drawn.prediction} -> ${again.prediction}, largest difference ${worst} at class ${where}`);
  check(JSON.stringify(again.panels) === JSON.stringify(drawn.panels) && again.messages.length === 0,
        'with the same panels and no message', `${again.panels} | ${again.messages.join(' | ')}`);
  await reopened.close();

  // ---- "Copy link" in the menu: with the clipboard allowed, then refused ----------------------------------
  const clickCopyLink = async (p) => {
    const rect = (await state(p)).copy_link_rect;
    if (!(rect && rect.width > 0)) throw new Error('the menu reports no Copy link item');
    await p.mouse.click(...(await displayToPage(p, rect.x + rect.width / 2, rect.y + rect.height / 2)));
    return waitForState(p, (s) => s.messages.some((m) => /^Link copied|copy this link:/.test(m)));
  };
  await site.context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: site.origin});
  const copied = await clickCopyLink(page);
  const clipboard = await page.evaluate(() => navigator.clipboard.readText());
  check(clipboard === url && copied.messages.some((m) => m.startsWith('Link copied')),
        'Copy link puts the link on the clipboard and says so', `clipboard ${clipboard.slice(0, 80)}...; ${copied.messages.join(' | ')}`);
  await page.close();

  const refusing = await site.browser.newContext({viewport: {width: 1100, height: 720}});
  const other = await refusing.newPage();
  const errors = [];
  other.on('pageerror', (e) => errors.push(String(e)));
  await other.goto(`${site.origin}/index.html${query}`);
  await other.evaluate(() => window.digitlab.ready);
  await other.evaluate(() => { navigator.clipboard.writeText = () => Promise.reject(new Error('NotAllowedError')); });
  const shown = await clickCopyLink(other);
  check(shown.messages.some((m) => m === `The clipboard was refused; copy this link: ${url}`) && errors.length === 0,
        'with the clipboard refused, the message shows the link instead', shown.messages.join(' | ') + errors.join(' | '));
  await refusing.close();

  // ---- damaged and oversized drawing= ------------------------------------------------------------------------
  for (const [label, value] of [['cut short', '1.C-REggEgg'], ['bad characters', '1.C-R*ggEggCAggE'],
                                ['version 9', '9.C-REggEggCAggE'], ['oversized', `1.${'A'.repeat(9000)}`]]) {
    const bad = await openApp(site.context, site.origin, `?panels=draw,prediction&drawing=${value}`);
    const s = await state(bad);
    const message = s.messages.find((m) => m.startsWith('URL parameter drawing was not drawn'));
    const shot = await bad.screenshot({path: `${opts.out}/share_url-damaged-${label.replace(/ /g, '-')}.png`});
    check(message && s.strokes === 0 && s.empty && s.ready && shot.length > 0,
          `drawing= ${label}: a message and an empty canvas`, `${s.strokes} strokes; ${s.messages.join(' | ')}`);
    await bad.close();
  }
});
