#!/usr/bin/env node
// Browser test of the "training" teaching panel: with the default model its run record gives the loss,
// accuracy and learning-rate curves (8 epochs); digitlab.selectModel('mnist-mlp') switches them (12);
// a click on a sweep column header re-sorts the table. Screenshots panel-training.png (+ -dark, -draw).
// Usage: node teaching_training_panel.test.mjs --root build/wasm/web --out <folder>. Read next: harness.mjs,
// wasm/teaching/panel_training.cpp.
import fs from 'node:fs';
import path from 'node:path';
import {checker, displayToPage, openApp, options, run, screenshot, start, waitForState} from './harness.mjs';

const opts = options();
const {check, finish} = checker();
const manifest = JSON.parse(fs.readFileSync(path.join(opts.root, 'weights/manifest.json'), 'utf8'));
const defaultModel = (manifest.models || []).find((m) => m.default) || (manifest.models || [])[0];
const sweeps = manifest.sweeps || [];

const site = await start(opts, {need: [`weights/${defaultModel?.record}`]});
await run(site, {check, finish}, 'teaching_training_panel', async () => {
  // ---- alone: the default model's record, then another model's --------------------------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=training');
    let s = await waitForState(page, (st) => st.panel_state.training && st.panel_state.training.record !== 'loading' &&
                                             st.panel_state.training.record !== 'none');
    let t = s.panel_state.training;
    check(t.record_loaded && t.model === defaultModel.name, `alone: ${defaultModel.name}'s record loads`, JSON.stringify(t));
    check(t.loss_points > 0 && t.epochs === 8, 'alone: a loss curve and 8 epochs', `points ${t.loss_points}, epochs ${t.epochs}`);
    check(Math.abs(t.final_accuracy - defaultModel.test_accuracy) < 0.002, 'alone: the final accuracy matches the manifest',
          `record ${t.final_accuracy}, manifest ${defaultModel.test_accuracy}`);
    // The sweep checks below run on the shipped sweep: without one they would have nothing to test.
    check(sweeps.length > 0, 'the manifest lists a sweep (weights/manifest.json "sweeps")', `${sweeps.length} sweeps`);
    check(t.sweeps === sweeps.length, 'alone: every sweep of the manifest is offered', `${t.sweeps} of ${sweeps.length}`);
    s = await waitForState(page, (st) => st.panel_state.training.sweep_rows > 0);
    t = s.panel_state.training;
    check(t.sort_column === 'test acc %' && t.first_row_run === t.best_run, 'alone: the sweep opens best run first',
          `sort ${t.sort_column}, first ${t.first_row_run}, best ${t.best_run}`);
    await screenshot(page, opts, 'panel-training');

    await page.evaluate(() => window.digitlab.selectModel('mnist-mlp'));
    s = await waitForState(page, (st) => st.panel_state.training.model === 'mnist-mlp' && st.panel_state.training.record_loaded);
    t = s.panel_state.training;
    check(t.epochs === 12 && t.loss_points > 0, 'selectModel(mnist-mlp): the curves switch to its 12 epochs',
          `epochs ${t.epochs}, points ${t.loss_points}`);

    // ---- a click on the "lr" header sorts by learning rate, smallest first; a second click reverses ----------
    const column = t.columns.find((c) => c.name === 'lr');
    const clickHeader = async () => {
      const [x, y] = await displayToPage(page, column.rect.x + column.rect.width / 2, column.rect.y + column.rect.height / 2);
      await page.mouse.click(x, y);
    };
    await clickHeader();
    s = await waitForState(page, (st) => st.panel_state.training.sort_column === 'lr');
    t = s.panel_state.training;
    check(t.sort_column === 'lr' && t.sort_descending === false, 'click "lr": sorted by learning rate, smallest first',
          `sort ${t.sort_column} ${t.sort_descending ? 'desc' : 'asc'}, first run ${t.first_row_run}`);
    const first = t.first_row_run;
    await clickHeader();
    s = await waitForState(page, (st) => st.panel_state.training.sort_descending === true);
    t = s.panel_state.training;
    check(t.sort_column === 'lr' && t.first_row_run !== first, 'click "lr" again: largest first, another run on top',
          `first run ${first} -> ${t.first_row_run}`);
    await screenshot(page, opts, 'panel-training-sorted');
    await page.close();
  }
  // ---- next to the drawing panel, dark theme ------------------------------------------------------------------
  {
    const page = await openApp(site.context, site.origin, '?panels=draw,training&theme=dark');
    const s = await waitForState(page, (st) => st.panel_state.training && st.panel_state.training.record_loaded &&
                                               st.panel_state.training.sweep_rows > 0);
    check(s.panel_state.training.epochs === 8, 'with draw, dark: the record loads', JSON.stringify(s.panel_state.training.epochs));
    await screenshot(page, opts, 'panel-training-draw-dark');
    await page.close();
  }
});
