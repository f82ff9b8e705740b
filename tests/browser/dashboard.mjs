// The dashboard in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven by
// playwright-core. Starts `sms serve --json` (no config: the built-in sandbox and SQLite in a
// temporary directory), sends a message through the API, then logs in, sees the providers chart,
// searches a number, opens the message's timeline, reveals it, adds and removes a suppression and
// logs out. Screenshots go to $ARTIFACTS (default tests/browser/artifacts).
//
// Environment: SMS_BIN (default target/debug/sms), CHROMIUM (default /usr/bin/chromium),
// ARTIFACTS, DOCS_SCREENSHOT (a path: also save the providers page there, for the README).

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const bin = process.env.SMS_BIN || join(root, 'target', 'debug', 'sms');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = resolve(process.env.ARTIFACTS || join(here, 'artifacts'));
mkdirSync(artifacts, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Starts `sms serve --json` in an empty directory; resolves with its first JSON line. */
function startServer(dir) {
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, RUST_LOG: 'warn' };
  delete env.SMS_CONFIG;
  delete env.SMS_SANDBOX_URL;
  const child = spawn(bin, ['serve', '--json', '--listen', '127.0.0.1:0'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('sms serve printed nothing within 60 s')), 60_000);
    child.on('exit', (code) => fail(new Error(`sms serve exited early with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      try {
        ok(JSON.parse(line));
      } catch (e) {
        fail(new Error(`sms serve printed no JSON: ${line}`));
      }
    });
  });
  return { child, ready };
}

let lastPage;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sms-dashboard-browser-'));
  const { child, ready } = startServer(dir);
  let browser;
  try {
    const info = await ready;
    const base = info.listening;
    const key = info.new_admin_key;
    check(info.dashboard === `${base}/dashboard`, `the dashboard URL is printed: ${JSON.stringify(info)}`);
    check(typeof key === 'string' && key.length > 10, 'a new admin key is printed on the first start');

    // A real send through the gateway to the built-in sandbox.
    const sent = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '13800138000', text: '【测试】browser test', reference: 'browser-1' }),
    });
    check(sent.status === 200, `the send answers 200, not ${sent.status}`);
    const message = await sent.json();
    // A few more, to other numbers, so the providers page has something to chart.
    for (const to of ['13800138001', '13800138002', '13800138003']) {
      const r = await fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to, text: '【测试】browser test' }),
      });
      check(r.status === 200, `a send answers 200, not ${r.status}`);
    }

    browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    lastPage = page;
    page.on('response', (r) => {
      if (process.env.DEBUG) console.error(r.status(), r.request().method(), r.url(), r.headers()['set-cookie'] || '');
    });

    // Without a session: the login page.
    await page.goto(`${base}/dashboard/providers`);
    check(page.url() === `${base}/dashboard/login`, `redirected to the login, at ${page.url()}`);
    await page.fill('#key', key);
    await Promise.all([page.waitForURL(`${base}/dashboard/providers`), page.click('button[type=submit]')]);
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'sms_dashboard');
    check(session && session.httpOnly && session.secure && session.sameSite === 'Strict', `session cookie flags: ${JSON.stringify(session)}`);

    // Providers: the table and the chart.
    check((await page.locator('#providers tbody tr').count()) >= 1, 'a provider row');
    const chart = page.locator('svg.chart');
    await chart.waitFor({ state: 'visible' });
    check((await chart.locator('polyline, circle').count()) >= 1, 'the chart draws a line or a point');
    await page.screenshot({ path: join(artifacts, 'providers.png'), fullPage: true });
    if (process.env.DOCS_SCREENSHOT) copyFileSync(join(artifacts, 'providers.png'), resolve(process.env.DOCS_SCREENSHOT));

    // Search a number: the URL never holds it.
    await page.click('text=Messages');
    await page.fill('input[name=number]', '13800138000');
    await Promise.all([page.waitForURL(/\/dashboard\/messages\?q=/), page.click('#search button[type=submit]')]);
    check(!page.url().includes('138') && !page.url().includes('8000'), `no number in ${page.url()}`);
    check((await page.locator('#messages tbody tr').count()) === 1, 'one message found');
    check((await page.content()).includes('138****8000'), 'the number is masked');
    await page.screenshot({ path: join(artifacts, 'messages.png'), fullPage: true });

    // The timeline, then the numbers revealed by an admin's click.
    await Promise.all([page.waitForURL(`${base}/dashboard/messages/${message.id}`), page.click('#messages a')]);
    const timeline = await page.locator('table.timeline').innerText();
    check(/accepted/.test(timeline), `the timeline shows the acceptance: ${timeline}`);
    check(!(await page.content()).includes('+8613800138000'), 'masked before the reveal');
    await page.screenshot({ path: join(artifacts, 'timeline.png'), fullPage: true });
    await page.click('#reveal');
    await page.waitForSelector('text=+8613800138000');
    check(page.url() === `${base}/dashboard/messages/${message.id}/reveal`, `revealed by a POST: ${page.url()}`);

    // Suppressions: add, see masked, remove.
    await page.goto(`${base}/dashboard/suppressions`);
    await page.fill('#add input[name=number]', '13700000001');
    await page.fill('#add input[name=reason]', 'browser test');
    await Promise.all([page.waitForURL(`${base}/dashboard/suppressions`), page.click('#add button[type=submit]')]);
    const row = page.locator('#suppressions tr', { hasText: '137****0001' });
    check((await row.count()) === 1, 'the suppression is listed, masked');
    await page.screenshot({ path: join(artifacts, 'suppressions.png'), fullPage: true });
    await Promise.all([page.waitForURL(`${base}/dashboard/suppressions`), row.locator('button').click()]);
    check((await page.locator('#suppressions tr', { hasText: '137****0001' }).count()) === 0, 'the suppression is gone');
    const api = await fetch(`${base}/v1/suppressions`, { headers: { authorization: `Bearer ${key}` } });
    check((await api.json()).suppressions.length === 0, 'the API agrees: nothing suppressed');

    // Log out: the session ends.
    await Promise.all([page.waitForURL(`${base}/dashboard/login`), page.click('header button[type=submit]')]);
    await page.goto(`${base}/dashboard/providers`);
    check(page.url() === `${base}/dashboard/login`, 'after logout, back to the login');
    console.log(`dashboard browser test passed; screenshots in ${artifacts}`);
  } catch (e) {
    if (lastPage) await lastPage.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    if (browser) await browser.close();
    child.kill('SIGTERM');
    await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  if (lastPage) console.error(`at ${lastPage.url()}`);
  process.exit(1);
});
