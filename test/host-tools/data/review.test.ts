import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { ReviewServer } from '../../../host-tools/data/review-server.js';
import { legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { workspace, type Workspace } from './workspace.js';

describe('data review page', () => {
  let ws: Workspace;
  let server: ReviewServer;
  let browser: Browser;
  let url: string;
  before(async () => {
    ws = await workspace();
    // Joystick 7 is not mapped: both frames go to the review queue.
    await writeLegacyRun(join(ws.dir, 'in', 'run1'), legacyRows(2, { joystick: () => 7 }));
    await ingestPaths([join(ws.dir, 'in')], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
    server = new ReviewServer({ db: ws.db, store: ws.store, config: ws.config });
    url = await server.start();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await ws.close();
  });

  test('labels queued frames end to end with key presses in a real browser', async () => {
    const queued = ws.db.prepare("SELECT id FROM frames WHERE review_state = 'queued' ORDER BY id").all() as { id: number }[];
    assert.equal(queued.length, 2);
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector(`#frame[data-id="${queued[0]!.id}"]`);
    assert.match((await page.textContent('#meta')) ?? '', /LA · ride legacy:run1 · frame 0 · speed 15 · rider: none/);
    const loaded = await page.waitForFunction(() => (document.getElementById('img') as HTMLImageElement).naturalWidth);
    assert.equal(await loaded.jsonValue(), 64);
    await page.keyboard.press('3');
    await page.waitForSelector(`#frame[data-id="${queued[1]!.id}"]`);
    await page.keyboard.press('4');
    await page.waitForSelector('#status:has-text("queue empty")');
    const rows = ws.db.prepare('SELECT label, label_source, review_state FROM frames ORDER BY id').all();
    assert.deepEqual(rows, [
      { label: 'side', label_source: 'review', review_state: 'done' },
      { label: 'street', label_source: 'review', review_state: 'done' },
    ]);
    await page.close();
  });

  test('writes without the page token are refused', async () => {
    const res = await fetch(`${url}api/label`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 1, label: 'street' }) });
    assert.equal(res.status, 403);
    const bad = await fetch(`${url}api/label`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-review-token': server.token }, body: JSON.stringify({ id: 1, label: 'lava' }) });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /DATA_LABEL_UNKNOWN/);
  });
});
