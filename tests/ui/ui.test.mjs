// End-to-end test of faxd's web interface: a real faxd on 127.0.0.1 (temporary data dir,
// the loopback line, the demo account) driven through headless Debian chromium with
// playwright-core. It signs in, sends a PDF and a DOCX with a cover page to the
// account's own number, watches the status reach "Delivered", opens the received fax
// and downloads its PDF, creates and revokes a token, and checks that a wrong password
// and a request without the CSRF token are refused. Screenshots of every page go to
// FAXD_UI_ARTIFACTS (CTest: <build>/ui-artifacts).
//
// Environment: FAXD_BIN, FAXCTL_BIN, FAXD_TEST_DATA (set by CTest), CHROMIUM (default
// /usr/bin/chromium).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

const env = process.env;
const FAXD = env.FAXD_BIN;
const FAXCTL = env.FAXCTL_BIN;
const FIXTURES = path.join(env.FAXD_TEST_DATA || '', 'fixtures');
const ARTIFACTS = env.FAXD_UI_ARTIFACTS || path.resolve('ui-artifacts');
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const SLOW = 120000; // conversion (LibreOffice's first start) plus two loopback calls

let root, faxd, base, demo, browser, faxdEnv, hookServer, hookPort;
const hookBodies = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (faxd.exitCode !== null) throw new Error('faxd exited during start-up; see ' + root);
    if (Date.now() > end) throw new Error('faxd did not listen on ' + port);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Every screenshot also checks that each control on the page has a label (a <label>,
// aria-label or visible text), so screen readers and voice control can name it.
async function shot(page, name) {
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll(
    'input, select, textarea, button, a[href]')].filter((el) => !el.closest('[hidden]') &&
    !(el.labels && el.labels.length) && !el.getAttribute('aria-label') &&
    !el.textContent.trim() && !el.querySelector('img[alt]')).map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, [], name + ': controls without a label');
  await page.screenshot({path: path.join(ARTIFACTS, name + '.png'), fullPage: true});
}

before(async () => {
  for (const [k, v] of Object.entries({FAXD_BIN: FAXD, FAXCTL_BIN: FAXCTL,
    FAXD_TEST_DATA: env.FAXD_TEST_DATA})) assert.ok(v, k + ' must be set (CTest sets it)');
  assert.ok(fs.existsSync(CHROMIUM), CHROMIUM + ' is missing (Debian package chromium)');
  fs.mkdirSync(ARTIFACTS, {recursive: true});
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'faxd-ui-'));
  const port = await freePort();
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { hookBodies.push(body); res.end('ok'); });
  });
  await new Promise((r) => hookServer.listen(0, '127.0.0.1', r));
  hookPort = hookServer.address().port;
  faxdEnv = {...env, FAXD_GENERAL_DATA_DIR: path.join(root, 'data'),
    FAXD_HTTP_ADDRESS: '127.0.0.1', FAXD_HTTP_PORT: String(port),
    FAXD_WEBHOOK_ALLOW_PRIVATE: 'on'};
  fs.mkdirSync(faxdEnv.FAXD_GENERAL_DATA_DIR);
  demo = JSON.parse(execFileSync(FAXCTL, ['--json', 'demo'], {env: faxdEnv}).toString());
  const log = fs.openSync(path.join(root, 'faxd.log'), 'a');
  faxd = spawn(FAXD, [], {env: faxdEnv, stdio: ['ignore', log, log]});
  await waitForPort(port, 10000);
  base = 'http://127.0.0.1:' + port;
  // A fresh profile (--user-data-dir) in the temporary directory: playwright passes it
  // to chromium itself when the context is persistent.
  browser = await chromium.launchPersistentContext(path.join(root, 'chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    acceptDownloads: true,
    viewport: {width: 1280, height: 900},
  });
});

after(async () => {
  if (browser) await browser.close();
  if (faxd && faxd.exitCode === null) {
    faxd.kill('SIGTERM');
    await new Promise((r) => faxd.once('exit', r));
  }
  if (hookServer) hookServer.close();
  if (root && !env.FAXD_E2E_KEEP) fs.rmSync(root, {recursive: true, force: true});
});

async function signIn(page, password) {
  await page.goto(base + '/');
  await page.getByLabel('E-mail').fill(demo.email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', {name: 'Sign in'}).click();
}

// Sign-in: refused, accepted, what the cookie allows; a webhook to watch later.
async function signInSteps(page) {
  // A wrong password is refused, with a message and no session (typed with the
  // keyboard alone: the e-mail field has the focus, Tab, Enter).
  await page.goto(base + '/');
  await page.getByLabel('E-mail').waitFor();
  await page.keyboard.type(demo.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type('not the password');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({hasText: 'Wrong e-mail or password'}).waitFor();
  await shot(page, '01-sign-in-refused');
  assert.equal((await browser.cookies()).length, 0);

  // The right one opens the inbox; the cookie is HttpOnly and SameSite=Strict.
  await signIn(page, demo.password);
  await page.getByRole('heading', {name: 'Inbox'}).waitFor();
  const [cookie] = await browser.cookies();
  assert.equal(cookie.name, 'faxd_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  await shot(page, '02-inbox-empty');

  // A webhook for received faxes, to a receiver in this process.
  await page.getByRole('link', {name: 'Settings'}).click();
  await page.getByLabel('Target URL').fill('http://127.0.0.1:' + hookPort + '/fax');
  await page.getByLabel('Event').selectOption('fax_received');
  await page.getByRole('button', {name: 'Add webhook'}).click();
  await page.getByText('fax_received → http://127.0.0.1:' + hookPort + '/fax').waitFor();

  // The page's scripts cannot read the cookie, and a change without the CSRF token is
  // refused even though the browser sends the cookie.
  const probe = await page.evaluate(async () => {
    const put = (headers) => fetch('/v3/accounts/self', {method: 'PUT', headers,
      body: JSON.stringify({name: 'x'})}).then((r) => r.status);
    return {cookie: document.cookie, without: await put({}),
      wrong: await put({'X-CSRF-Token': 'f'.repeat(64)})};
  });
  assert.deepEqual(probe, {cookie: '', without: 403, wrong: 403});
}

// Sending: file checks, a preview, the send, the status moving to Delivered.
async function sendSteps(page) {
  // Send a PDF and a DOCX with a cover page to the account's own number, after a preview.
  await page.getByRole('link', {name: 'Send a fax'}).click();
  await page.getByRole('heading', {name: 'Send a fax'}).waitFor();
  // Files are checked before any upload: type, 30 MB, 10 files.
  const fileErrors = page.locator('#file-errors');
  await page.setInputFiles('#send-files', [{name: 'bad_binary.exe',
    mimeType: 'application/octet-stream', buffer: fs.readFileSync(path.join(FIXTURES,
      'bad_binary.exe'))}, {name: 'big.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(31 * 1048576, 32)}]);
  await fileErrors.getByText('bad_binary.exe: this type of file cannot be faxed', {exact: false})
    .waitFor();
  await fileErrors.getByText(/^big\.pdf is 31\.0 MB; the limit is 30 MB\.$/).waitFor();
  await shot(page, '03-send-refused-files');
  for (const name of ['bad_binary.exe', 'big.pdf'])
    await page.getByRole('button', {name: 'Remove ' + name}).click();
  await page.setInputFiles('#send-files', Array.from({length: 11}, (_, i) =>
    ({name: `p${i}.pdf`, mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n')})));
  await fileErrors.getByText('At most 10 files per fax (11 chosen).').waitFor();
  for (let i = 0; i < 11; i++)
    await page.getByRole('button', {name: `Remove p${i}.pdf`}).click();
  assert.equal(await fileErrors.textContent(), '');
  await page.setInputFiles('#send-files', [path.join(FIXTURES, 'letter_a4.pdf'),
    path.join(FIXTURES, 'letter.docx')]);
  await page.getByLabel(/^To \(fax numbers/).fill(demo.number);
  await page.getByLabel('Add a cover page').check();
  await page.getByLabel('Cover: to').fill('Front desk');
  await page.getByLabel('Cover: subject').fill('Signed form');
  await page.getByLabel('Cover: message').fill('Two documents follow.');
  await page.getByLabel('Urgent').check();
  await page.getByRole('button', {name: 'Preview'}).click();
  const previewHead = page.getByRole('heading', {name: /^Preview: \d+ pages?$/});
  await previewHead.waitFor({timeout: SLOW});
  const previewPages = Number((await previewHead.textContent()).match(/\d+/)[0]);
  assert.ok(previewPages >= 3, 'cover + PDF + DOCX pages: ' + previewPages);
  assert.equal(await page.getByRole('img', {name: /^Preview of page/}).count(),
    Math.min(previewPages, 20));
  await shot(page, '04-send-preview');
  await page.getByRole('button', {name: 'Send fax'}).click();
  await page.getByRole('heading', {name: 'Outbox'}).waitFor();
  await shot(page, '05-outbox');

  // The Sent list updates by itself until the fax is delivered.
  await page.getByRole('link', {name: 'Sent'}).click();
  const delivered = page.locator('table.list .status', {hasText: 'Delivered'});
  await delivered.first().waitFor({timeout: SLOW});
  assert.equal(await delivered.first().getAttribute('title'), 'success');
  await shot(page, '06-sent');

  return previewPages;
}

// The received fax: unread, opened, its pages, its PDF.
async function receivedSteps(page, previewPages) {
  // The received fax stands out as unread in the inbox; open it and download its PDF.
  await page.getByRole('link', {name: /^Inbox/}).click();
  const unread = page.locator('tr.unread');
  await unread.first().waitFor({timeout: SLOW});
  await shot(page, '07-inbox-unread');
  await unread.first().getByRole('link').click();
  await page.getByRole('heading', {name: /^Fax from/}).waitFor();
  const thumb = page.getByRole('img', {name: 'Page 1', exact: true});
  await thumb.waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('.thumbs img')]
    .every((i) => i.complete && i.naturalWidth > 0));
  assert.equal(await page.locator('.thumbs img').count(), previewPages);
  await shot(page, '08-fax');
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('link', {name: 'Download PDF'}).click()]);
  const pdf = path.join(ARTIFACTS, 'received.pdf');
  await download.saveAs(pdf);
  assert.equal(fs.readFileSync(pdf).subarray(0, 5).toString(), '%PDF-');
  await page.getByRole('button', {name: 'View page 1'}).click();
  await page.getByRole('img', {name: `Page 1 of ${previewPages}`}).waitFor();
  await page.keyboard.press('ArrowRight');
  await page.getByRole('img', {name: `Page 2 of ${previewPages}`}).waitFor();
  await page.waitForFunction(() => {
    const img = document.querySelector('img.page-full');
    return img && img.complete && img.naturalWidth > 0 && img.currentSrc.includes('page=2') &&
      img.style.visibility === 'visible';
  });
  await shot(page, '09-page-viewer');
  await page.getByRole('button', {name: 'Close'}).click();
  const [report] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('link', {name: 'Confirmation report'}).click()]);
  const reportPath = path.join(ARTIFACTS, 'report.pdf');
  await report.saveAs(reportPath);
  assert.equal(fs.readFileSync(reportPath).subarray(0, 5).toString(), '%PDF-');

  // Spam and back; unread again.
  const faxUrl = page.url();
  await page.getByRole('button', {name: 'Mark as spam'}).click();
  await page.getByRole('button', {name: 'Not spam'}).waitFor();
  await page.getByRole('link', {name: 'Spam', exact: true}).click();
  await page.locator('table.list tbody tr').first().waitFor();
  assert.equal(await page.locator('table.list tbody tr').count(), 1);
  await page.goto(faxUrl);
  await page.getByRole('button', {name: 'Not spam'}).click();
  await page.getByRole('button', {name: 'Mark as spam'}).waitFor();
  await page.getByRole('button', {name: 'Mark unread'}).click();
  await page.getByRole('heading', {name: 'Inbox'}).waitFor();
  await page.locator('tr.unread').first().waitFor();
  assert.equal(await page.locator('tr.unread').count(), 1);
}

// A failed fax: why, and sending it again.
async function failedSteps(page) {
  // A fax that failed says why and can be sent again from its page.
  const busy = '+15550000002'; // sandbox: the line is busy
  await page.getByRole('link', {name: 'Send a fax'}).click();
  await page.setInputFiles('#send-files', path.join(FIXTURES, 'letter_a4.pdf'));
  await page.getByLabel(/^To \(fax numbers/).fill(busy);
  await page.getByRole('button', {name: 'Send fax'}).click();
  await page.getByRole('heading', {name: 'Outbox'}).waitFor();
  await page.getByRole('link', {name: 'Sent'}).click();
  const busyRows = page.locator('table.list tr', {has: page.locator('[title=failed_user_busy]')});
  await busyRows.first().waitFor({timeout: SLOW});
  await busyRows.first().getByRole('link', {name: busy}).click();
  await page.getByRole('alert').filter({hasText: 'Why it failed: The line was busy'}).waitFor();
  await shot(page, '10-fax-failed');
  await page.getByRole('button', {name: 'Send again'}).click();
  await page.getByRole('heading', {name: 'Outbox'}).waitFor();
  await page.getByRole('link', {name: 'Sent'}).click();
  await page.waitForFunction(() => document.querySelectorAll(
    'table.list [title=failed_user_busy]').length === 2, null, {timeout: SLOW});

  // Delete one of the two.
  await busyRows.first().getByRole('link', {name: busy}).click();
  await page.getByRole('button', {name: 'Delete'}).click();
  await page.getByRole('heading', {name: 'Sent'}).waitFor();
  await page.waitForFunction(() => document.querySelectorAll(
    'table.list [title=failed_user_busy]').length === 1);

  // A fax scheduled for tomorrow waits in the outbox until it is cancelled.
  await page.getByRole('link', {name: 'Send a fax'}).click();
  await page.setInputFiles('#send-files', path.join(FIXTURES, 'letter_a4.pdf'));
  await page.getByLabel(/^To \(fax numbers/).fill(busy);
  await page.getByText('Schedule and retries').click();
  const tomorrow = new Date(Date.now() + 86400000);
  const local = new Date(tomorrow - tomorrow.getTimezoneOffset() * 60000).toISOString();
  await page.getByLabel('Send at (empty = now)').fill(local.slice(0, 16));
  await page.getByRole('button', {name: 'Send fax'}).click();
  await page.getByRole('heading', {name: 'Outbox'}).waitFor();
  await page.locator('[title=scheduled_for_sending]').waitFor({timeout: SLOW});
  await shot(page, '11-outbox-scheduled');
  await page.getByRole('button', {name: 'Cancel the fax to ' + busy}).click();
  await page.getByText('Nothing is waiting to be sent.').waitFor();
}

// Settings: the webhook delivery, blocklist and retries, a token.
async function settingsSteps(page) {
  // Create a token (shown once), use it, revoke it.
  await page.getByRole('link', {name: 'Settings'}).click();
  await page.getByRole('heading', {name: 'Access tokens'}).waitFor();
  // The received fax was announced to the webhook: its delivery shows as done.
  for (let i = 0; i < 300 && !hookBodies.length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(hookBodies.some((b) => b.includes('fax_received')),
    'webhook bodies: ' + hookBodies.join('\n'));
  await page.reload(); // the deliveries as they are now
  await page.getByRole('heading', {name: 'Access tokens'}).waitFor();
  const done = page.locator('.deliveries td', {hasText: /^done$/});
  for (let i = 0; i < 50 && !(await done.count()); i++) {
    // faxd records the answer just after the receiver has it: ask again until it shows.
    await page.getByRole('button', {name: 'Deliveries'}).click();
    await page.locator('.deliveries h3').waitFor();
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(await done.count(), 'the delivery is listed as done');
  await page.getByRole('button', {name: /^Delete webhook /}).click();
  await page.getByText('No webhooks.').waitFor();
  // Spam blocklist and retry defaults are saved to the account.
  await page.getByLabel(/^Blocked numbers/).fill('+12025550999\n+12025550998');
  await page.getByLabel('Treat faxes without a caller number as spam').check();
  await page.getByLabel(/^Extra attempts per fax/).fill('2');
  await page.getByLabel(/^Minutes between attempts/).fill('5');
  await page.getByRole('button', {name: 'Save', exact: true}).click();
  await page.getByRole('status').filter({hasText: 'Settings saved.'}).waitFor();
  const acct = await fetch(base + '/v3/accounts/self', {headers: {Authorization: 'Bearer ' +
    demo.token}}).then((r) => r.json());
  assert.deepEqual(acct.settings.options.blocklist.slice().sort(),
    ['+12025550998', '+12025550999']);
  assert.equal(acct.settings.options.refuse_anonymous, true);
  assert.deepEqual(acct.settings.send_fax.retry, {count: 2, delay: 5});
  await page.getByLabel('Name').fill('ui-token');
  await page.getByLabel('Scope').selectOption('read');
  await page.getByRole('button', {name: 'Create token'}).click();
  const secret = (await page.locator('#new-token').textContent()).trim();
  assert.match(secret, /^faxd_[0-9a-f]{64}$/);
  const me = () => fetch(base + '/v3/accounts/self',
    {headers: {Authorization: 'Bearer ' + secret}}).then((r) => r.status);
  assert.equal(await me(), 200);
  await shot(page, '12-settings-token');
  await page.getByRole('button', {name: 'Revoke token ui-token'}).click();
  await page.getByRole('button', {name: 'Revoke token ui-token'}).waitFor({state: 'detached'});
  assert.equal(await me(), 401);
  await shot(page, '13-settings');
}

// A long inbox: paging and the date filter; a phone-sized screen.
async function pagingSteps(page) {
  // A long inbox pages back and forth without losing or repeating a fax, even when
  // many share one second; the date filter narrows it.
  for (let i = 0; i < 27; i++) {
    execFileSync(FAXCTL, ['--json', 'fax', 'import', '--account', demo.uid, '--file',
      path.join(FIXTURES, 'fax_g3_normal.tif'), '--from', '+12025550' + (100 + i), '--to',
      demo.number], {env: faxdEnv});
  }
  await page.getByRole('link', {name: /^Inbox/}).click();
  const rows = page.locator('table.list tbody tr');
  const ids = () => rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  await page.getByRole('button', {name: 'Older ›'}).waitFor();
  const first = await ids();
  assert.equal(first.length, 25);
  await shot(page, '14-inbox-page-1');
  await page.getByRole('button', {name: 'Older ›'}).click();
  await page.getByRole('button', {name: '‹ Newer'}).waitFor();
  const second = await ids();
  assert.equal(second.length, 3);
  assert.equal(new Set([...first, ...second]).size, 28);
  assert.equal(await page.getByRole('button', {name: 'Older ›'}).count(), 0);
  await page.getByRole('button', {name: '‹ Newer'}).click();
  await page.getByRole('button', {name: 'Older ›'}).waitFor();
  assert.deepEqual(await ids(), first);
  const day = (d) => new Date(Date.now() + d * 86400000).toLocaleDateString('en-CA');
  await page.getByLabel('From date').fill(day(1));
  await page.getByRole('button', {name: 'Filter'}).click();
  await page.getByText('No faxes here in these dates.').waitFor();
  await page.getByLabel('From date').fill(day(-1));
  await page.getByLabel('To date').fill(day(0));
  await page.getByRole('button', {name: 'Filter'}).click();
  await page.getByRole('button', {name: 'Older ›'}).waitFor();
  assert.equal((await ids()).length, 25);

  // Phone-sized screen: the inbox still reads.
  await page.setViewportSize({width: 390, height: 844});
  await page.getByRole('link', {name: /^Inbox/}).click();
  await page.getByRole('heading', {name: 'Inbox'}).waitFor();
  await shot(page, '15-inbox-phone');
}

test('the web interface, from sign-in to a received fax', {timeout: 4 * SLOW}, async () => {
  const page = browser.pages()[0] || await browser.newPage();
  // The machine may be busy with other tests: every wait may take a minute.
  page.setDefaultTimeout(SLOW / 2);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('dialog', (d) => d.accept());
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(r.status() + ' ' + r.request().method() + ' ' + r.url());
  });

  await signInSteps(page);
  const previewPages = await sendSteps(page);
  await receivedSteps(page, previewPages);
  await failedSteps(page);
  await settingsSteps(page);
  await pagingSteps(page);

  // Signing out ends the session.
  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.getByRole('heading', {name: 'Sign in to faxd'}).waitFor();
  const after = await page.evaluate(() => fetch('/v3/accounts/self').then((r) => r.status));
  assert.equal(after, 401);
  // Only the refusals this test provoked (signed out, wrong password, no CSRF token).
  assert.deepEqual(errors.filter((e) => !/status of 40[13]|^40[13] /.test(e)), []);
});

test('a corporate admin manages members and numbers', {timeout: SLOW}, async () => {
  const faxctl = (...args) => JSON.parse(execFileSync(FAXCTL, ['--json', ...args],
    {env: faxdEnv}).toString());
  const admin = faxctl('account', 'create', '--type', 'corporate_admin', '--email',
    'admin@clinic.example', '--company', 'Clinic');
  const member = faxctl('account', 'create', '--type', 'corporate_member', '--admin', admin.uid,
    '--email', 'bob@clinic.example');
  const number = '+12025550777';
  faxctl('number', 'add', '--account', admin.uid, '--number', number);
  faxctl('password', 'set', '--account', admin.uid, '--password', 'clinic admin pw');
  const token = faxctl('token', 'create', '--account', admin.uid).token;
  const api = (p) => fetch(base + '/v3' + p, {headers: {Authorization: 'Bearer ' + token}})
    .then((r) => r.json());

  const page = browser.pages()[0] || await browser.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(base + '/#/settings');
  await page.getByLabel('E-mail').fill('admin@clinic.example');
  await page.getByLabel('Password').fill('clinic admin pw');
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('heading', {name: 'Numbers and members'}).waitFor();
  assert.equal(await page.locator('#unread').isVisible(), false); // not the demo's count
  await page.getByLabel('Role of bob@clinic.example').fill('Reception');
  await page.getByLabel('Monthly page quota of bob@clinic.example').fill('120');
  await page.getByRole('button', {name: 'Save', exact: true}).first().click();
  await page.getByRole('status').filter({hasText: 'Saved.'}).waitFor();
  const details = await api('/accounts/self/member-details/' + member.uid);
  assert.equal(details.role, 'Reception');
  assert.equal(details.quota, 120);

  await page.getByLabel('Assign ' + number + ' to').selectOption(member.uid);
  await page.getByRole('button', {name: 'Unassign bob@clinic.example'}).waitFor();
  assert.deepEqual((await api('/accounts/self/numbers/' + encodeURIComponent(number)))
    .assigned_to, [member.uid]);
  await shot(page, '16-settings-admin');
  await page.getByRole('button', {name: 'Unassign bob@clinic.example'}).click();
  await page.getByRole('button', {name: 'Unassign bob@clinic.example'})
    .waitFor({state: 'detached'});
  assert.deepEqual((await api('/accounts/self/numbers/' + encodeURIComponent(number)))
    .assigned_to, []);
  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.getByRole('heading', {name: 'Sign in to faxd'}).waitFor();
});
