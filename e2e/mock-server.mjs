#!/usr/bin/env node
// A stand-in for `zigtrust serve` implementing docs/api.md with fake in-memory state, serving the
// real page from crates/zigtrust/src/serve/assets/ (read from disk on every request, so edits show
// on reload). A development aid for the page and for e2e/serve.mjs; CI runs the Rust daemon.
//
//   node e2e/mock-server.mjs [serve] [--listen 127.0.0.1:8080] [--db IGNORED] [--no-sim]
//                            [--token TOKEN]
//
// It prints `listening: http://HOST:PORT/` and `token: TOKEN` like the daemon. The fake home:
// a few devices already joined; a Z3.0 "Motion sensor" and a legacy "Wall switch" not joined.
// Unjoined devices join ~3 s after permit join opens (Z3.0 ones only once their install code was
// added); a rotation confirms one device every ~0.6 s; the attacker spoofs a Trust Center rejoin
// of a legacy device 4 s after it is switched on and then every 20 s.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ASSETS = path.resolve(here, '../crates/zigtrust/src/serve/assets');

// ----------------------------------------------------------------------------------------------
// Arguments

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const LISTEN = opt('--listen', '127.0.0.1:8080');
const SIM = !argv.includes('--no-sim');
const TOKEN = opt('--token', crypto.randomBytes(24).toString('base64url'));
const SPEED = Number(process.env.MOCK_SPEED || 1); // >1 makes the fake network faster
// MOCK_STRAGGLER=1: the Door sensor never confirms a rotation (to see stranded risk, and the e2e fail).
const STRAGGLER = process.env.MOCK_STRAGGLER ? '00:15:8d:00:00:01:00:04' : null;

// ----------------------------------------------------------------------------------------------
// Zigbee helpers

function crc16x25(bytes) {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  return ~crc & 0xffff;
}

const hexOf = (bytes) => Buffer.from(bytes).toString('hex');

class FieldError extends Error {
  constructor(field, message, status = 400) {
    super(message);
    this.field = field;
    this.status = status;
  }
}

function parseIeee(s, field = 'ieee') {
  const digits = String(s ?? '').replace(/[\s:._-]/g, '');
  if (!/^[0-9a-fA-F]{16}$/.test(digits)) {
    throw new FieldError(field, `IEEE address ${JSON.stringify(String(s ?? ''))} is not 16 hex digits (8 bytes)`);
  }
  return digits.toLowerCase().match(/../g).join(':');
}

// Validates an install code (hex with or without separators, CRC included), returns its bytes.
function parseCode(s, field = 'install_code') {
  const t = String(s ?? '').replace(/[\s:._-]/g, '');
  if (!t) throw new FieldError(field, 'install code is empty');
  if (!/^[0-9a-fA-F]*$/.test(t) || t.length % 2) throw new FieldError(field, 'install code is not valid hex');
  const bytes = Buffer.from(t, 'hex');
  const n = bytes.length;
  if ([6, 8, 12, 16].includes(n - 2)) {
    const code = bytes.subarray(0, n - 2);
    const crc = crc16x25(code);
    const expected = Buffer.from([crc & 0xff, crc >> 8]);
    const found = bytes.subarray(n - 2);
    if (!expected.equals(found)) {
      throw new FieldError(field, `install code CRC mismatch: the code ends in ${hexOf(found)} but its CRC-16/X-25 is ${hexOf(expected)} (a digit was probably mistyped)`);
    }
    return bytes;
  }
  if ([6, 8, 12, 16].includes(n)) {
    const crc = crc16x25(bytes);
    throw new FieldError(field, `install code is ${n} bytes: that is a ${n}-byte code without its 2-byte CRC (the CRC of these bytes would be ${hexOf([crc & 0xff, crc >> 8])}); copy the whole printed code including the last 4 hex digits`);
  }
  throw new FieldError(field, `install code is ${n} bytes; it must be 8, 10, 14 or 18 bytes (6, 8, 12 or 16 code bytes followed by a 2-byte CRC)`);
}

function parseQr(qr) {
  const s = String(qr ?? '').trim();
  if (!s) throw new FieldError('qr', 'QR / label text is empty');
  let m;
  if (/\$I:/i.test(s)) {
    const fields = Object.fromEntries(s.split('$').map((f) => [f.slice(0, f.indexOf(':')).toUpperCase(), f.slice(f.indexOf(':') + 1)]));
    const ieee = fields.Z ?? fields.A;
    if (!ieee) throw new FieldError('qr', 'install code payload has no IEEE address');
    return { ieee: parseIeee(ieee, 'qr'), code: parseCode(fields.I, 'qr'), format: 'qr-fields' };
  }
  if ((m = /^([0-9a-fA-F]{16})\|([0-9a-fA-F]+)$/.exec(s))) {
    return { ieee: parseIeee(m[1], 'qr'), code: parseCode(m[2], 'qr'), format: 'pipe' };
  }
  if ((m = /^([0-9a-fA-F]{16})[: ]([0-9a-fA-F\s]+)$/.exec(s))) {
    return { ieee: parseIeee(m[1], 'qr'), code: parseCode(m[2], 'qr'), format: 'ieee-code' };
  }
  throw new FieldError('qr', 'not an install-code payload this daemon knows (Z:/$I:, Aqara, pipe, Hue, Bosch, 95/91-character, IEEE:CODE)');
}

// ----------------------------------------------------------------------------------------------
// State

const now = () => Date.now();
const state = {
  pan_id: '0x1a62',
  extended_pan_id: 'dd:dd:00:00:00:00:00:01',
  channel: 15,
  tc_ieee: '00:12:4b:00:00:00:00:00',
  active_key_seq: 0,
  permit: { open: false, until: 0, ieee: null },
  policy: {
    legacy_join: 'allowed-while-permit-join',
    insecure_rejoin: 'adaptive',
    spoof_response: 'deny',
    rotate_after_legacy_window: false,
  },
  rotation: null,
  devices: new Map(), // ieee -> device
  installCodes: new Map(), // ieee -> code hex
  audit: [],
  nextAuditId: 1,
  attacker: false,
  spoofsSent: 0,
};

function mkDevice(ieee, name, role, security, short) {
  return {
    ieee, short_addr: short, name, role, security,
    install_code_key: security === 'z3.0',
    tclk_verified: security === 'z3.0',
    last_key_seq: state.active_key_seq,
    last_seen: now() - Math.floor(Math.random() * 30000),
    parent: role === 'router' ? '0x0000' : '0x3c11',
    removed: false,
  };
}

for (const d of [
  mkDevice('00:12:4b:00:00:01:00:01', 'Hallway router', 'router', 'z3.0', '0x3c11'),
  mkDevice('00:12:4b:00:00:01:00:02', 'Kitchen plug', 'router', 'z3.0', '0x8a02'),
  mkDevice('00:17:88:01:00:00:00:03', 'Living-room bulb', 'router', 'legacy', '0x51e7'),
  mkDevice('00:15:8d:00:00:01:00:04', 'Door sensor', 'sleepy-end-device', 'z3.0', '0x77a0'),
  mkDevice('00:17:88:01:00:00:00:05', 'Leak sensor', 'sleepy-end-device', 'legacy', '0x1b2c'),
]) state.devices.set(d.ieee, d);

// Simulated devices (the whole home, joined or not), with their printed labels.
function makeLabel(ieee) {
  const secret = crypto.randomBytes(16);
  const crc = crc16x25(secret);
  const code = Buffer.concat([secret, Buffer.from([crc & 0xff, crc >> 8])]);
  return { code: code.toString('hex'), label: `Z:${ieee.replace(/:/g, '').toUpperCase()}$I:${code.toString('hex').toUpperCase()}` };
}
const simDevices = [];
for (const d of state.devices.values()) {
  const lab = d.security === 'z3.0' ? makeLabel(d.ieee) : { code: null, label: null };
  simDevices.push({ ieee: d.ieee, name: d.name, profile: d.security, role: d.role, ...lab, eligibleSince: 0, starter: true });
}
simDevices.push({ ieee: '00:12:4b:00:00:01:00:06', name: 'Motion sensor', profile: 'z3.0', role: 'sleepy-end-device', ...makeLabel('00:12:4b:00:00:01:00:06'), eligibleSince: 0, starter: false });
simDevices.push({ ieee: '00:17:88:01:00:00:00:07', name: 'Wall switch', profile: 'legacy', role: 'end-device', code: null, label: null, eligibleSince: 0, starter: false });

// ----------------------------------------------------------------------------------------------
// Derived views

function hasActiveKey(d) {
  // docs/api.md says `last_key_seq == active_key_seq`; during a rotation a confirmed device holds
  // the *next* key, so the mock uses >= (see the report in e2e/README.md).
  return d.last_key_seq >= state.active_key_seq;
}

function deviceView(d) {
  const active = hasActiveKey(d);
  let risk = 'none';
  let reason = null;
  if (!d.removed && !active) {
    if (state.policy.insecure_rejoin === 'deny') {
      risk = 'high';
      reason = `holds key ${d.last_key_seq} but the network uses ${state.active_key_seq}; it can only get the new key by a Trust Center rejoin, which the policy denies`;
    } else {
      risk = 'low';
      reason = `holds key ${d.last_key_seq}; it will get key ${state.active_key_seq} by a Trust Center rejoin (policy ${state.policy.insecure_rejoin})`;
    }
  } else if (!d.removed && state.rotation && state.rotation.state === 'distributing' && !state.rotation.confirmedSet.has(d.ieee)) {
    risk = 'low';
    reason = 'has not confirmed the pending network key yet';
  }
  return {
    ieee: d.ieee, short_addr: d.short_addr, name: SIM ? d.name : null, role: d.role, security: d.security,
    install_code_key: d.install_code_key, tclk_verified: d.tclk_verified,
    last_key_seq: d.last_key_seq, has_active_key: active, last_seen: d.last_seen, parent: d.parent,
    stranded_risk: risk, stranded_reason: reason, removed: d.removed,
  };
}

const devicesList = () => [...state.devices.values()].map(deviceView);

function permitView() {
  const rem = state.permit.open ? Math.max(0, Math.ceil((state.permit.until - now()) / 1000)) : 0;
  return { open: state.permit.open && rem > 0, remaining_s: rem, ieee: state.permit.open ? state.permit.ieee : null };
}

function rotationView() {
  const r = state.rotation;
  if (!r) return null;
  return {
    state: r.state, from_seq: r.from_seq, to_seq: r.to_seq, started: r.started, deadline: r.deadline,
    devices: r.ieees.map((ieee) => ({ ieee, confirmed: r.confirmedSet.has(ieee) })),
    confirmed: r.confirmedSet.size, total: r.ieees.length,
    stragglers: r.state === 'switched' ? r.ieees.filter((i) => !r.confirmedSet.has(i)) : [],
  };
}

function networkView() {
  const list = devicesList().filter((d) => !d.removed);
  return {
    pan_id: state.pan_id, extended_pan_id: state.extended_pan_id, channel: state.channel,
    tc_ieee: state.tc_ieee, active_key_seq: state.active_key_seq, radio: SIM ? 'sim' : 'zep:127.0.0.1:17754',
    permit_join: permitView(), policy: { ...state.policy }, rotation: rotationView(),
    devices: list.length, devices_at_risk: list.filter((d) => d.stranded_risk !== 'none').length,
    alerts: state.audit.filter((a) => a.severity !== 'info').length,
    now: now(),
  };
}

function simView() {
  return {
    attacker: state.attacker, spoofs_sent: state.spoofsSent, attacker_knows_network_key: !!state.attackerKnowsKey,
    devices: simDevices.map((s) => {
      const d = state.devices.get(s.ieee);
      return { ieee: s.ieee, name: s.name, profile: s.profile, role: s.role, joined: !!d && !d.removed, starter: s.starter, label: s.label };
    }),
  };
}

// ----------------------------------------------------------------------------------------------
// Events

const sseClients = new Set();
let stateTimer = null;
let lastStateSent = 0;

function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function changed() {
  if (stateTimer) return;
  const wait = Math.max(0, lastStateSent + 250 - now()); // at most 4 per second
  stateTimer = setTimeout(() => {
    stateTimer = null;
    lastStateSent = now();
    const data = { ...networkView(), devices_list: devicesList() };
    for (const res of sseClients) sse(res, 'state', data);
  }, wait);
}

function audit(severity, kind, ieee, detail) {
  const a = { id: state.nextAuditId++, time: now(), severity, kind, ieee: ieee || null, detail };
  state.audit.unshift(a);
  if (severity !== 'info') for (const res of sseClients) sse(res, 'alert', a);
  changed();
  return a;
}

audit('info', 'network-formed', null, `network 0x1a62 formed on channel 15 with key seq 0`);
for (const d of state.devices.values()) {
  if (d.security === 'legacy') audit('warning', 'legacy-join', d.ieee, `${d.name} joined with the well-known HA 1.2 link key: the network key went out readable by any sniffer`);
  else audit('info', 'device-joined', d.ieee, `${d.name} joined with its install-code key`);
}

// ----------------------------------------------------------------------------------------------
// The fake network's clock

setInterval(() => {
  const t = now();
  // Permit join expiry.
  if (state.permit.open && t >= state.permit.until) {
    state.permit.open = false;
    audit('info', 'permit-join-closed', null, 'permit join window ended');
  }
  // Joining.
  const p = permitView();
  for (const s of simDevices) {
    const joined = state.devices.get(s.ieee);
    if (joined && !joined.removed) continue;
    const allowedHere = p.open && (!p.ieee || p.ieee === s.ieee);
    const codeOk = s.profile === 'z3.0'
      ? state.installCodes.get(s.ieee) === s.code
      : state.policy.legacy_join === 'allowed-while-permit-join';
    if (!allowedHere || !codeOk) { s.eligibleSince = 0; continue; }
    if (!s.eligibleSince) { s.eligibleSince = t; continue; }
    if (t - s.eligibleSince < 3000 / SPEED) continue;
    const d = mkDevice(s.ieee, s.name, s.role, s.profile, `0x${crypto.randomBytes(2).toString('hex')}`);
    d.last_seen = t;
    state.devices.set(s.ieee, d);
    state.installCodes.delete(s.ieee);
    s.eligibleSince = 0;
    if (s.profile === 'legacy' && state.attacker) state.attackerKnowsKey = true;
    if (s.profile === 'legacy') audit('warning', 'legacy-join', s.ieee, `${s.name} joined with the well-known HA 1.2 link key: the network key went out readable by any sniffer`);
    else audit('info', 'device-joined', s.ieee, `${s.name} joined with its install-code key and verified its Trust Center link key`);
  }
  // Liveness.
  for (const d of state.devices.values()) {
    if (!d.removed && Math.random() < 0.15) { d.last_seen = t; changed(); }
  }
  // Rotation.
  const r = state.rotation;
  if (r && r.state === 'distributing') {
    if (t >= r.nextConfirm) {
      const pending = r.ieees.filter((i) => !r.confirmedSet.has(i) && i !== STRAGGLER);
      if (pending.length) {
        const ieee = pending[Math.floor(Math.random() * pending.length)];
        r.confirmedSet.add(ieee);
        const d = state.devices.get(ieee);
        if (d) d.last_key_seq = r.to_seq;
        r.nextConfirm = t + 600 / SPEED;
        changed();
      }
    }
    if (r.confirmedSet.size === r.ieees.length || t >= r.deadline) {
      r.state = 'switched';
      state.active_key_seq = r.to_seq;
      const strag = r.ieees.filter((i) => !r.confirmedSet.has(i));
      audit(strag.length ? 'warning' : 'info', 'network-key-switched', null,
        `switched to network key ${r.to_seq}; ${r.confirmedSet.size}/${r.ieees.length} confirmed${strag.length ? `, stragglers: ${strag.join(', ')}` : ''}`);
    }
  }
  // Attacker.
  if (state.attacker && t >= state.nextSpoof) {
    state.nextSpoof = t + 20000 / SPEED;
    const victims = [...state.devices.values()].filter((d) => !d.removed && d.security === 'legacy');
    if (victims.length) {
      const v = victims[Math.floor(Math.random() * victims.length)];
      state.spoofsSent++;
      const answer = state.policy.spoof_response === 'deny' ? 'denied' : 'ignored';
      audit('alert', 'suspected-spoof', v.ieee,
        `Trust Center rejoin in the name of ${v.name} while it is still active behind its parent ${v.parent}: ${answer}`);
    }
  }
}, 250);

// Keep-alive comments.
setInterval(() => { for (const res of sseClients) res.write(': keep-alive\n\n'); }, 15000);

// ----------------------------------------------------------------------------------------------
// HTTP

const sessions = new Map(); // sid -> csrf
const tokenHash = crypto.createHash('sha256').update(TOKEN).digest();

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'Cache-Control': 'no-store',
};

function send(res, status, body, extra = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...extra });
  res.end(text);
}
const fail = (res, status, error, field) => send(res, status, field ? { error, field } : { error });

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function auth(req) {
  const h = req.headers.authorization || '';
  if (h.startsWith('Bearer ')) {
    const ok = crypto.timingSafeEqual(crypto.createHash('sha256').update(h.slice(7)).digest(), tokenHash);
    return ok ? { kind: 'bearer' } : null;
  }
  const sid = cookies(req).zt_session;
  if (sid && sessions.has(sid)) return { kind: 'cookie', sid, csrf: sessions.get(sid) };
  return null;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 64 * 1024) { reject(new FieldError(null, 'request body too large', 413)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) { resolve({}); return; }
      try {
        const v = JSON.parse(text);
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        resolve(v);
      } catch (e) {
        reject(new FieldError(null, `malformed JSON body: ${e.message}`));
      }
    });
    req.on('error', reject);
  });
}

const STATIC = { '/': ['index.html', 'text/html; charset=utf-8'], '/index.html': ['index.html', 'text/html; charset=utf-8'], '/app.js': ['app.js', 'text/javascript; charset=utf-8'], '/app.css': ['app.css', 'text/css; charset=utf-8'] };

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  const m = req.method;

  if (STATIC[p]) {
    if (m !== 'GET' && m !== 'HEAD') return fail(res, 405, 'method not allowed');
    const [file, type] = STATIC[p];
    const body = fs.readFileSync(path.join(ASSETS, file));
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': body.length });
    return res.end(m === 'HEAD' ? undefined : body);
  }
  if (!p.startsWith('/api/')) return fail(res, 404, `no such resource: ${p}`);

  // Session
  if (p === '/api/session' && m === 'POST') {
    const b = await readBody(req);
    const given = crypto.createHash('sha256').update(String(b.token ?? '')).digest();
    if (!crypto.timingSafeEqual(given, tokenHash)) return fail(res, 401, 'wrong token', 'token');
    const sid = crypto.randomBytes(24).toString('base64url');
    const csrf = crypto.randomBytes(24).toString('base64url');
    sessions.set(sid, csrf);
    return send(res, 200, { csrf }, { 'Set-Cookie': `zt_session=${sid}; Path=/; HttpOnly; SameSite=Strict` });
  }

  const who = auth(req);
  if (!who) return fail(res, 401, 'not authenticated: log in or send Authorization: Bearer <token>');
  if (m !== 'GET' && m !== 'HEAD' && who.kind === 'cookie' && req.headers['x-csrf-token'] !== who.csrf) {
    return fail(res, 403, 'missing or wrong X-CSRF-Token header');
  }

  if (p === '/api/session') {
    if (m === 'GET') return send(res, 200, { authenticated: true, csrf: who.csrf ?? null });
    if (m === 'DELETE') {
      if (who.sid) sessions.delete(who.sid);
      return send(res, 200, { authenticated: false }, { 'Set-Cookie': 'zt_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0' });
    }
    return fail(res, 405, 'method not allowed');
  }

  if (p === '/api/events' && m === 'GET') {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
    res.write(': zigtrust events\n\n');
    sse(res, 'state', { ...networkView(), devices_list: devicesList() });
    sseClients.add(res);
    req.on('close', () => sseClients.delete(res));
    return;
  }

  if (p === '/api/network') return m === 'GET' ? send(res, 200, networkView()) : fail(res, 405, 'method not allowed');

  if (p === '/api/devices') return m === 'GET' ? send(res, 200, { devices: devicesList() }) : fail(res, 405, 'method not allowed');
  let mm;
  if ((mm = /^\/api\/devices\/([^/]+)$/.exec(p))) {
    const ieee = parseIeee(decodeURIComponent(mm[1]));
    const d = state.devices.get(ieee);
    if (!d) return fail(res, 404, `no device ${ieee}`);
    if (m === 'GET') return send(res, 200, deviceView(d));
    if (m === 'DELETE') {
      d.removed = true;
      audit('info', 'device-removed', ieee, `${d.name || ieee} was told to leave`);
      return send(res, 200, { removed: ieee });
    }
    return fail(res, 405, 'method not allowed');
  }

  if (p === '/api/permit-join') {
    if (m === 'GET') return send(res, 200, permitView());
    if (m !== 'POST') return fail(res, 405, 'method not allowed');
    const b = await readBody(req);
    const dur = b.duration_s ?? 180;
    if (!Number.isInteger(dur) || dur < 0 || dur > 254) throw new FieldError('duration_s', 'duration_s must be an integer from 0 to 254');
    const ieee = b.ieee === null || b.ieee === undefined || b.ieee === '' ? null : parseIeee(b.ieee);
    if (dur === 0) {
      state.permit = { open: false, until: 0, ieee: null };
      audit('info', 'permit-join-closed', null, 'permit join closed');
    } else {
      state.permit = { open: true, until: now() + dur * 1000, ieee };
      audit('info', 'permit-join-opened', ieee, `permit join open for ${dur} s${ieee ? ` for ${ieee} only` : ''}`);
    }
    return send(res, 200, permitView());
  }

  if (p === '/api/install-codes') {
    if (m === 'GET') return send(res, 200, { install_codes: [...state.installCodes.keys()].map((ieee) => ({ ieee, joined: state.devices.has(ieee) && !state.devices.get(ieee).removed })) });
    if (m !== 'POST') return fail(res, 405, 'method not allowed');
    const b = await readBody(req);
    let r;
    if (b.qr !== undefined && b.qr !== null) {
      r = parseQr(b.qr);
    } else {
      if (b.ieee === undefined || b.ieee === null || b.ieee === '') throw new FieldError('ieee', 'ieee is required (or send qr)');
      const ieee = parseIeee(b.ieee);
      r = { ieee, code: parseCode(b.install_code), format: 'hex' };
    }
    state.installCodes.set(r.ieee, r.code.toString('hex'));
    audit('info', 'install-code-added', r.ieee, `install code added (${r.code.length - 2}-byte code)`);
    return send(res, 201, { ieee: r.ieee, format: r.format, code_bytes: r.code.length - 2 });
  }
  if ((mm = /^\/api\/install-codes\/([^/]+)$/.exec(p))) {
    if (m !== 'DELETE') return fail(res, 405, 'method not allowed');
    const ieee = parseIeee(decodeURIComponent(mm[1]));
    if (!state.installCodes.delete(ieee)) return fail(res, 404, `no pending install code for ${ieee}`);
    return send(res, 200, { removed: ieee });
  }

  if (p === '/api/policy') {
    if (m === 'GET') return send(res, 200, state.policy);
    if (m !== 'PUT' && m !== 'POST') return fail(res, 405, 'method not allowed');
    const b = await readBody(req);
    const allowed = {
      legacy_join: ['allowed-while-permit-join', 'install-code-required'],
      insecure_rejoin: ['allow', 'deny', 'adaptive'],
      spoof_response: ['deny', 'ignore'],
      rotate_after_legacy_window: [true, false],
    };
    for (const [k, v] of Object.entries(b)) {
      if (!allowed[k]) throw new FieldError(k, `unknown policy field ${k}`);
      if (!allowed[k].includes(v)) throw new FieldError(k, `${k} must be one of ${allowed[k].join(', ')}`);
    }
    const before = JSON.stringify(state.policy);
    Object.assign(state.policy, b);
    if (JSON.stringify(state.policy) !== before) audit('info', 'policy-changed', null, `policy: ${JSON.stringify(state.policy)}`);
    return send(res, 200, state.policy);
  }

  if (p === '/api/network-key/rotate') {
    if (m === 'GET') return send(res, 200, rotationView());
    if (m !== 'POST') return fail(res, 405, 'method not allowed');
    const b = await readBody(req);
    const dl = b.deadline_s ?? 60;
    if (!Number.isInteger(dl) || dl < 1 || dl > 3600) throw new FieldError('deadline_s', 'deadline_s must be an integer from 1 to 3600');
    if (state.rotation && state.rotation.state === 'distributing') return fail(res, 409, 'a rotation is already running');
    const ieees = [...state.devices.values()].filter((d) => !d.removed).map((d) => d.ieee);
    state.rotation = {
      state: 'distributing', from_seq: state.active_key_seq, to_seq: state.active_key_seq + 1,
      started: now(), deadline: now() + dl * 1000, ieees, confirmedSet: new Set(), nextConfirm: now() + 800 / SPEED,
    };
    audit('info', 'network-key-rotation', null, `distributing network key ${state.rotation.to_seq} to ${ieees.length} devices`);
    return send(res, 200, rotationView());
  }

  if (p === '/api/alerts' || p === '/api/audit-log') {
    if (m !== 'GET') return fail(res, 405, 'method not allowed');
    const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit') || 100)));
    const before = Number(url.searchParams.get('before') || Infinity);
    let list = state.audit.filter((a) => a.id < before);
    if (p === '/api/alerts') list = list.filter((a) => a.severity !== 'info');
    list = list.slice(0, limit);
    return send(res, 200, p === '/api/alerts' ? { alerts: list } : { entries: list });
  }

  if (p === '/api/backup') {
    if (m !== 'GET') return fail(res, 405, 'method not allowed');
    const backup = {
      metadata: { format: 'zigpy/open-coordinator-backup', version: 1, source: 'zigtrust-mock', internal: {} },
      coordinator_ieee: state.tc_ieee.replace(/:/g, ''), pan_id: state.pan_id.slice(2), extended_pan_id: state.extended_pan_id.replace(/:/g, ''),
      nwk_update_id: 0, security_level: 5, channel: state.channel, channel_mask: [state.channel],
      network_key: { key: '01030507090b0d0f00020406080a0c0d', sequence_number: state.active_key_seq, frame_counter: 1000 },
      devices: [...state.devices.values()].filter((d) => !d.removed).map((d) => ({ ieee_address: d.ieee.replace(/:/g, ''), nwk_address: d.short_addr.slice(2), is_child: d.role !== 'router' })),
    };
    const text = JSON.stringify(backup, null, 2);
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'application/json', 'Content-Disposition': 'attachment; filename="zigtrust-backup.json"', 'Content-Length': Buffer.byteLength(text) });
    return res.end(text);
  }

  if (p === '/api/sim' || p === '/api/sim/attacker') {
    if (!SIM) return fail(res, 404, 'not a simulated radio');
    if (p === '/api/sim') return m === 'GET' ? send(res, 200, simView()) : fail(res, 405, 'method not allowed');
    if (m !== 'POST') return fail(res, 405, 'method not allowed');
    const b = await readBody(req);
    if (typeof b.enabled !== 'boolean') throw new FieldError('enabled', 'enabled must be true or false');
    if (b.enabled && !state.attacker) state.nextSpoof = now() + 4000 / SPEED;
    if (b.enabled !== state.attacker) audit('info', 'sim-attacker', null, `simulated attacker switched ${b.enabled ? 'on' : 'off'}`);
    state.attacker = b.enabled;
    return send(res, 200, simView());
  }

  return fail(res, 404, `no such resource: ${p}`);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (res.headersSent) { res.end(); return; }
    if (e instanceof FieldError) fail(res, e.status, e.message, e.field);
    else { console.error(e); fail(res, 500, `internal error: ${e.message}`); }
  });
});

const [host, port] = LISTEN.includes(':') ? [LISTEN.slice(0, LISTEN.lastIndexOf(':')), Number(LISTEN.slice(LISTEN.lastIndexOf(':') + 1))] : ['127.0.0.1', Number(LISTEN)];
server.listen(port, host, () => {
  const a = server.address();
  console.log(`listening: http://${a.address}:${a.port}/`);
  console.log(`token: ${TOKEN}`);
  console.error('zigtrust mock: fake Trust Center with a simulated home');
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const res of sseClients) res.end();
    server.close();
    console.error(`zigtrust mock: ${sig}, bye`);
    process.exit(0);
  });
}
