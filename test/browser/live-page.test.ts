// The live page (GET /) in headless Chromium — Debian's, driven by playwright-core, nothing downloaded: it shows what
// /status, /top and /users/:id answer for the version it shows, loads nothing from outside the service, and moves live
// from /events while the speed layer and the stream generator run. Run by `npm run test:browser`, not `npm test`.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, requireBuild, runCliOk, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
/** The page's chart line colour (#2f6fed): its pixels on the canvas are drawn points. */
const LINE_RGB = [0x2f, 0x6f, 0xed] as const;

// Registered first so that it runs last: after the children writing into the folder are stopped.
const newTempRoot = tempRoots('file');
const children: RunningCli[] = [];
let data: string;
let base: string;
let browser: Browser;
let page: Page;
const requested: string[] = [];
const pageErrors: string[] = [];
/** Answers of status 400 and above the page received, as `status path`. */
const failedAnswers: string[] = [];

interface Status {
  version: number;
  batch_watermark: number;
  through_seq: number;
  users: number;
  purchase_count_total: number;
  purchase_amount_total: string;
}
interface UserBody {
  user_id: string;
  purchase_count_total: number;
  purchase_amount_total: string;
}

async function getJson<T>(route: string, expectedStatus = 200): Promise<T> {
  const response = await fetch(base + route);
  expect(response.status, `GET ${route}`).toBe(expectedStatus);
  return (await response.json()) as T;
}

function start(args: string[]): RunningCli {
  const running = startCli([...args, '--data', data, '--log-level', 'warn'], { timeoutMs: 170_000 });
  children.push(running);
  return running;
}

async function stop(running: RunningCli): Promise<void> {
  running.child.kill('SIGTERM');
  expect((await running.result).code, `${running.child.spawnargs.slice(2, 3).join(' ')}: ${running.output()}`).toBe(0);
}

type Figures = Record<'users' | 'purchases' | 'amount' | 'version' | 'watermark' | 'seq', string>;

/** The figures the page shows, without thousands separators: what a reader sees, compared to what the API says. */
async function shownFigures(): Promise<Figures> {
  return page.evaluate(() => {
    const text = (id: string): string => (document.getElementById(id)!.textContent ?? '').replaceAll(',', '');
    return {
      users: text('users'),
      purchases: text('purchases'),
      amount: text('amount'),
      version: text('version'),
      watermark: text('watermark'),
      seq: text('seq'),
    };
  });
}

function figuresOf(status: Status): Figures {
  return {
    users: String(status.users),
    purchases: String(status.purchase_count_total),
    amount: status.purchase_amount_total,
    version: String(status.version),
    watermark: String(status.batch_watermark),
    seq: String(status.through_seq),
  };
}

/** The top-10 table's rows as shown (rank, user, purchases, amount), without thousands separators. */
function shownTop(): Promise<string[][]> {
  return page.$$eval('#top tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => (cell.textContent ?? '').replaceAll(',', ''))));
}

function topRowsOf(users: readonly UserBody[]): string[][] {
  return users.map((user, i) => [String(i + 1), user.user_id, String(user.purchase_count_total), user.purchase_amount_total]);
}

/** Waits until the page shows `version` in its cards and in its top-10 table. */
async function pageShowsVersion(version: number): Promise<void> {
  await page.waitForFunction((v) => document.body.dataset.version === String(v) && document.body.dataset.topVersion === String(v), version, {
    timeout: 30_000,
  });
}

/** Checks the cards and the top table against the API, the service being at rest on the version the page shows. */
async function expectPageMatchesApi(): Promise<Status> {
  const status = await getJson<Status>('/status');
  await pageShowsVersion(status.version);
  expect(await shownFigures()).toEqual(figuresOf(status));
  const top = await getJson<{ version: number; users: UserBody[] }>('/top?by=amount&n=10');
  expect(top.version).toBe(status.version);
  expect(top.users).toHaveLength(10);
  expect(await shownTop()).toEqual(topRowsOf(top.users));
  return status;
}

/** The EVENTS/S card shows /status's events_per_second of the version it shows (it once showed 258 against 200). */
async function expectEventsPerSecondAsStatus(): Promise<void> {
  for (let tries = 0; tries < 20; tries++) {
    const shown = await page.evaluate(() => ({ version: document.body.dataset.version, eps: document.getElementById('eps')!.textContent }));
    const status = await getJson<Status & { events_per_second: number | null }>('/status');
    if (String(status.version) !== shown.version) continue; // a new version in between: look again
    expect(shown.eps).toBe(status.events_per_second === null ? '–' : status.events_per_second.toLocaleString('en-US'));
    return;
  }
  throw new Error('the page and /status never showed the same version');
}

/** Types `id` into the lookup box, submits it, and returns the result line once it is about `id`. */
async function lookUp(id: string, submit: 'click' | 'enter'): Promise<{ text: string; className: string }> {
  await page.fill('#lookup-id', id);
  if (submit === 'click') await page.click('#lookup button[type=submit]');
  else await page.press('#lookup-id', 'Enter');
  await page.waitForFunction((wanted) => (document.getElementById('lookup-result')!.textContent ?? '').includes(wanted), id, { timeout: 10_000 });
  return page.$eval('#lookup-result', (out) => ({ text: out.textContent ?? '', className: out.className }));
}

/** What the page keeps for its chart, and how many of the canvas's pixels are in the line colour. */
function chartState(): Promise<{ points: number; linePixels: number }> {
  return page.evaluate((rgb) => {
    const canvas = document.getElementById('chart') as HTMLCanvasElement;
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let linePixels = 0;
    for (let i = 0; i < pixels.length; i += 4)
      if (pixels[i] === rgb[0] && pixels[i + 1] === rgb[1] && pixels[i + 2] === rgb[2] && pixels[i + 3] === 255) linePixels++;
    return { points: Number(canvas.dataset.points), linePixels };
  }, LINE_RGB);
}

async function waitForReady(): Promise<void> {
  for (const deadline = Date.now() + 30_000; (await fetch(base + '/readyz')).status !== 200;) {
    if (Date.now() > deadline) throw new Error('serve did not load a view within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function screenshot(name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`live page screenshot: ${file}`);
}

beforeAll(async () => {
  requireBuild();
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  data = newTempRoot('lf-browser-').data;
  // History over the last two days, so that the page's last 48 hourly buckets hold some of it.
  const hour = 3_600;
  const historyStart = Math.floor(Date.now() / 1000 / hour) * hour - 47 * hour;
  await runCliOk(['gen-batch', '--data', data, '--rows', '200000', '--users', '5000', '--start', String(historyStart), '--span', '2d']);
  await runCliOk(['batch', '--data', data]);
  const serve = start(['serve', '--port', '0']);
  const listening = (): RegExpExecArray | null => /serve: listening on (http:\S+)/.exec(serve.output());
  await waitFor(() => listening() !== null || serve.child.exitCode !== null, 30_000, 'serve to print its address');
  if (!listening()) throw new Error(`serve stopped before listening: ${serve.output()}`);
  base = listening()![1]!;
  expect(new URL(base).hostname).toBe('127.0.0.1');
  // A page opened earlier also gets there (it retries /events until a view is loaded), but logs the 503s on its console.
  await waitForReady();
  // Chromium launched this way gets a fresh temporary profile of its own, removed when it closes.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) failedAnswers.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  page.on('console', (message) => {
    // A failed answer is logged as "Failed to load resource" too: those are checked as failedAnswers.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${message.text()}`);
  });
  await page.goto(base + '/');
  await page.waitForFunction(() => /^\d/.test(document.getElementById('version')!.textContent ?? ''), undefined, { timeout: 30_000 });
});

afterAll(async () => {
  await browser?.close();
  for (const running of children.splice(0)) {
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGTERM');
    await running.result;
  }
});

describe('the live page, on a batch view at rest', () => {
  it('shows the users, purchases, amount, version and batch watermark of /status for the version it shows', async () => {
    const status = await expectPageMatchesApi();
    expect(status.version).toBeGreaterThan(0);
    expect(await page.textContent('#connection')).toBe('live');
    // No stream yet: no events/s, no staleness, nothing on the chart.
    expect(await page.textContent('#eps')).toBe('–');
    expect(await page.textContent('#staleness')).toBe('–');
    expect(await chartState()).toEqual({ points: 0, linePixels: 0 });
  });

  it('shows the top 10 of /top?by=amount&n=10', async () => {
    const top = await getJson<{ version: number; users: UserBody[] }>('/top?by=amount&n=10');
    await pageShowsVersion(top.version);
    expect(await shownTop()).toEqual(topRowsOf(top.users));
  });

  it('shows purchases per hour of /series over the last 48 hours, the top 10 of the last 24 hours, and the late rows', async () => {
    const status = await getJson<Status & { event_time: { late_rows: number } }>('/status');
    await page.waitForFunction((v) => document.body.dataset.rangesVersion === String(v), status.version, { timeout: 30_000 });
    const shown = await page.$eval('#buckets', (c) => ({ ...(c as HTMLCanvasElement).dataset }));
    const [from, to] = [Number(shown.from), Number(shown.to)];
    expect(to - from).toBe(48 * 3_600);
    const series = await getJson<{ version: number; points: { purchase_count: number }[] }>(`/series?from=${from}&to=${to}&min_version=${status.version}`);
    expect(series.points).toHaveLength(48);
    expect(shown.purchases).toBe(series.points.map((p) => p.purchase_count).join(','));
    expect(series.points.filter((p) => p.purchase_count > 0).length, 'history falls in most of the 48 hours').toBeGreaterThan(40);
    const top24 = await getJson<{ users: UserBody[] }>(`/top?by=amount&n=10&from=${to - 86_400}&to=${to}`);
    expect(top24.users).toHaveLength(10);
    const rows = await page.$$eval('#top24 tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').replaceAll(',', ''))),
    );
    expect(rows).toEqual(topRowsOf(top24.users));
    expect(await page.textContent('#late')).toBe(String(status.event_time.late_rows));
  });

  it('looks up an existing user as /users/:id answers', async () => {
    const beyondTop = (await getJson<{ users: UserBody[] }>('/top?by=amount&n=100')).users.at(-1)!; // not in the table
    // The page shows the totals and the version (not the event clock every answer carries).
    const { event_time: _eventTime, ...user } = await getJson<UserBody & { version: number; event_time: unknown }>(
      `/users/${encodeURIComponent(beyondTop.user_id)}`,
    );
    const result = await lookUp(user.user_id, 'click');
    expect(result.className).toBe('ok');
    const shown = /^(.+): ([\d,]+) purchases, (-?[\d,]+\.\d\d) \(version (\d+)\)$/.exec(result.text);
    expect(shown, result.text).not.toBeNull();
    expect({
      user_id: shown![1],
      purchase_count_total: Number(shown![2]!.replaceAll(',', '')),
      purchase_amount_total: shown![3]!.replaceAll(',', ''),
      version: Number(shown![4]),
    }).toEqual({
      user_id: user.user_id,
      purchase_count_total: user.purchase_count_total,
      purchase_amount_total: user.purchase_amount_total,
      version: user.version,
    });
  });

  it('shows the error /users/:id answers for a missing user', async () => {
    const missing = 'no-such-user';
    const answer = await getJson<{ error: string }>(`/users/${missing}`, 404);
    const result = await lookUp(missing, 'enter');
    expect(result).toEqual({ text: answer.error, className: 'bad' });
  });

  it('loads everything from the service itself, with no script error and no failed answer but the missing user', async () => {
    const origin = new URL(base).origin;
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(failedAnswers).toEqual(['404 /users/no-such-user']);
    await screenshot('live-page.png');
  });
});

describe('the live page while the speed layer and the stream generator run', () => {
  it('moves version and purchases up and draws events/s from /events, without a reload', async () => {
    const before = await shownFigures();
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    start(['speed', '--batch-interval', '100ms', '--slide', '1s', '--window', '5s']);
    const generator = start(['gen-stream', '--interval', '200ms', '--rows-per-chunk', '500', '--users', '5000']);
    await page.waitForFunction(
      ({ version, purchases }) => {
        const shown = (id: string): number => Number((document.getElementById(id)!.textContent ?? '').replaceAll(',', ''));
        return shown('version') >= version + 3 && shown('purchases') > purchases && Number(document.getElementById('chart')!.dataset.points) >= 3;
      },
      { version: Number(before.version), purchases: Number(before.purchases) },
      { timeout: 60_000, polling: 100 },
    );
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await page.textContent('#eps')).toMatch(/^[1-9][\d,]*$/);
    await expectEventsPerSecondAsStatus();
    // The chart's title says the span its axis shows (a young page: one minute).
    expect(await page.textContent('#chart-span')).toBe('the last 1 min');
    expect(await page.textContent('#staleness')).toMatch(/^\d+\.\d s$/);
    const chart = await chartState();
    expect(chart.points).toBeGreaterThanOrEqual(3);
    expect(chart.linePixels).toBeGreaterThan(0);

    // Once the stream stops and the speed layer has taken every chunk, the page shows what the API says again.
    await stop(generator);
    let last = (await getJson<Status>('/status')).version;
    for (let quietMs = 0; quietMs < 2_000; quietMs += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = (await getJson<Status>('/status')).version;
      if (now !== last) [last, quietMs] = [now, 0];
    }
    await expectPageMatchesApi();
    expect(pageErrors).toEqual([]);
    expect(failedAnswers).toEqual(['404 /users/no-such-user']);
    await screenshot('live-page-live.png');
  });
});
