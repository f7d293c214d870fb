#!/usr/bin/env node
// Browser end-to-end test of `zigtrust serve`: starts the daemon on a fresh database, drives the
// web page in Chromium (Playwright) through pairing (scanning the device's install-code QR label
// with a fake camera), the network map, policy, key rotation, a spoof alert and the security
// timeline.
//
//   node e2e/serve.mjs
//
// Environment:
//   ZIGTRUST_BIN   daemon binary (default <repo>/target/debug/zigtrust, or $CARGO_TARGET_DIR/debug/zigtrust)
//   ZIGTRUST_CMD   a whole command line used instead of ZIGTRUST_BIN, e.g. `cargo run -q -p zigtrust --`
//                  (split on spaces, quotes allowed); `serve --db … --listen 127.0.0.1:0` is appended
//   CHROMIUM       browser executable (default /usr/bin/chromium)
//   E2E_OUT        screenshot folder (default <repo>/test-output/e2e)
//   E2E_HEADED=1   show the browser; E2E_KEEP=1 keep the temporary database folder
//
// Progress goes to stderr. Exit 0 and a one-line summary on stdout on success; on failure a
// failure.png, the daemon's output tail and exit 1.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { writeLabelY4m } from './qr-label.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const OUT = process.env.E2E_OUT || path.join(repo, 'test-output', 'e2e');
const TOTAL_BUDGET_MS = 270_000; // the whole run; well under 5 minutes
const t0 = Date.now();

// ----------------------------------------------------------------------------------------------
// Helpers

const log = (...a) => console.error(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s]`, ...a);

function splitCommand(cmd) {
  const out = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m;
  while ((m = re.exec(cmd))) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function daemonCommand(dbPath) {
  const args = ['serve', '--db', dbPath, '--listen', '127.0.0.1:0'];
  if (process.env.ZIGTRUST_CMD) {
    const [cmd, ...pre] = splitCommand(process.env.ZIGTRUST_CMD);
    return [cmd, [...pre, ...args]];
  }
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(repo, 'target');
  const bin = process.env.ZIGTRUST_BIN || path.join(target, 'debug', 'zigtrust');
  if (!fs.existsSync(bin)) throw new Error(`daemon binary ${bin} not found: build it (cargo build) or set ZIGTRUST_BIN / ZIGTRUST_CMD`);
  return [bin, args];
}

// Awaits `promise`; if it fails, adds what `describe()` says about the state to the error.
async function explain(promise, describe) {
  try {
    return await promise;
  } catch (e) {
    let extra;
    try { extra = await describe(); } catch (d) { extra = `(could not describe the state: ${d.message})`; }
    e.message = `${e.message}\n  state: ${extra}`;
    throw e;
  }
}

class Tail {
  constructor(n) { this.n = n; this.lines = []; this.partial = ''; }
  push(chunk) {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop();
    for (const l of parts) { this.lines.push(l); if (this.lines.length > this.n) this.lines.shift(); }
  }
  text() { return [...this.lines, this.partial].filter((l) => l !== '').join('\n'); }
}

// Starts the daemon; resolves with {proc, url, token} once it printed both lines.
function startDaemon(dbPath, stdoutTail, stderrTail) {
  const [cmd, args] = daemonCommand(dbPath);
  log(`starting: ${cmd} ${args.join(' ')}`);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_BACKTRACE: '1' } });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => stderrTail.push(c));
  proc.stdout.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let url = null;
    let token = null;
    let buf = '';
    const timer = setTimeout(() => reject(new Error('daemon did not print `listening:` and `token:` within 30 s')), 30_000);
    proc.on('error', (e) => { clearTimeout(timer); reject(new Error(`cannot start the daemon: ${e.message}`)); });
    proc.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`daemon exited early (code ${code}, signal ${sig})`)); });
    proc.stdout.on('data', (c) => {
      stdoutTail.push(c);
      buf += c;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        let m;
        if ((m = /^listening:\s*(http:\/\/\S+?)\/?\s*$/.exec(line))) url = `${m[1]}/`;
        else if ((m = /^token:\s*(\S+)\s*$/.exec(line))) token = m[1];
        if (url && token) {
          clearTimeout(timer);
          proc.removeAllListeners('exit');
          resolve({ proc, url, token });
          return;
        }
      }
    });
  });
}

async function stopDaemon(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => { log('daemon ignored SIGTERM for 5 s: SIGKILL'); proc.kill('SIGKILL'); }, 5000);
  await exited;
  clearTimeout(t);
}

// ----------------------------------------------------------------------------------------------
// The test

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT)) if (f.endsWith('.png')) fs.rmSync(path.join(OUT, f));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zigtrust-e2e-'));
  const stdoutTail = new Tail(40);
  const stderrTail = new Tail(60);
  let daemon = null;
  let browser = null;
  let page = null;
  const pageErrors = [];
  const consoleErrors = [];
  let shot = 0;
  let step = 'start';

  const screenshot = async (name) => {
    shot += 1;
    const file = path.join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
  };
  // One part of the page, at full resolution (the map, the scan, the timeline).
  const screenshotOf = async (locator, name) => {
    shot += 1;
    const file = path.join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`);
    await locator.screenshot({ path: file });
    log(`screenshot ${path.relative(repo, file)}`);
  };
  const begin = (name) => { step = name; log(name); };

  const watchdog = setTimeout(() => {
    console.error(`e2e: over the ${TOTAL_BUDGET_MS / 1000} s budget in step "${step}"`);
    cleanup(1, new Error('total time budget exceeded'));
  }, TOTAL_BUDGET_MS);

  let cleaning = false;
  async function cleanup(code, err) {
    if (cleaning) return;
    cleaning = true;
    clearTimeout(watchdog);
    if (err) {
      console.error(`\nE2E FAILED in step "${step}": ${err && err.stack ? err.stack : err}`);
      if (page) {
        try { await page.screenshot({ path: path.join(OUT, 'failure.png'), fullPage: true, timeout: 10_000 }); console.error(`screenshot: ${path.join(OUT, 'failure.png')}`); } catch (e) { console.error(`(no failure screenshot: ${e.message})`); }
      }
      if (pageErrors.length) console.error(`\npage errors:\n${pageErrors.join('\n')}`);
      if (consoleErrors.length) console.error(`\nbrowser console errors (last 20):\n${consoleErrors.slice(-20).join('\n')}`);
      console.error(`\ndaemon stdout tail:\n${stdoutTail.text().replace(/^token:.*$/m, 'token: (redacted)') || '(empty)'}`);
      console.error(`\ndaemon stderr tail:\n${stderrTail.text() || '(empty)'}`);
    }
    try { if (browser) await browser.close(); } catch { /* ignore */ }
    try { await stopDaemon(daemon && daemon.proc); } catch { /* ignore */ }
    if (!process.env.E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
    else console.error(`kept ${tmp}`);
    process.exit(code);
  }
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup(130, new Error(`interrupted by ${sig}`)));

  try {
    begin('start the daemon');
    daemon = await startDaemon(path.join(tmp, 'hub.db'), stdoutTail, stderrTail);
    daemon.proc.on('exit', (code, sig) => {
      if (!cleaning) { stderrTail.push(`\n[daemon exited: code ${code}, signal ${sig}]\n`); }
    });
    const base = daemon.url;
    log(`daemon at ${base}`);

    // The device to pair: a simulated Z3.0 device the daemon did not pair itself. Its label is
    // known before the browser starts, because Chromium's fake camera plays a file given at
    // launch: the QR label is drawn from the payload of this run (it depends on the seed).
    begin('find an unjoined simulated Z3.0 device');
    const simRes = await fetch(new URL('/api/sim', base), { headers: { Authorization: `Bearer ${daemon.token}` } });
    if (simRes.status !== 200) throw new Error(`GET /api/sim answered ${simRes.status}: the e2e needs --radio sim (the default)`);
    const sim = await simRes.json();
    const target = (sim.devices || []).find((d) => d.profile === 'z3.0' && !d.joined && d.label && d.starter === false);
    if (!target) throw new Error(`no simulated Z3.0 device with joined=false and a label in ${JSON.stringify(sim)}`);
    log(`target: ${target.name || ''} ${target.ieee} label ${target.label}`);
    const video = path.join(tmp, 'label.y4m');
    const qr = writeLabelY4m(target.label, video);
    log(`fake camera: ${qr.width}x${qr.height} Y4M of a ${qr.modules}-module QR code, ${qr.scale} px per module`);

    begin('launch Chromium');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      // Containers: no user namespaces for the sandbox, and a small /dev/shm. The camera is a
      // fake device playing the label video, its permission prompt accepted.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
      headless: !process.env.E2E_HEADED,
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => pageErrors.push(String(e && e.stack ? e.stack : e)));
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('dialog', (d) => d.accept()); // the Remove confirm(), should a step need it

    // As the page asks: with the session cookie and the CSRF token it keeps in localStorage.
    const apiGet = (p) => page.evaluate(async (u) => {
      const csrf = localStorage.getItem('zigtrust.csrf');
      const r = await fetch(u, { credentials: 'same-origin', cache: 'no-store', headers: csrf ? { 'X-CSRF-Token': csrf } : {} });
      return { status: r.status, body: await r.json().catch(() => null) };
    }, p);

    // -- Login ---------------------------------------------------------------------------------
    begin('login');
    await page.goto(base);
    await page.locator('#token').waitFor({ state: 'visible' });
    await screenshot('login');
    await page.fill('#token', 'definitely-not-the-token');
    await page.click('#login');
    await page.locator('#login-error').filter({ hasText: /\S/ }).waitFor();
    await page.fill('#token', daemon.token);
    await page.click('#login');
    await page.locator('#device-table').waitFor({ state: 'visible' });
    await page.locator('#live-status[data-state="live"]').waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => document.getElementById('net-pan').textContent.trim() !== '–');
    if (!(await page.evaluate(() => localStorage.getItem('zigtrust.csrf')))) throw new Error('no CSRF token in localStorage after login');
    await screenshot('dashboard');

    // A reload keeps the session (GET /api/session with the cookie).
    await page.reload();
    await page.locator('#device-table').waitFor({ state: 'visible' });
    await page.locator('#live-status[data-state="live"]').waitFor({ timeout: 20_000 });

    // -- The starter home pairs itself on first start (a few seconds): wait for it, as a user
    // would before adding another device.
    begin('wait for the starter home to pair');
    await page.waitForFunction(() => document.querySelectorAll('#device-table tr[data-ieee]').length >= 5, null, { timeout: 90_000 });
    await screenshot('starter-home');

    // -- The network map: the starter home, security states, link quality ---------------------
    begin('network map of the starter home');
    const net0 = (await apiGet('/api/network')).body;
    // The page shows what the stream last said, the API what is now: retry until they agree.
    let devs0 = [];
    await retry(async () => { devs0 = (await apiGet('/api/devices')).body.devices; await checkMap(page, devs0); }, 15_000);
    await screenshotOf(page.locator('#map-card'), 'network-map');
    // A map node is a keyboard control: Enter shows the device's row in the table.
    const mapped = devs0.find((d) => !d.removed);
    await page.locator(`#net-map .map-node[data-ieee="${mapped.ieee}"]`).focus();
    await page.keyboard.press('Enter');
    await page.locator(`#device-table tr.flash[data-ieee="${mapped.ieee}"]`).waitFor({ timeout: 5_000 });
    await page.locator('#sim-panel').waitFor({ state: 'visible' });
    const simRow = page.locator(`#sim-devices [data-ieee="${target.ieee}"]`);
    await simRow.waitFor();

    // -- Install code: first a corrupted one, then the label ----------------------------------
    begin('install code with a bad CRC is refused');
    const codeMatch = /\$I:([0-9A-Fa-f]+)/.exec(target.label);
    let bad;
    if (codeMatch) {
      const hex = codeMatch[1];
      const i = 2; // a digit of the secret, so the CRC no longer matches
      bad = hex.slice(0, i) + ((parseInt(hex[i], 16) ^ 0x1).toString(16).toUpperCase()) + hex.slice(i + 1);
    } else {
      bad = '83FED3407A939723A5C639B26916D505C3B6';
    }
    await page.fill('#ic-qr', '');
    await page.fill('#ic-ieee', target.ieee);
    await page.fill('#ic-code', bad);
    await page.click('#ic-submit');
    await page.locator('#ic-error-install_code').filter({ hasText: /CRC/i }).waitFor();
    const pending0 = (await apiGet('/api/install-codes')).body.install_codes || [];
    if (pending0.some((p) => p.ieee === target.ieee)) throw new Error('a refused install code was stored anyway');
    await screenshot('install-code-crc-error');

    begin('scan the label: a refused camera falls back to typing');
    await page.evaluate(() => {
      window.realGetUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    await page.click('#ic-scan');
    await page.locator('#scan-message').filter({ hasText: /denied.*type or paste/i }).waitFor();
    if (await page.locator('#scan-panel').isVisible()) throw new Error('the camera panel opened although the camera was refused');
    await page.evaluate(() => { navigator.mediaDevices.getUserMedia = window.realGetUserMedia; });

    begin('scan the label with the camera');
    await page.fill('#ic-ieee', '');
    await page.fill('#ic-code', '');
    await page.click('#ic-scan');
    await explain(page.waitForFunction(() => document.getElementById('ic-qr').value.trim() !== '', null, { timeout: 30_000 }),
      async () => `scan panel ${await page.locator('#scan-panel').isVisible() ? 'open' : 'closed'}, status "${await page.locator('#scan-status').textContent()}", message "${await page.locator('#scan-message').textContent()}"`);
    const qrValue = await page.inputValue('#ic-qr');
    if (qrValue !== target.label) throw new Error(`the scan put ${JSON.stringify(qrValue)} in #ic-qr, expected the label ${JSON.stringify(target.label)}`);
    if ((await page.inputValue('#ic-code')) !== '') throw new Error('the scan left the install code field filled');
    // The camera is released once the label is read.
    const liveTracks = await page.evaluate(() => { const v = document.getElementById('scan-video'); return v.srcObject ? v.srcObject.getTracks().filter((t) => t.readyState === 'live').length : 0; });
    if (liveTracks || await page.locator('#scan-panel').isVisible()) throw new Error(`the camera still runs after the scan (${liveTracks} live tracks)`);
    await page.locator('#scan-result').waitFor({ state: 'visible' });
    await screenshotOf(page.locator('#install-code-panel'), 'qr-scan');

    begin('add the scanned install code');
    await page.click('#ic-submit');
    await page.locator('#ic-result').filter({ hasText: /\S/ }).waitFor();
    if ((await page.locator('#ic-error-install_code').textContent()).trim()) throw new Error('the old CRC error is still shown');
    const pending1 = (await apiGet('/api/install-codes')).body.install_codes || [];
    if (!pending1.some((p) => p.ieee === target.ieee)) throw new Error(`install code for ${target.ieee} not pending after adding it: ${JSON.stringify(pending1)}`);
    await page.locator(`#ic-pending li[data-ieee="${target.ieee}"][data-joined="false"]`).waitFor();
    await screenshot('install-code-added');

    // -- Permit join and the device joining -----------------------------------------------------
    begin('open permit join');
    await page.selectOption('#permit-join-duration', '180');
    await page.click('#permit-join-open');
    await page.locator('#permit-join-countdown').filter({ hasText: /Permit join open: \d+:\d\d/ }).waitFor();
    const c1 = await page.locator('#permit-join-countdown').textContent();
    await page.waitForTimeout(2100);
    const c2 = await page.locator('#permit-join-countdown').textContent();
    if (c1 === c2) throw new Error(`permit-join countdown does not tick: "${c1}" then "${c2}"`);
    await screenshot('permit-join-open');

    begin('wait for the device to join');
    const devRow = page.locator(`#device-table tr[data-ieee="${target.ieee}"]`);
    await explain(devRow.waitFor({ timeout: 90_000 }), async () => {
      const simNow = await apiGet('/api/sim');
      const st = (simNow.body && simNow.body.devices || []).find((d) => d.ieee === target.ieee);
      return `sim says ${JSON.stringify(st)}; permit join ${JSON.stringify((await apiGet('/api/permit-join')).body)}; `
        + `pending install codes ${JSON.stringify((await apiGet('/api/install-codes')).body)}`;
    });
    const sec = (await devRow.locator('[data-field="security"]').getAttribute('data-value')) || (await devRow.locator('[data-field="security"]').textContent());
    if (!/z3\.0/i.test(sec)) throw new Error(`joined device shows security "${sec}", expected z3.0`);
    await screenshot('device-joined');
    // The map follows live: the new device appears in it without a reload.
    await page.locator(`#net-map .map-node[data-ieee="${target.ieee}"]`).waitFor({ timeout: 15_000 });

    // -- Policy ---------------------------------------------------------------------------------
    begin('policy: insecure rejoin deny');
    await page.selectOption('#policy-insecure-rejoin', 'deny');
    await page.click('#policy-save');
    await page.locator('#policy-status').filter({ hasText: 'Saved' }).waitFor();
    const pol = (await apiGet('/api/policy')).body;
    if (!pol || pol.insecure_rejoin !== 'deny') throw new Error(`policy after saving: ${JSON.stringify(pol)}`);
    await page.waitForFunction(() => /Insecure rejoin: deny/.test(document.getElementById('net-policy').textContent));
    await screenshot('policy-deny');

    // -- Key rotation ---------------------------------------------------------------------------
    begin('rotate the network key');
    const fromSeq = Number(net0.active_key_seq || 0);
    await page.click('#rotate');
    await page.waitForFunction((from) => {
      const box = document.getElementById('rotation-progress');
      return Number(box.getAttribute('data-to-seq')) > from;
    }, fromSeq, { timeout: 15_000 });
    await screenshot('rotation-started');
    await explain(page.waitForFunction(() => {
      const box = document.getElementById('rotation-progress');
      const m = /(\d+)\s*\/\s*(\d+)\s*confirmed/.exec(box.textContent);
      const allConfirmed = box.getAttribute('data-state') === 'switched' || (m && m[2] !== '0' && m[1] === m[2]);
      const rows = [...document.querySelectorAll('#device-table tbody tr[data-ieee]')].filter((r) => r.getAttribute('data-removed') !== 'true');
      return allConfirmed && rows.length > 0
        && rows.every((r) => r.querySelector('[data-field="has_active_key"]').textContent.trim() === 'yes');
    }, null, { timeout: 120_000, polling: 500 }), () => page.evaluate(() => {
      const box = document.getElementById('rotation-progress');
      const rows = [...document.querySelectorAll('#device-table tbody tr[data-ieee]')]
        .filter((r) => r.getAttribute('data-removed') !== 'true')
        .filter((r) => r.querySelector('[data-field="has_active_key"]').textContent.trim() !== 'yes')
        .map((r) => `${r.getAttribute('data-ieee')} (risk ${r.getAttribute('data-risk')}: ${r.querySelector('[data-field="stranded_risk"]').textContent.trim()})`);
      return `rotation: state ${box.getAttribute('data-state')}, "${document.getElementById('rotation-count').textContent}"; `
        + `rows without the active key: ${rows.length ? rows.join('; ') : 'none'}`;
    }));
    const progressText = (await page.locator('#rotation-count').textContent()).trim();
    await screenshot('rotation-confirmed');

    // -- Attacker and the spoof alert -----------------------------------------------------------
    begin('switch the attacker on');
    await page.locator('#attacker-toggle').check();
    await page.waitForFunction(() => document.getElementById('attacker-toggle').checked && !document.getElementById('attacker-toggle').disabled);
    const sim2 = (await apiGet('/api/sim')).body;
    if (!sim2 || sim2.attacker !== true) throw new Error(`attacker not on after toggling: ${JSON.stringify(sim2)}`);
    await screenshot('attacker-on');

    begin('wait for the suspected-spoof alert');
    await explain(page.locator('#alert-banner').filter({ hasText: 'suspected-spoof' }).waitFor({ state: 'visible', timeout: 90_000 }),
      async () => `banner ${await page.locator('#alert-banner').isVisible() ? JSON.stringify(await page.locator('#alert-banner').textContent()) : 'hidden'}; `
        + `sim ${JSON.stringify({ ...(await apiGet('/api/sim')).body, devices: undefined })}; `
        + `newest alerts ${JSON.stringify(((await apiGet('/api/alerts?limit=5')).body || {}).alerts)}`);
    await screenshot('spoof-alert');

    // -- The security timeline, live -------------------------------------------------------------
    begin('security timeline');
    await page.locator('#timeline .tl-point.sev-alert[data-kind="suspected-spoof"]').first().waitFor({ timeout: 15_000 });
    const tl = await page.evaluate(() => {
      const pts = [...document.querySelectorAll('#timeline .tl-point')];
      return { points: pts.length, kinds: [...new Set(pts.map((p) => p.getAttribute('data-kind')))],
        bands: document.querySelectorAll('#timeline .tl-band').length,
        titled: pts.every((p) => p.querySelector('title') && p.querySelector('title').textContent.includes(p.getAttribute('data-kind'))),
        ticks: document.querySelectorAll('#timeline .tl-tick').length };
    });
    for (const k of ['device-joined', 'permit-join-opened', 'key-rotation-started', 'key-switched', 'suspected-spoof']) {
      if (!tl.kinds.includes(k)) throw new Error(`the timeline shows no ${k}: ${JSON.stringify(tl)}`);
    }
    if (!tl.titled || tl.bands < 2 || tl.ticks < 2) throw new Error(`timeline incomplete: ${JSON.stringify(tl)}`);
    await screenshotOf(page.locator('#timeline-card'), 'security-timeline');

    // -- Backup download --------------------------------------------------------------------------
    begin('download the backup');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('#backup')]);
    const saved = path.join(tmp, 'backup.json');
    await download.saveAs(saved);
    const backup = JSON.parse(fs.readFileSync(saved, 'utf8'));
    if (!backup || typeof backup !== 'object') throw new Error('backup is not a JSON object');
    const backupName = download.suggestedFilename();

    // -- The map stays readable for a larger network: the same page fed 40 devices ------------
    begin('network map of 40 devices');
    const big = bigNetwork(devs0);
    const page2 = await context.newPage();
    page2.on('pageerror', (e) => pageErrors.push(String(e && e.stack ? e.stack : e)));
    await page2.route('**/api/devices', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ devices: big }) }));
    await page2.route('**/api/events', (r) => r.abort()); // no live stream: the page polls /api/devices
    await page2.goto(base);
    await page2.locator('#net-map .map-node[data-ieee]').nth(big.length - 1).waitFor();
    await checkMap(page2, big);
    await screenshotOf(page2.locator('#map-card'), 'network-map-40-devices');
    await page2.close();

    // -- Log out: the CSRF token leaves localStorage and the session is gone -----------------
    begin('log out');
    await page.bringToFront();
    await page.click('#logout');
    await page.locator('#token').waitFor({ state: 'visible' });
    if (await page.evaluate(() => localStorage.getItem('zigtrust.csrf'))) throw new Error('the CSRF token is still in localStorage after logging out');
    const after = await apiGet('/api/network');
    if (after.status !== 401) throw new Error(`GET /api/network after logging out answered ${after.status}, expected 401`);

    if (pageErrors.length) throw new Error(`uncaught errors in the page:\n${pageErrors.join('\n')}`);

    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`E2E OK: ${target.name || target.ieee} paired by scanning its QR label with the camera, map of ${devs0.length} and 40 devices, policy deny, key rotated (${progressText}), suspected-spoof alert shown, backup ${backupName} downloaded; ${shot} screenshots in ${path.relative(process.cwd(), OUT) || '.'}; ${secs} s`);
    await cleanup(0);
  } catch (err) {
    await cleanup(1, err);
  }
}

async function retry(fn, ms) {
  const until = Date.now() + ms;
  for (;;) {
    try { return await fn(); } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

// The map shows every device once, with its security state, its parent edge, the link quality
// the coordinator measured where there is one, and no two nodes overlap or leave the card.
async function checkMap(page, devices) {
  const r = await page.evaluate(() => {
    const svgEl = document.querySelector('#net-map svg');
    const card = document.getElementById('net-map');
    const nodes = [...document.querySelectorAll('#net-map .map-node')].map((g) => {
      const b = g.querySelector('.node-box').getBoundingClientRect();
      return { ieee: g.getAttribute('data-ieee'), security: g.getAttribute('data-security'), risk: g.getAttribute('data-risk'),
        box: [b.left, b.top, b.right, b.bottom], text: g.textContent };
    });
    const overlaps = [];
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const a = nodes[i].box; const b = nodes[j].box;
        if (a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]) overlaps.push(`${nodes[i].ieee || 'TC'} / ${nodes[j].ieee || 'TC'}`);
      }
    }
    return { nodes, overlaps, edgesTo: [...document.querySelectorAll('#net-map .edge[data-to]')].map((e) => e.getAttribute('data-to')),
      lqiLabels: [...document.querySelectorAll('#net-map .edge-label')].map((t) => `${t.getAttribute('data-to')} ${t.textContent}`),
      svgWidth: svgEl ? svgEl.getBoundingClientRect().width : 0, cardWidth: card.clientWidth };
  });
  const want = devices.filter((d) => d.ieee);
  const byIeee = new Map(r.nodes.filter((n) => n.ieee).map((n) => [n.ieee, n]));
  if (r.nodes.length !== want.length + 1) throw new Error(`the map has ${r.nodes.length} nodes for ${want.length} devices and the coordinator`);
  const expect = (d) => (d.link_key === 'exposed' ? 'exposed' : d.link_key === 'well-known' || d.link_key_public ? 'legacy' : d.tclk_verified ? 'verified' : 'install-code');
  for (const d of want) {
    const n = byIeee.get(d.ieee);
    if (!n) throw new Error(`device ${d.ieee} missing from the map`);
    if (n.security !== expect(d)) throw new Error(`map shows ${d.ieee} as ${n.security}, expected ${expect(d)}`);
    if (n.risk !== (d.stranded_risk || 'none')) throw new Error(`map shows ${d.ieee} at risk ${n.risk}, expected ${d.stranded_risk}`);
    if (!r.edgesTo.includes(d.ieee)) throw new Error(`no edge to ${d.ieee}`);
  }
  const measured = want.filter((d) => d.parent === '0x0000' && d.link && d.link.lqi !== null && d.link.lqi !== undefined);
  if (measured.length === 0) throw new Error(`no device has a measured link to the coordinator: ${JSON.stringify(want.map((d) => [d.name, d.parent, d.link]))}`);
  for (const d of measured) {
    if (!r.lqiLabels.includes(`${d.ieee} LQI ${d.link.lqi}`)) throw new Error(`the map does not show LQI ${d.link.lqi} of ${d.ieee}: ${JSON.stringify(r.lqiLabels)}`);
  }
  if (r.overlaps.length) throw new Error(`map nodes overlap: ${r.overlaps.join(', ')}`);
  if (r.svgWidth > r.cardWidth + 1) throw new Error(`the map (${r.svgWidth}px) is wider than its card (${r.cardWidth}px)`);
}

// 40 devices in a three-level mesh built from the real ones' shapes: 8 routers under the
// coordinator, 4 under those, sleepy devices under all of them, every security state and risk.
function bigNetwork(real) {
  const tpl = real[0];
  const states = [
    { link_key: 'unique', link_key_public: false, tclk_verified: true, security: 'z3.0' },
    { link_key: 'install-code', link_key_public: false, tclk_verified: false, security: 'z3.0' },
    { link_key: 'well-known', link_key_public: true, tclk_verified: false, security: 'legacy' },
    { link_key: 'exposed', link_key_public: true, tclk_verified: false, security: 'legacy' },
  ];
  const out = [];
  const hex = (n) => `0x${n.toString(16).padStart(4, '0')}`;
  const add = (i, role, parent, extra) => {
    const short = 0x1000 + i * 0x111;
    out.push({ ...tpl, ...states[i % 4], ieee: `00:12:4b:00:00:99:00:${i.toString(16).padStart(2, '0')}`, short_addr: hex(short),
      name: `${role === 'router' ? 'Router' : 'Sensor'} ${i}`, role, parent, removed: i === 39,
      stranded_risk: i % 9 === 4 ? 'high' : i % 9 === 7 ? 'low' : 'none', stranded_reason: i % 9 === 4 ? 'test' : null,
      link: parent === '0x0000' ? { lqi: 40 + ((i * 37) % 215), rssi: -70, heard_at: Date.now() } : { lqi: null, rssi: null, heard_at: null } });
    return hex(short);
  };
  const routers = [];
  for (let i = 0; i < 8; i++) routers.push(add(i, 'router', '0x0000'));
  const sub = [];
  for (let i = 8; i < 12; i++) sub.push(add(i, 'router', routers[i % 3]));
  for (let i = 12; i < 40; i++) add(i, 'sleepy-end-device', i < 16 ? '0x0000' : [...routers, ...sub][i % 12]);
  return out;
}

main();
