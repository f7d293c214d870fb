// zigtrust serve — web page. Vanilla ES2020, no build step, no external resources.
// The contract is docs/api.md. Server data is only ever put in the page with textContent.
'use strict';

(() => {
  // ---------------------------------------------------------------------------------------------
  // Small helpers

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('data-')) e.setAttribute(k, String(v));
        else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
        else if (v === true) e.setAttribute(k, '');
        else e.setAttribute(k, String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function setText(e, text) {
    text = text === null || text === undefined ? '' : String(text);
    if (e.textContent !== text) e.textContent = text;
  }

  function setAttr(e, name, value) {
    if (value === null || value === undefined) {
      if (e.hasAttribute(name)) e.removeAttribute(name);
      return;
    }
    value = String(value);
    if (e.getAttribute(name) !== value) e.setAttribute(name, value);
  }

  function show(e, visible) {
    if (e.hidden === !!visible) e.hidden = !visible;
  }

  // IEEE in a URL path: 16 hex digits without separators (docs/api.md: inputs accept that form),
  // so no percent-encoding of ':' is involved.
  const ieeePath = (ieee) => String(ieee).replace(/[^0-9a-fA-F]/g, '').toLowerCase();

  // Server clock: times are Unix ms on the daemon's clock; `now` in the network object lets us
  // correct for a browser whose clock is off.
  let clockOffset = 0;
  const serverNow = () => Date.now() + clockOffset;

  function ago(ms) {
    if (!ms) return 'never';
    const s = Math.max(0, Math.round((serverNow() - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ago`;
    return `${Math.floor(h / 24)} d ago`;
  }

  function clock(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    const today = new Date();
    const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return d.toDateString() === today.toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
  }

  const mmss = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;

  // ---------------------------------------------------------------------------------------------
  // API

  class ApiError extends Error {
    constructor(status, message, field) {
      super(message);
      this.status = status;
      this.field = field || null;
    }
  }

  // The CSRF token goes with every cookie-authenticated request, GETs and the event stream
  // included. It is kept in localStorage, which is scoped to this origin (scheme, host and
  // port): a session cookie that leaks to another port of the same host is useless without it.
  // Cleared on logout and whenever the daemon says the session is gone (401).
  const CSRF_KEY = 'zigtrust.csrf';

  function storedCsrf() {
    try { return localStorage.getItem(CSRF_KEY) || null; } catch { return null; }
  }

  let csrf = storedCsrf();

  function setCsrf(value) {
    csrf = value || null;
    try {
      if (csrf) localStorage.setItem(CSRF_KEY, csrf);
      else localStorage.removeItem(CSRF_KEY);
    } catch { /* storage disabled: the token lives as long as the page */ }
  }

  function authHeaders(extra) {
    const h = { ...extra };
    if (csrf) h['X-CSRF-Token'] = csrf;
    return h;
  }

  // After a 403: another tab may have logged in anew (newer token in storage), or an older
  // daemon can hand the token out again. True when there is a different token to retry with.
  async function renewCsrf() {
    const before = csrf;
    const stored = storedCsrf();
    if (stored && stored !== before) { csrf = stored; return true; }
    await refreshSession();
    return !!csrf && csrf !== before;
  }

  async function api(method, path, body, opts = {}) {
    const init = { method, credentials: 'same-origin', headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store' };
    if (method !== 'GET' && method !== 'HEAD') {
      init.headers['Content-Type'] = 'application/json';
      if (body !== undefined) init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, `cannot reach the daemon (${e.message})`);
    }
    // A stale or missing CSRF token: renew it and retry once; without one, log in again.
    if (res.status === 403 && !opts.retried && !opts.noAuthRedirect) {
      if (await renewCsrf()) return api(method, path, body, { ...opts, retried: true });
      if (!csrf) showLogin('Your session needs a fresh login.');
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (res.status === 401 && !opts.noAuthRedirect) {
      showLogin('Your session has ended: log in again.');
    }
    if (!res.ok) {
      const msg = (data && data.error) || `${res.status} ${res.statusText || 'error'}`;
      throw new ApiError(res.status, msg, data && data.field);
    }
    return data;
  }

  // Older daemons answer GET /api/session with the CSRF token; newer ones never hand it out
  // again (only the login answer carries it).
  async function refreshSession() {
    try {
      const res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store', headers: authHeaders({ Accept: 'application/json' }) });
      if (!res.ok) return false;
      const d = await res.json();
      if (d && d.authenticated !== false && d.csrf) {
        setCsrf(d.csrf);
        return true;
      }
    } catch { /* fall through */ }
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Toast for errors that belong to no form

  let toastTimer = null;
  function toast(msg, kind = 'error') {
    const t = $('toast');
    t.className = `toast toast-${kind}`;
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  // ---------------------------------------------------------------------------------------------
  // State

  const S = {
    running: false,
    network: null,
    devices: [],
    deviceByIeee: new Map(),
    alerts: [],
    audit: [],
    sim: null,
    pending: [],
    permit: { open: false, remaining_s: 0, ieee: null },
    permitDeadline: 0, // performance.now() at which permit join closes (local countdown)
    rotation: null,
    lastNetworkAt: 0,
    live: false,
    policyDirty: false,
    attackerBusy: false,
  };

  const AUDIT_KEEP = 500;
  const DISMISS_KEY = 'zigtrust.dismissedAlert';
  let dismissedAlertId = Number(sessionStorage.getItem(DISMISS_KEY) || 0);

  // ---------------------------------------------------------------------------------------------
  // Login / logout

  function showLogin(message) {
    stopApp();
    setCsrf(null);
    show($('app-view'), false);
    show($('login-view'), true);
    setText($('login-error'), message || '');
    $('login').disabled = false;
    $('token').focus();
  }

  async function login(ev) {
    ev.preventDefault();
    const token = $('token').value.trim();
    setText($('login-error'), '');
    if (!token) {
      setText($('login-error'), 'Enter the admin token.');
      return;
    }
    $('login').disabled = true;
    try {
      const d = await api('POST', '/api/session', { token }, { noAuthRedirect: true });
      setCsrf(d && d.csrf);
      $('token').value = '';
      startApp();
    } catch (e) {
      setText($('login-error'), e.status === 401 ? `Login refused: ${e.message}` : e.message);
      $('login').disabled = false;
    }
  }

  async function logout() {
    try { await api('DELETE', '/api/session', undefined, { noAuthRedirect: true }); } catch { /* ignore */ }
    showLogin('Logged out.');
  }

  // ---------------------------------------------------------------------------------------------
  // App lifecycle

  let evAbort = null; // AbortController of the open event stream
  let ticker = null;
  let reconnectTimer = null;

  function startApp() {
    if (S.running) return;
    S.running = true;
    show($('login-view'), false);
    show($('app-view'), true);
    loadAll();
    connectEvents();
    ticker = setInterval(tick, 1000);
  }

  function stopApp() {
    S.running = false;
    if (evAbort) { evAbort.abort(); evAbort = null; }
    stopScan();
    clearInterval(ticker);
    clearTimeout(reconnectTimer);
    clearTimeout(refetchTimer);
    refetchTimer = null;
    setLive('connecting');
  }

  async function loadAll() {
    await Promise.allSettled([
      loadNetwork(),
      loadDevices(),
      loadAlerts(),
      loadAudit(),
      loadSim(),
      loadPending(),
    ]);
  }

  async function loadNetwork() {
    try { applyNetwork(await api('GET', '/api/network')); } catch (e) { if (e.status !== 401) toast(`network: ${e.message}`); }
  }

  async function loadDevices() {
    try { applyDevices((await api('GET', '/api/devices')).devices || []); } catch (e) { if (e.status !== 401) toast(`devices: ${e.message}`); }
  }

  async function loadAlerts() {
    try {
      S.alerts = (await api('GET', '/api/alerts?limit=100')).alerts || [];
      renderAlerts();
    } catch (e) { if (e.status !== 401) toast(`alerts: ${e.message}`); }
  }

  async function loadAudit() {
    try {
      // The list shows the newest 50; the timeline charts all of these.
      S.audit = (await api('GET', `/api/audit-log?limit=${AUDIT_KEEP}`)).entries || [];
      renderAudit();
      renderTimeline();
    } catch (e) { if (e.status !== 401) toast(`audit log: ${e.message}`); }
  }

  async function loadSim() {
    try {
      S.sim = await api('GET', '/api/sim');
    } catch (e) {
      S.sim = null; // 404: not a simulated radio
    }
    renderSim();
  }

  async function loadPending() {
    try {
      S.pending = (await api('GET', '/api/install-codes')).install_codes || [];
      renderPending();
    } catch (e) { if (e.status !== 401) toast(`install codes: ${e.message}`); }
  }

  // Refetch of the side lists on state events: at most once per 2 s, trailing.
  let lastRefetch = 0;
  let refetchTimer = null;
  function scheduleRefetch() {
    if (refetchTimer || !S.running) return;
    const wait = Math.max(0, lastRefetch + 2000 - Date.now());
    refetchTimer = setTimeout(() => {
      refetchTimer = null;
      lastRefetch = Date.now();
      loadAlerts();
      loadAudit();
      loadSim();
      loadPending();
    }, wait);
  }

  // ---------------------------------------------------------------------------------------------
  // Live updates (Server-Sent Events)

  function setLive(state) {
    const e = $('live-status');
    setAttr(e, 'data-state', state);
    setText(e, state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : 'connecting…');
    S.live = state === 'live';
  }

  // The stream is read with fetch() rather than EventSource, which cannot send the
  // X-CSRF-Token header. Reconnects after `retry:` ms (the daemon says 2000) when the stream
  // ends, or after 5 s when the daemon cannot be reached; a stream silent for 45 s (the daemon
  // sends a keep-alive comment after 15 s) is taken as dead.
  let everOpened = false;
  let sseRetryMs = 2000;
  let sseLastByte = 0;
  const SSE_STALL_MS = 45_000;
  const SSE_MAX_EVENT = 4 << 20;

  function scheduleReconnect(ms) {
    if (!S.running) return;
    setLive('reconnecting');
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connectEvents, ms);
  }

  async function connectEvents() {
    if (!S.running) return;
    if (evAbort) evAbort.abort();
    const ctrl = new AbortController();
    evAbort = ctrl;
    setLive(everOpened ? 'reconnecting' : 'connecting');
    let wait = 5000;
    try {
      const res = await fetch('/api/events', {
        credentials: 'same-origin',
        cache: 'no-store',
        headers: authHeaders({ Accept: 'text/event-stream' }),
        signal: ctrl.signal,
      });
      if (res.status === 401) { showLogin('Your session has ended: log in again.'); return; }
      if (res.status === 403) {
        if (await renewCsrf()) { if (evAbort === ctrl) connectEvents(); return; }
        showLogin('Your session needs a fresh login.');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`);
      setLive('live');
      sseLastByte = Date.now();
      // After a reconnect, events may have been missed: reload everything once.
      if (everOpened) loadAll();
      everOpened = true;
      await readEventStream(res.body, onServerEvent);
      wait = sseRetryMs; // the daemon closed the stream: come back as it asked
    } catch (e) {
      if (ctrl.signal.aborted) return; // stopApp() or a newer connection took over
    }
    if (evAbort === ctrl) scheduleReconnect(wait);
  }

  // text/event-stream (WHATWG HTML, "server-sent events"): lines end in CRLF, LF or CR; a blank
  // line dispatches the event; `:` starts a comment; `retry:` sets the reconnection delay.
  async function readEventStream(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let type = '';
    let data = [];
    let size = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      sseLastByte = Date.now();
      buf += decoder.decode(value, { stream: true });
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buf);
        if (!m) break;
        if (m[0] === '\r' && m.index === buf.length - 1) break; // maybe the first half of CRLF
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === '') {
          if (data.length) onEvent(type || 'message', data.join('\n'));
          type = '';
          data = [];
          size = 0;
          continue;
        }
        if (line[0] === ':') continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let val = c < 0 ? '' : line.slice(c + 1);
        if (val[0] === ' ') val = val.slice(1);
        if (field === 'event') type = val;
        else if (field === 'data') { data.push(val); size += val.length; }
        else if (field === 'retry' && /^\d+$/.test(val)) sseRetryMs = Math.min(60_000, Math.max(500, Number(val)));
      }
      if (buf.length + size > SSE_MAX_EVENT) throw new Error('event stream: event too large');
    }
  }

  function onServerEvent(type, text) {
    let d;
    try { d = JSON.parse(text); } catch { return; }
    // A bug in a view must not pass for a broken stream (and be retried in silence).
    try { applyServerEvent(type, d); } catch (e) { setTimeout(() => { throw e; }); }
  }

  function applyServerEvent(type, d) {
    if (type === 'state') {
      applyNetwork(d);
      if (Array.isArray(d.devices_list)) applyDevices(d.devices_list);
      scheduleRefetch();
    } else if (type === 'alert') {
      addAlert(d);
      scheduleRefetch();
    }
  }

  function checkEventStall() {
    if (S.live && evAbort && Date.now() - sseLastByte > SSE_STALL_MS) {
      evAbort.abort();
      evAbort = null;
      scheduleReconnect(1000);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Network card, permit join, policy, rotation

  function describePolicy(p) {
    if (!p) return '';
    const legacy = p.legacy_join === 'install-code-required' ? 'install code required' : 'allowed while permit join is open';
    return `Insecure rejoin: ${p.insecure_rejoin} · Legacy join: ${legacy} · Spoofed rejoin: ${p.spoof_response}`
      + ` · Rotate after legacy window: ${p.rotate_after_legacy_window ? 'yes' : 'no'}`;
  }

  function applyNetwork(n) {
    if (!n || typeof n !== 'object') return;
    S.network = n;
    S.lastNetworkAt = Date.now();
    if (typeof n.now === 'number') clockOffset = n.now - Date.now();

    setText($('net-pan'), n.pan_id ?? '–');
    setText($('net-epan'), n.extended_pan_id ?? '–');
    setText($('net-channel'), n.channel ?? '–');
    setText($('net-key-seq'), n.active_key_seq ?? '–');
    // Which keys a sniffer (or a removed device) may hold, and why; the advice says what to do.
    const exposedKeys = (n.keys || []).filter((k) => k.exposed);
    const ke = $('net-key-exposure');
    setText(ke, exposedKeys.length === 0 ? 'no key exposed'
      : exposedKeys.map((k) => `key ${k.seq}${k.active ? ' (active)' : ''}: ${k.exposure || 'exposed'}`).join(' · '));
    ke.className = n.active_key_exposed ? 'risk-high' : '';
    setAttr(ke, 'title', n.key_advice || null);
    setText($('net-radio'), n.radio ?? '–');
    setText($('net-devices'), n.devices ?? '–');
    const atRisk = n.devices_at_risk ?? 0;
    setText($('net-at-risk'), atRisk);
    $('net-at-risk').className = atRisk > 0 ? 'risk-high' : '';
    setText($('net-alerts'), n.alerts ?? '–');
    setText($('net-policy'), describePolicy(n.policy));
    const pill = $('net-risk');
    if (atRisk > 0) {
      pill.className = 'pill pill-red';
      setText(pill, `${atRisk} device${atRisk === 1 ? '' : 's'} at risk`);
    } else {
      pill.className = 'pill pill-green';
      setText(pill, 'no device at risk');
    }

    renderMap();
    if (n.permit_join) applyPermit(n.permit_join);
    if (n.policy) applyPolicy(n.policy, false);
    if ('rotation' in n) applyRotation(n.rotation);
  }

  function applyPermit(p) {
    const prev = S.permit;
    S.permit = p;
    const now = performance.now();
    if (!p.open) {
      S.permitDeadline = 0;
    } else {
      const deadline = now + (p.remaining_s || 0) * 1000;
      // Ignore sub-second jitter between the server's integer seconds and the local tick.
      if (!prev.open || prev.ieee !== p.ieee || Math.abs(deadline - S.permitDeadline) > 1500) {
        S.permitDeadline = deadline;
      }
    }
    renderPermit();
  }

  function renderPermit() {
    const c = $('permit-join-countdown');
    const left = S.permitDeadline ? Math.ceil((S.permitDeadline - performance.now()) / 1000) : 0;
    const open = S.permit.open && left > 0;
    setText(c, open ? `Permit join open: ${mmss(left)}` : 'Permit join closed');
    setAttr(c, 'data-open', open ? 'true' : 'false');
    setAttr(c, 'data-remaining', open ? left : 0);
    c.classList.toggle('open', open);
    const t = $('permit-join-target');
    const who = open && S.permit.ieee ? `only for ${S.permit.ieee}` : open ? 'any device may join' : '';
    setText(t, who);
    show(t, !!who);
    $('permit-join-close').disabled = !open;
  }

  async function permitJoin(duration) {
    setText($('permit-join-error'), '');
    const ieeeIn = $('permit-join-ieee').value.trim();
    const body = { duration_s: duration, ieee: duration > 0 && ieeeIn ? ieeeIn : null };
    try {
      applyPermit(await api('POST', '/api/permit-join', body));
    } catch (e) {
      if (e.status !== 401) setText($('permit-join-error'), e.message);
    }
  }

  // Policy form: the live state does not overwrite what the user is editing.
  function applyPolicy(p, force) {
    if (S.policyDirty && !force) return;
    const set = (id, v) => { if (v !== undefined && $(id).value !== v) $(id).value = v; };
    set('policy-insecure-rejoin', p.insecure_rejoin);
    set('policy-legacy-join', p.legacy_join);
    set('policy-spoof-response', p.spoof_response);
    $('policy-rotate-after-legacy').checked = !!p.rotate_after_legacy_window;
  }

  async function savePolicy(ev) {
    ev.preventDefault();
    setText($('policy-error'), '');
    setText($('policy-status'), 'Saving…');
    const body = {
      insecure_rejoin: $('policy-insecure-rejoin').value,
      legacy_join: $('policy-legacy-join').value,
      spoof_response: $('policy-spoof-response').value,
      rotate_after_legacy_window: $('policy-rotate-after-legacy').checked,
    };
    $('policy-save').disabled = true;
    try {
      const p = await api('PUT', '/api/policy', body);
      S.policyDirty = false;
      applyPolicy(p, true);
      if (S.network) { S.network.policy = p; setText($('net-policy'), describePolicy(p)); }
      setText($('policy-status'), 'Saved');
    } catch (e) {
      setText($('policy-status'), '');
      setText($('policy-error'), e.field ? `${e.field}: ${e.message}` : e.message);
    } finally {
      $('policy-save').disabled = false;
    }
  }

  function applyRotation(r) {
    S.rotation = r || null;
    renderRotation();
  }

  function renderRotation() {
    const r = S.rotation;
    const box = $('rotation-progress');
    const pill = $('rotation-state');
    if (!r) {
      setAttr(box, 'data-state', 'none');
      setAttr(box, 'data-to-seq', null);
      pill.className = 'pill';
      setText(pill, 'no rotation');
      setText($('rotation-count'), 'No rotation since the daemon started.');
      setText($('rotation-seq'), '');
      setText($('rotation-deadline'), '');
      $('rotation-bar').style.width = '0%';
      $('rotation-devices').replaceChildren();
      show($('rotation-stragglers'), false);
      $('rotate').disabled = false;
      return;
    }
    const total = r.total ?? (r.devices || []).length;
    const confirmed = r.confirmed ?? (r.devices || []).filter((d) => d.confirmed).length;
    const switched = r.state === 'switched';
    setAttr(box, 'data-state', r.state);
    setAttr(box, 'data-to-seq', r.to_seq);
    setAttr(box, 'data-confirmed', confirmed);
    setAttr(box, 'data-total', total);
    const hasStragglers = (r.stragglers || []).length > 0;
    pill.className = `pill ${switched && !hasStragglers ? 'pill-green' : switched ? 'pill-red' : 'pill-amber'}`;
    setText(pill, r.state);
    setText($('rotation-count'), `${confirmed} / ${total} confirmed`);
    setText($('rotation-seq'), `key seq ${r.from_seq} → ${r.to_seq}`);
    renderRotationDeadline();
    const bar = $('rotation-bar');
    bar.style.width = `${total ? Math.round((confirmed / total) * 100) : 100}%`;
    bar.classList.toggle('done', switched && !hasStragglers);
    bar.classList.toggle('short', switched && hasStragglers);
    $('rotate').disabled = !switched;

    const ul = $('rotation-devices');
    const items = (r.devices || []).map((d) => {
      const dev = S.deviceByIeee.get(d.ieee);
      const label = (dev && dev.name) || d.ieee;
      return el('li', { 'data-ieee': d.ieee, 'data-confirmed': d.confirmed ? 'true' : 'false', class: d.confirmed ? 'tick ok' : 'tick', title: d.ieee },
        el('span', { class: 'tick-mark', text: d.confirmed ? '✓' : '○' }), label);
    });
    ul.replaceChildren(...items);

    const strag = (r.stragglers || []).map((s) => (typeof s === 'string' ? s : (s && s.ieee) || JSON.stringify(s)));
    const sp = $('rotation-stragglers');
    if (strag.length) {
      setText(sp, `Did not confirm before the deadline: ${strag.map((i) => (S.deviceByIeee.get(i) || {}).name || i).join(', ')}`);
    }
    show(sp, strag.length > 0);
  }

  function renderRotationDeadline() {
    const r = S.rotation;
    if (!r) return;
    if (r.state === 'switched') {
      setText($('rotation-deadline'), 'switched');
    } else if (r.deadline) {
      const s = Math.max(0, Math.ceil((r.deadline - serverNow()) / 1000));
      setText($('rotation-deadline'), `switch in ≤ ${mmss(s)}`);
    }
  }

  async function rotate() {
    setText($('rotation-error'), '');
    const deadline_s = Number($('rotate-deadline').value) || 60;
    $('rotate').disabled = true;
    try {
      applyRotation(await api('POST', '/api/network-key/rotate', { deadline_s }));
    } catch (e) {
      $('rotate').disabled = false;
      if (e.status !== 401) setText($('rotation-error'), e.message);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Device table (keyed rows, updated in place so tooltips and buttons survive live updates)

  const ROLE = { router: 'router', 'end-device': 'end device', 'sleepy-end-device': 'sleepy end device' };
  const SECURITY = { 'z3.0': 'Z3.0', legacy: 'legacy', restored: 'restored' };
  const rows = new Map();

  function applyDevices(list) {
    S.devices = list;
    S.deviceByIeee = new Map(list.map((d) => [d.ieee, d]));
    renderDevices();
    renderMap();
    if (S.rotation) renderRotation();
  }

  function deviceRow(ieee) {
    const tr = el('tr', { 'data-ieee': ieee });
    tr.append(el('td', { 'data-field': 'device' },
      el('div', { 'data-field': 'name', class: 'dev-name' }),
      el('div', { 'data-field': 'ieee', class: 'mono small muted' })));
    for (const f of ['role', 'security', 'install_code_key', 'tclk_verified', 'last_key_seq',
      'has_active_key', 'last_seen', 'stranded_risk', 'actions']) {
      tr.append(el('td', { 'data-field': f }));
    }
    const btn = el('button', { type: 'button', class: 'danger small remove', text: 'Remove', 'data-ieee': ieee });
    btn.addEventListener('click', () => removeDevice(ieee));
    tr.querySelector('[data-field="actions"]').append(btn);
    // For a legacy device that lost its key: the explicit, logged way back (no factory reset).
    const rw = el('button', { type: 'button', class: 'small rejoin-window', text: 'Let it rejoin', hidden: true });
    rw.addEventListener('click', () => openRejoinWindow(ieee));
    tr.querySelector('[data-field="actions"]').append(' ', rw);
    const risk = tr.querySelector('[data-field="stranded_risk"]');
    risk.append(el('span', { class: 'pill' }), el('div', { class: 'reason small' }));
    return tr;
  }

  function boolCell(td, v, badWhenFalse) {
    setText(td, v ? 'yes' : 'no');
    td.className = v ? 'bool yes' : badWhenFalse ? 'bool no bad' : 'bool no';
  }

  function renderDevices() {
    const showRemoved = $('show-removed').checked;
    const list = S.devices
      .filter((d) => showRemoved || !d.removed)
      .slice()
      .sort((a, b) => (a.removed - b.removed)
        || ((a.name ? 0 : 1) - (b.name ? 0 : 1))
        || String(a.name || '').localeCompare(String(b.name || ''))
        || String(a.ieee).localeCompare(String(b.ieee)));
    const tbody = $('device-table').tBodies[0];
    const keep = new Set();
    let prev = null;
    for (const d of list) {
      keep.add(d.ieee);
      let tr = rows.get(d.ieee);
      if (!tr) { tr = deviceRow(d.ieee); rows.set(d.ieee, tr); }
      updateRow(tr, d);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const [ieee, tr] of rows) {
      if (!keep.has(ieee)) { tr.remove(); rows.delete(ieee); }
    }
    show($('device-empty'), list.length === 0);
  }

  function updateRow(tr, d) {
    const c = (f) => tr.querySelector(`[data-field="${f}"]`);
    setAttr(tr, 'data-removed', d.removed ? 'true' : 'false');
    setAttr(tr, 'data-risk', d.stranded_risk || 'none');
    tr.classList.toggle('removed', !!d.removed);
    tr.classList.toggle('row-high', d.stranded_risk === 'high');

    setText(c('name'), d.name || '—');
    setText(c('ieee'), d.ieee);
    setAttr(c('device'), 'title', d.short_addr ? `short address ${d.short_addr}${d.parent ? `, parent ${d.parent}` : ''}` : null);
    setText(c('role'), ROLE[d.role] || d.role || '');

    const sec = c('security');
    setAttr(sec, 'data-value', d.security);
    if (!sec.firstChild) sec.append(el('span'));
    sec.firstChild.className = `badge sec-${String(d.security || '').replace(/[^a-z0-9]/gi, '')}`;
    setText(sec.firstChild, SECURITY[d.security] || d.security || '');
    setAttr(sec, 'title', d.advice || (d.link_key_public ? 'public link key' : null));

    boolCell(c('install_code_key'), d.install_code_key, false);
    boolCell(c('tclk_verified'), d.tclk_verified, false);
    setText(c('last_key_seq'), d.last_key_seq ?? '—');
    boolCell(c('has_active_key'), d.has_active_key, true);

    const ls = c('last_seen');
    setAttr(ls, 'data-ts', d.last_seen || 0);
    setAttr(ls, 'title', d.last_seen ? new Date(d.last_seen).toLocaleString() : null);
    setText(ls, ago(d.last_seen));

    const risk = c('stranded_risk');
    const r = d.stranded_risk || 'none';
    setAttr(risk, 'data-value', r);
    setAttr(risk, 'title', d.stranded_reason || null);
    const pill = risk.firstChild;
    pill.className = `pill ${r === 'high' ? 'pill-red' : r === 'low' ? 'pill-amber' : 'pill-green'}`;
    setText(pill, r);
    setText(risk.lastChild, d.stranded_reason || '');

    const btn = c('actions').firstChild;
    btn.hidden = !!d.removed;
    const rw = c('actions').querySelector('.rejoin-window');
    if (rw) rw.hidden = !(d.stranded_risk === 'high' && d.security === 'legacy' && !d.removed);
  }

  async function openRejoinWindow(ieee) {
    const d = S.deviceByIeee.get(ieee);
    const who = d && d.name ? `${d.name} (${ieee})` : ieee;
    if (!confirm(`Open a 2-minute rejoin window for ${who}?\n\nWhile it is open, legacy devices that lost their network key may rejoin and get it under the public ZigBeeAlliance09 key: anyone sniffing can read it. Rotate the network key afterwards.`)) return;
    try {
      await api('POST', '/api/rejoin-window', { duration_s: 120 });
      toast('Rejoin window open for 2 minutes.', 'ok');
      loadNetwork();
    } catch (e) {
      if (e.status !== 401) toast(`Rejoin window: ${e.message}`);
    }
  }

  async function removeDevice(ieee) {
    const d = S.deviceByIeee.get(ieee);
    const who = d && d.name ? `${d.name} (${ieee})` : ieee;
    if (!confirm(`Remove ${who}?\n\nIt is told to leave the network and may not rejoin until its install code is added again or a permit join is opened for it.`)) return;
    try {
      await api('DELETE', `/api/devices/${ieeePath(ieee)}`);
      toast(`Removed ${who}.`, 'ok');
      loadDevices();
      loadNetwork();
    } catch (e) {
      if (e.status !== 401) toast(`Remove ${who}: ${e.message}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Install codes

  const IC_FIELDS = ['ieee', 'install_code', 'qr'];
  const IC_INPUT = { ieee: 'ic-ieee', install_code: 'ic-code', qr: 'ic-qr' };

  function clearIcErrors() {
    for (const f of IC_FIELDS) {
      setText($(`ic-error-${f}`), '');
      $(IC_INPUT[f]).removeAttribute('aria-invalid');
    }
    setText($('ic-error'), '');
  }

  function icError(field, msg) {
    if (IC_FIELDS.includes(field)) {
      setText($(`ic-error-${field}`), msg);
      $(IC_INPUT[field]).setAttribute('aria-invalid', 'true');
      $(IC_INPUT[field]).focus();
    } else {
      setText($('ic-error'), msg);
    }
  }

  async function submitInstallCode(ev) {
    ev.preventDefault();
    clearIcErrors();
    setText($('ic-result'), '');
    const ieee = $('ic-ieee').value.trim();
    const code = $('ic-code').value.trim();
    const qr = $('ic-qr').value.trim();
    let body;
    if (qr) {
      body = { qr };
    } else if (ieee || code) {
      if (!ieee) { icError('ieee', 'Enter the device’s IEEE address (or paste the whole QR / label text below).'); return; }
      if (!code) { icError('install_code', 'Enter the install code printed on the device, including its CRC.'); return; }
      body = { ieee, install_code: code };
    } else {
      icError('qr', 'Enter an IEEE address and install code, or paste the QR / label text.');
      return;
    }
    stopScan();
    $('ic-submit').disabled = true;
    try {
      const r = await api('POST', '/api/install-codes', body);
      $('ic-ieee').value = '';
      $('ic-code').value = '';
      $('ic-qr').value = '';
      clearScanResult();
      scanMessage('');
      const bits = [];
      if (r && r.code_bytes) bits.push(`${r.code_bytes}-byte code`);
      if (r && r.format) bits.push(`read as ${r.format}`);
      setText($('ic-result'), `Added the install code for ${r && r.ieee}${bits.length ? ` (${bits.join(', ')})` : ''}. Open permit join to let it join.`);
      loadPending();
    } catch (e) {
      if (e.status === 401) return;
      // A QR payload's errors belong to the QR field even when the daemon names the part inside it.
      let field = e.field;
      if (body.qr && (field === 'ieee' || field === 'install_code')) field = 'qr';
      icError(field, e.message);
    } finally {
      $('ic-submit').disabled = false;
    }
  }

  function useLabel(label) {
    $('ic-ieee').value = '';
    $('ic-code').value = '';
    $('ic-qr').value = label;
    clearIcErrors();
    setText($('ic-result'), '');
    $('install-code-panel').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    $('ic-qr').focus();
  }

  function renderPending() {
    const ul = $('ic-pending');
    const items = S.pending.map((p) => {
      const simDev = S.sim && (S.sim.devices || []).find((d) => d.ieee === p.ieee);
      const btn = el('button', { type: 'button', class: 'link small', text: 'remove', title: 'Forget this install code' });
      btn.addEventListener('click', async () => {
        if (!confirm(`Forget the install code of ${p.ieee}?`)) return;
        try { await api('DELETE', `/api/install-codes/${ieeePath(p.ieee)}`); loadPending(); } catch (e) { if (e.status !== 401) toast(e.message); }
      });
      return el('li', { 'data-ieee': p.ieee, 'data-joined': String(!!p.joined) }, el('span', { class: 'mono', text: p.ieee }),
        simDev && simDev.name ? el('span', { class: 'muted', text: ` ${simDev.name}` }) : null,
        el('span', { class: 'muted small', text: p.joined ? ' · joined' : ' · waiting to join' }), ' ', btn);
    });
    ul.replaceChildren(...items);
    show($('ic-pending-empty'), items.length === 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Alerts and audit log

  function addAlert(a) {
    if (!a || a.id === undefined) return;
    if (!S.alerts.some((x) => x.id === a.id)) {
      S.alerts.unshift(a);
      S.alerts.sort((x, y) => y.id - x.id);
      S.alerts.length = Math.min(S.alerts.length, 100);
    }
    if (!S.audit.some((x) => x.id === a.id)) {
      S.audit.unshift(a);
      S.audit.sort((x, y) => y.id - x.id);
      S.audit.length = Math.min(S.audit.length, AUDIT_KEEP);
      renderAudit();
      renderTimeline();
    }
    renderAlerts();
  }

  function logItem(a) {
    const sev = a.severity || 'info';
    const dev = a.ieee && S.deviceByIeee.get(a.ieee);
    return el('li', { class: `sev-${sev}`, 'data-id': a.id, 'data-kind': a.kind },
      el('span', { class: 'dot', title: sev }),
      el('div', { class: 'log-body' },
        el('div', { class: 'log-head' },
          el('strong', { text: a.kind }),
          a.ieee ? (dev && dev.name
            ? el('span', { class: 'small', text: dev.name, title: a.ieee })
            : el('span', { class: 'mono small', text: a.ieee })) : null,
          el('span', { class: 'muted small time', text: clock(a.time), title: a.time ? new Date(a.time).toLocaleString() : '' })),
        a.detail ? el('div', { class: 'small', text: a.detail }) : null));
  }

  function renderAlerts() {
    const list = S.alerts.slice(0, 50);
    $('alerts-list').replaceChildren(...list.map(logItem));
    show($('alerts-empty'), list.length === 0);
    renderBanner();
  }

  function renderAudit() {
    $('audit-log').replaceChildren(...S.audit.slice(0, 50).map(logItem));
    show($('audit-empty'), S.audit.length === 0);
  }

  function renderBanner() {
    const newest = S.alerts.filter((a) => a.severity === 'alert').sort((x, y) => y.id - x.id)[0];
    const b = $('alert-banner');
    if (!newest || newest.id <= dismissedAlertId) {
      show(b, false);
      return;
    }
    setAttr(b, 'data-id', newest.id);
    setAttr(b, 'data-kind', newest.kind);
    setText($('alert-banner-kind'), newest.kind);
    const dev = newest.ieee && S.deviceByIeee.get(newest.ieee);
    setText($('alert-banner-ieee'), newest.ieee ? (dev && dev.name ? `${dev.name} (${newest.ieee})` : newest.ieee) : '');
    setText($('alert-banner-detail'), newest.detail || '');
    setText($('alert-banner-time'), clock(newest.time));
    show(b, true);
  }

  function dismissBanner() {
    const id = Number($('alert-banner').getAttribute('data-id') || 0);
    dismissedAlertId = Math.max(dismissedAlertId, id);
    sessionStorage.setItem(DISMISS_KEY, String(dismissedAlertId));
    renderBanner();
  }

  // ---------------------------------------------------------------------------------------------
  // Simulated home

  const simRows = new Map();

  function renderSim() {
    const panel = $('sim-panel');
    const sim = S.sim;
    show(panel, !!sim);
    if (!sim) return;
    const t = $('attacker-toggle');
    if (!S.attackerBusy) t.checked = !!sim.attacker;
    panel.classList.toggle('attacker-on', !!sim.attacker);
    const knows = sim.attacker_knows_network_key ? ' It has captured the network key.' : '';
    setText($('sim-summary'), sim.attacker
      ? `Attacker on: sniffing every frame and spoofing Trust Center rejoins (${sim.spoofs_sent || 0} sent so far).${knows}`
      : `Attacker off.${knows} Unjoined Z3.0 devices carry a printed install-code label: use it to pair them.`);
    $('sim-summary').classList.toggle('risk-high', !!sim.attacker_knows_network_key);

    const tbody = $('sim-devices').tBodies[0];
    const keep = new Set();
    let prev = null;
    for (const d of sim.devices || []) {
      keep.add(d.ieee);
      let tr = simRows.get(d.ieee);
      if (!tr) {
        tr = el('tr', { 'data-ieee': d.ieee },
          el('td', { 'data-field': 'device' }, el('div', { class: 'sim-name' }), el('div', { class: 'mono small muted' })),
          el('td', { 'data-field': 'joined' }),
          el('td', { 'data-field': 'label' }, el('code', { class: 'label small' }),
            el('button', { type: 'button', class: 'use-label small', text: 'Use this label' })));
        tr.querySelector('button.use-label').addEventListener('click', () => {
          const cur = (S.sim.devices || []).find((x) => x.ieee === d.ieee);
          if (cur && cur.label) useLabel(cur.label);
        });
        simRows.set(d.ieee, tr);
      }
      const dev = tr.querySelector('[data-field="device"]');
      setText(dev.firstChild, `${d.name || 'device'} · ${d.profile === 'z3.0' ? 'Z3.0' : d.profile} · ${ROLE[d.role] || d.role}`);
      setText(dev.lastChild, d.ieee);
      setAttr(tr, 'data-joined', d.joined ? 'true' : 'false');
      const j = tr.querySelector('[data-field="joined"]');
      setText(j, d.joined ? 'joined' : 'not joined');
      j.className = d.joined ? 'bool yes' : 'bool no';
      const lab = tr.querySelector('code.label');
      setText(lab, d.label || 'no install-code label (legacy device)');
      lab.classList.toggle('muted', !d.label);
      lab.classList.toggle('none', !d.label);
      tr.querySelector('button.use-label').disabled = !d.label;
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const [ieee, tr] of simRows) {
      if (!keep.has(ieee)) { tr.remove(); simRows.delete(ieee); }
    }
    renderPending();
  }

  async function toggleAttacker() {
    const t = $('attacker-toggle');
    const enabled = t.checked;
    S.attackerBusy = true;
    t.disabled = true;
    try {
      S.sim = await api('POST', '/api/sim/attacker', { enabled });
    } catch (e) {
      t.checked = !enabled;
      if (e.status !== 401) toast(`attacker: ${e.message}`);
    } finally {
      S.attackerBusy = false;
      t.disabled = false;
      renderSim();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // SVG helper (the map and the timeline are inline SVG built here; text only via textContent)

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG_NS, tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'text') e.textContent = v;
        else e.setAttribute(k, String(v));
      }
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  const titled = (e, text) => { e.prepend(svg('title', { text })); return e; };

  function clip(text, n) {
    text = String(text || '');
    return text.length > n ? `${text.slice(0, n - 1)}…` : text;
  }

  // ---------------------------------------------------------------------------------------------
  // Network map: the coordinator, routers and end devices as a tree (parent → child from each
  // device's `parent` short address), each device's security state at a glance, and the link
  // quality the coordinator measured on the links it hears directly. The layout is
  // deterministic and hand-made: a node's children that have children of their own sit side by
  // side below it (wrapping into rows so the map fits the card), its other children are stacked
  // beneath it; all hang off one vertical trunk, so no edge crosses a node.

  const MAP = { nodeW: 192, nodeH: 40, leafX: 68, leafH: 46, indent: 28, gapX: 16, rowGap: 36, pad: 10, trunk: 16 };
  const SEC_LABEL = {
    exposed: 'exposed link key',
    legacy: 'legacy (well-known link key)',
    'install-code': 'install-code key',
    verified: 'verified TCLK',
  };
  const ROLE_SHORT = { router: 'router', 'end-device': 'end device', 'sleepy-end-device': 'sleepy' };

  // The device's link-key state, worst first: a unique key that travelled under public keys,
  // the public ZigBeeAlliance09 key, an install-code key not yet proven, a verified TCLK.
  function securityState(d) {
    if (d.link_key === 'exposed') return 'exposed';
    if (d.link_key === 'well-known' || d.link_key_public) return 'legacy';
    if (d.tclk_verified) return 'verified';
    return 'install-code';
  }

  const lqiClass = (lqi) => (lqi >= 150 ? 'q-good' : lqi >= 80 ? 'q-fair' : 'q-poor');

  function mapTree(devices) {
    const root = { key: 'coordinator', short: '0x0000', dev: null, children: [] };
    const byShort = new Map();
    // A removed device's address may already belong to a new one: live devices win it.
    const ordered = devices.slice().sort((a, b) => (a.removed - b.removed) || String(a.ieee).localeCompare(String(b.ieee)));
    const nodes = ordered.map((d) => ({ key: d.ieee, short: String(d.short_addr || '').toLowerCase(), dev: d, children: [], orphan: false }));
    for (const n of nodes) if (n.short && n.short !== '0x0000' && !byShort.has(n.short)) byShort.set(n.short, n);
    const parentOf = new Map();
    for (const n of nodes) {
      const p = String(n.dev.parent || '').toLowerCase();
      let parent = p === '0x0000' ? root : byShort.get(p);
      if (!parent || parent === n) { parent = root; n.orphan = p !== '0x0000'; }
      parentOf.set(n, parent);
    }
    // Parent loops (stale parents after rejoins) would hide devices: such a device hangs off
    // the coordinator instead, marked as of unknown parent.
    for (const n of nodes) {
      const seen = new Set([n]);
      let p = parentOf.get(n);
      while (p !== root) {
        if (seen.has(p)) { parentOf.set(n, root); n.orphan = true; break; }
        seen.add(p);
        p = parentOf.get(p);
      }
    }
    for (const n of nodes) parentOf.get(n).children.push(n);
    const order = (a, b) => (a.dev.removed - b.dev.removed)
      || ((a.dev.role === 'router' ? 0 : 1) - (b.dev.role === 'router' ? 0 : 1))
      || String(a.dev.name || '~').localeCompare(String(b.dev.name || '~'))
      || a.short.localeCompare(b.short);
    const sortAll = (n) => { n.children.sort(order); n.children.forEach(sortAll); };
    sortAll(root);
    return root;
  }

  // Sizes every subtree for `avail` px of width; positions are relative to the subtree's box.
  function measure(n, avail) {
    n.leaves = n.children.filter((c) => c.children.length === 0);
    n.branches = n.children.filter((c) => c.children.length > 0);
    for (const c of n.leaves) measure(c, avail);
    const leavesH = n.leaves.length ? 10 + n.leaves.length * MAP.leafH : 0;
    let w = Math.max(MAP.nodeW, n.leaves.length ? MAP.leafX + MAP.nodeW : 0);
    let y = MAP.nodeH + leavesH;
    n.rows = [];
    let row = null;
    for (const c of n.branches) {
      measure(c, avail - MAP.indent);
      if (!row || (row.w + MAP.gapX + c.w > avail - MAP.indent && row.items.length)) {
        row = { items: [], w: -MAP.gapX, h: 0 };
        n.rows.push(row);
      }
      c.rx = MAP.indent + row.w + MAP.gapX;
      row.w += MAP.gapX + c.w;
      row.h = Math.max(row.h, c.h);
      row.items.push(c);
    }
    for (const r of n.rows) {
      y += MAP.rowGap;
      r.y = y;
      for (const c of r.items) c.ry = y;
      y += r.h;
      w = Math.max(w, MAP.indent + r.w);
    }
    n.w = w;
    n.h = n.rows.length ? y : MAP.nodeH + leavesH - (n.leaves.length ? MAP.leafH - MAP.nodeH : 0);
  }

  function linkOf(n) {
    const l = n.dev && n.dev.link;
    return l && (l.lqi !== null && l.lqi !== undefined || l.heard_at) ? l : null;
  }

  function mapNode(n, x, y) {
    const d = n.dev;
    const net = S.network || {};
    let sec; let risk; let line1; let line2; let shape; let tip;
    if (!d) {
      sec = net.active_key_exposed ? 'exposed' : 'verified';
      risk = 'none';
      line1 = 'Trust Center';
      line2 = `0x0000 · key ${net.active_key_seq ?? '–'}${net.active_key_exposed ? ' exposed' : ''}`;
      shape = 'coordinator';
      tip = `Trust Center (coordinator, 0x0000)\nactive network key ${net.active_key_seq ?? '–'}${net.active_key_exposed ? ' — EXPOSED: a sniffer may hold it' : ''}`;
    } else {
      sec = securityState(d);
      risk = d.stranded_risk || 'none';
      line1 = d.name || d.ieee;
      const l = linkOf(n);
      line2 = `${d.short_addr} · ${ROLE_SHORT[d.role] || d.role}${d.removed ? ' · removed' : ''}`;
      shape = d.role === 'router' ? 'router' : 'end-device';
      tip = [
        `${d.name || 'device'} — ${d.ieee}`,
        `${ROLE[d.role] || d.role}, short ${d.short_addr}, parent ${d.parent}${n.orphan ? ' (not in the list)' : ''}`,
        `security: ${SEC_LABEL[sec]} (${SECURITY[d.security] || d.security}, link key ${d.link_key})`,
        `network key ${d.last_key_seq ?? '–'}${d.has_active_key ? ' (active)' : ' — lacks the active key'}`,
        l ? `heard directly: LQI ${l.lqi ?? '–'}, RSSI ${l.rssi ?? '–'} dBm, ${ago(l.heard_at)}` : 'not heard directly by the coordinator',
        risk !== 'none' ? `stranded risk ${risk}: ${d.stranded_reason || ''}` : '',
        d.removed ? 'removed from the network' : '',
      ].filter(Boolean).join('\n');
    }
    const g = svg('g', {
      class: `map-node shape-${shape} sec-${sec} at-risk-${risk}${d && d.removed ? ' removed' : ''}`,
      transform: `translate(${x},${y})`,
      'data-key': n.key,
      'data-ieee': d ? d.ieee : null,
      'data-security': sec,
      'data-risk': risk,
      'data-removed': d ? String(!!d.removed) : null,
      tabindex: d ? '0' : null,
      role: d ? 'button' : 'img',
      'aria-label': tip.replace(/\n/g, '; '),
    });
    g.append(
      svg('rect', { class: 'node-box', width: MAP.nodeW, height: MAP.nodeH, rx: shape === 'end-device' ? 14 : 4 }),
      svg('circle', { class: 'node-dot', cx: 15, cy: MAP.nodeH / 2, r: shape === 'coordinator' ? 7 : 6 }),
      // Cut to what fits the box (12.5 px bold name, 10.5 px monospace line); the title has all.
      svg('text', { class: 'node-name', x: 28, y: 16, text: clip(line1, risk === 'none' ? 21 : 19) }),
      svg('text', { class: 'node-sub', x: 28, y: 31, text: clip(line2, 24) }),
    );
    if (risk === 'high' || risk === 'low') {
      g.append(svg('circle', { class: 'node-risk', cx: MAP.nodeW - 11, cy: 11, r: 7 }),
        svg('text', { class: 'node-risk-mark', x: MAP.nodeW - 11, y: 15, text: '!' }));
    }
    return titled(g, tip);
  }

  function edgeLabel(x, y, child) {
    const l = linkOf(child);
    if (!l || l.lqi === null || l.lqi === undefined) return null;
    return svg('text', { class: 'edge-label', x, y, 'data-to': child.key, text: `LQI ${l.lqi}` });
  }

  function edgeClass(parent, child) {
    if (child.orphan) return 'edge q-orphan';
    const l = parent.dev ? null : linkOf(child);
    if (!l) return 'edge q-none';
    return `edge ${l.lqi === null || l.lqi === undefined ? 'q-heard' : lqiClass(l.lqi)}`;
  }

  function drawTree(n, x, y, edges, nodes) {
    nodes.push(mapNode(n, x, y));
    const tx = x + MAP.trunk;
    let bottom = y + MAP.nodeH;
    n.leaves.forEach((c, i) => {
      const cy = y + MAP.nodeH + 10 + i * MAP.leafH + MAP.nodeH / 2;
      const cls = edgeClass(n, c);
      edges.push(svg('path', { class: cls, d: `M${tx},${cy}H${x + MAP.leafX}`, 'data-to': c.key }));
      if (!n.dev) { const t = edgeLabel(tx + 5, cy - 5, c); if (t) edges.push(t); }
      bottom = cy;
      drawTree(c, x + MAP.leafX, cy - MAP.nodeH / 2, edges, nodes);
    });
    for (const r of n.rows) {
      const busY = y + r.y - MAP.rowGap / 2;
      const last = r.items[r.items.length - 1];
      edges.push(svg('path', { class: 'edge bus', d: `M${tx},${busY}H${x + last.rx + MAP.trunk}` }));
      for (const c of r.items) {
        const cx = x + c.rx + MAP.trunk;
        edges.push(svg('path', { class: edgeClass(n, c), d: `M${cx},${busY}V${y + c.ry}`, 'data-to': c.key }));
        if (!n.dev) { const t = edgeLabel(cx + 5, busY + 13, c); if (t) edges.push(t); }
        drawTree(c, x + c.rx, y + c.ry, edges, nodes);
      }
      bottom = busY;
    }
    if (bottom > y + MAP.nodeH) edges.unshift(svg('path', { class: 'edge trunk', d: `M${tx},${y + MAP.nodeH}V${bottom}` }));
  }

  let mapSig = '';

  function renderMap() {
    const box = $('net-map');
    if (!box || !S.running) return;
    const devices = S.devices || [];
    const width = Math.max(MAP.nodeW + 2 * MAP.pad, box.clientWidth || 860);
    const net = S.network || {};
    const sig = JSON.stringify([width, net.active_key_seq, net.active_key_exposed, devices.map((d) => [d.ieee, d.short_addr,
      d.parent, d.name, d.role, d.link_key, d.link_key_public, d.tclk_verified, d.stranded_risk, d.stranded_reason,
      d.removed, d.security, d.last_key_seq, d.has_active_key, d.link && d.link.lqi, d.link && d.link.rssi,
      d.link && Math.floor((d.link.heard_at || 0) / 10000)])]);
    if (sig === mapSig) return;
    mapSig = sig;

    const root = mapTree(devices);
    measure(root, width - 2 * MAP.pad);
    const edges = [];
    const nodes = [];
    drawTree(root, MAP.pad, MAP.pad, edges, nodes);
    const W = root.w + 2 * MAP.pad;
    const H = root.h + 2 * MAP.pad;
    const live = devices.filter((d) => !d.removed);
    const count = (f) => live.filter(f).length;
    const summary = `${live.length} device${live.length === 1 ? '' : 's'} · ${count((d) => d.role === 'router')} routers`
      + ` · ${count((d) => securityState(d) === 'exposed' || securityState(d) === 'legacy')} on public or exposed link keys`
      + ` · ${count((d) => d.stranded_risk === 'high')} at high stranded risk`
      + (devices.length > live.length ? ` · ${devices.length - live.length} removed` : '');
    setText($('map-summary'), summary);
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('#net-map .map-node');
    const focusKey = focused ? focused.getAttribute('data-key') : null;
    const root$ = svg('svg', {
      class: 'map-svg', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'group',
      'aria-label': `Network map: the Trust Center and ${summary}. Select a device to show it in the device table.`,
    }, svg('g', { class: 'edges' }, ...edges), svg('g', { class: 'nodes' }, ...nodes));
    box.replaceChildren(root$);
    if (focusKey) {
      const again = box.querySelector(`.map-node[data-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  // A map node opens the device's row in the table.
  function showDeviceRow(ieee) {
    const d = S.deviceByIeee.get(ieee);
    if (d && d.removed && !$('show-removed').checked) {
      $('show-removed').checked = true;
      renderDevices();
    }
    const tr = rows.get(ieee);
    if (!tr) return;
    tr.scrollIntoView({ block: 'center', behavior: 'smooth' });
    tr.classList.remove('flash');
    void tr.offsetWidth; // restart the highlight animation
    tr.classList.add('flash');
  }

  function mapActivate(ev) {
    const g = ev.target.closest && ev.target.closest('.map-node[data-ieee]');
    if (!g) return;
    if (ev.type === 'keydown' && ev.key !== 'Enter' && ev.key !== ' ') return;
    ev.preventDefault();
    showDeviceRow(g.getAttribute('data-ieee'));
  }

  // ---------------------------------------------------------------------------------------------
  // Security timeline: the audit log over time, one lane per category, points coloured by
  // severity, shaded permit-join / rejoin windows and rotations. The audit log list next to it
  // holds the same entries as text.

  const TL_LANES = [
    { id: 'joins', label: 'Joins', kinds: ['device-joined', 'device-rejoined', 'device-readmitted', 'join-denied', 'install-code-added'] },
    { id: 'permit', label: 'Permit join', kinds: ['permit-join-opened', 'permit-join-closed', 'rejoin-window-opened'] },
    { id: 'keys', label: 'Key exposure', kinds: ['network-key-exposed', 'key-delivered', 'tclk-verified', 'tclk-update-refused'] },
    { id: 'rotation', label: 'Rotations', kinds: ['key-rotation-started', 'key-rotation-resumed', 'key-switched', 'counter-resync', 'counter-exhaustion'] },
    { id: 'attacks', label: 'Spoofs, replays', kinds: ['suspected-spoof', 'replay-dropped', 'rejoin-denied', 'command-rejected', 'removed-device-frame'] },
    { id: 'radio', label: 'Radio', kinds: ['radio-recovered', 'radio-down'] },
    { id: 'admin', label: 'Admin, other', kinds: [] },
  ];
  const TL = { left: 118, right: 16, top: 6, laneH: 30, axis: 26 };
  const TL_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

  const laneOf = (kind) => {
    const i = TL_LANES.findIndex((l) => l.kinds.includes(kind));
    return i < 0 ? TL_LANES.length - 1 : i;
  };

  function tickLabel(ms, step, span) {
    const d = new Date(ms);
    const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: step < 60000 ? '2-digit' : undefined });
    return span > 86400000 ? `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${hm}` : hm;
  }

  // Windows as bands: from an opening entry to the closing one (or the opening's stated
  // length, or now while still open).
  function timelineBands(entries, now) {
    const bands = [];
    const asc = entries.slice().sort((a, b) => a.time - b.time || a.id - b.id);
    asc.forEach((e, i) => {
      let endKinds; let lane; let cls; let maxMs;
      const secs = /(\d+)\s*s\b/.exec(e.detail || '');
      if (e.kind === 'permit-join-opened') { endKinds = ['permit-join-closed', 'permit-join-opened']; lane = 'permit'; cls = 'band-permit'; maxMs = secs ? Number(secs[1]) * 1000 : 254000; }
      else if (e.kind === 'rejoin-window-opened') { endKinds = []; lane = 'permit'; cls = 'band-rejoin'; maxMs = secs ? Number(secs[1]) * 1000 : 120000; }
      else if (e.kind === 'key-rotation-started') { endKinds = ['key-switched', 'key-rotation-started']; lane = 'rotation'; cls = 'band-rotation'; maxMs = Infinity; }
      else return;
      let end = Math.min(now, e.time + maxMs);
      const closer = asc.slice(i + 1).find((x) => endKinds.includes(x.kind));
      if (closer) end = Math.min(end, closer.time);
      bands.push({ from: e.time, to: end, lane: TL_LANES.findIndex((l) => l.id === lane), cls });
    });
    return bands;
  }

  let timelineSig = '';
  let timelineAt = 0;

  function renderTimeline(force) {
    const box = $('timeline');
    if (!box || !S.running) return;
    const W = Math.max(420, box.clientWidth || 860);
    const range = Number($('timeline-range').value) || 0;
    const entries = S.audit.filter((e) => typeof e.time === 'number' && e.time > 0);
    const sig = JSON.stringify([W, range, entries.length, entries[0] && entries[0].id, entries.length && entries[entries.length - 1].id]);
    // Time slides even without new entries: redraw at least every 5 s.
    if (!force && sig === timelineSig && Date.now() - timelineAt < 5000) return;
    timelineSig = sig;
    timelineAt = Date.now();

    const now = serverNow();
    let t0 = range > 0 ? now - range * 1000 : Math.min(now - 60000, ...entries.map((e) => e.time));
    if (range === 0) t0 -= (now - t0) * 0.02;
    const t1 = now + (now - t0) * 0.01;
    const plotW = W - TL.left - TL.right;
    const xOf = (t) => TL.left + ((t - t0) / (t1 - t0)) * plotW;
    const H = TL.top + TL_LANES.length * TL.laneH + TL.axis;
    const axisY = TL.top + TL_LANES.length * TL.laneH;

    const lanes = TL_LANES.map((l, i) => svg('g', { class: `tl-lane lane-${l.id}` },
      svg('rect', { class: i % 2 ? 'tl-stripe odd' : 'tl-stripe', x: TL.left, y: TL.top + i * TL.laneH, width: plotW, height: TL.laneH }),
      svg('text', { class: 'tl-lane-label', x: TL.left - 8, y: TL.top + i * TL.laneH + TL.laneH / 2 + 4, text: l.label })));

    const bands = timelineBands(entries, now)
      .filter((b) => b.to >= t0)
      .map((b) => {
        const x = xOf(Math.max(b.from, t0));
        return svg('rect', { class: `tl-band ${b.cls}`, x, y: TL.top + b.lane * TL.laneH + 3, width: Math.max(2, xOf(b.to) - x), height: TL.laneH - 6 });
      });

    // Entries close in time share a lane by moving up or down a little (three sub-rows).
    const lastX = TL_LANES.map(() => [-1e9, -1e9, -1e9]);
    const offsets = [0, -8, 8];
    const shown = entries.filter((e) => e.time >= t0).sort((a, b) => a.time - b.time || a.id - b.id);
    const counts = { info: 0, warning: 0, alert: 0 };
    const points = shown.map((e) => {
      const lane = laneOf(e.kind);
      const x = xOf(e.time);
      const subs = lastX[lane];
      let k = subs.findIndex((v) => v < x - 9);
      if (k < 0) k = subs.indexOf(Math.min(...subs));
      subs[k] = x;
      const sev = ['info', 'warning', 'alert'].includes(e.severity) ? e.severity : 'info';
      counts[sev] += 1;
      const dev = e.ieee && S.deviceByIeee.get(e.ieee);
      const who = e.ieee ? (dev && dev.name ? `${dev.name} (${e.ieee})` : e.ieee) : '';
      const tip = [`${new Date(e.time).toLocaleString()} · ${e.kind} (${sev})`, who, e.detail || ''].filter(Boolean).join('\n');
      return titled(svg('circle', {
        class: `tl-point sev-${sev}`, cx: x.toFixed(1), cy: TL.top + lane * TL.laneH + TL.laneH / 2 + offsets[k],
        r: sev === 'alert' ? 6 : 5, 'data-kind': e.kind, 'data-id': e.id,
      }), tip);
    });

    const span = t1 - t0;
    const step = TL_STEPS.find((s) => (s / span) * plotW >= 90) || TL_STEPS[TL_STEPS.length - 1];
    const tz = new Date().getTimezoneOffset() * 60000; // ticks on local wall-clock boundaries
    const ticks = [];
    for (let t = Math.ceil((t0 - tz) / step) * step + tz; t <= t1; t += step) {
      const x = xOf(t);
      if (x < TL.left + 20 || x > W - TL.right - 20) continue;
      ticks.push(svg('line', { class: 'tl-grid', x1: x, x2: x, y1: TL.top, y2: axisY + 4 }),
        svg('text', { class: 'tl-tick', x, y: axisY + 17, text: tickLabel(t, step, span) }));
    }
    const nowX = xOf(now);
    const axis = svg('g', { class: 'tl-axis' },
      svg('line', { class: 'tl-axis-line', x1: TL.left, x2: W - TL.right, y1: axisY, y2: axisY }),
      ...ticks,
      svg('line', { class: 'tl-now', x1: nowX, x2: nowX, y1: TL.top, y2: axisY }),
      svg('text', { class: 'tl-now-label', x: nowX - 3, y: TL.top + 10, text: 'now' }));

    const from = new Date(t0).toLocaleString();
    const chart = svg('svg', {
      class: 'tl-svg', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img',
      'aria-label': `Security timeline from ${from} to now: ${shown.length} audit entries, ${counts.alert} alerts, ${counts.warning} warnings. The audit log lists them as text.`,
    }, ...lanes, svg('g', { class: 'tl-bands' }, ...bands), axis, svg('g', { class: 'tl-points' }, ...points));
    box.replaceChildren(chart);
    setText($('timeline-summary'), `${shown.length} entr${shown.length === 1 ? 'y' : 'ies'} · ${counts.alert} alert${counts.alert === 1 ? '' : 's'} · ${counts.warning} warning${counts.warning === 1 ? '' : 's'}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Scanning an install-code QR label with the camera. Frames are drawn to a canvas and decoded
  // in the page by jsQR (vendored as /jsqr.js, loaded on first use); nothing leaves the page.
  // The decoded text goes into the QR / label field, and the user submits as when typing.

  let scan = null;
  let jsqrLoading = null;

  function loadJsQR() {
    if (typeof window.jsQR === 'function') return Promise.resolve(window.jsQR);
    if (!jsqrLoading) {
      jsqrLoading = new Promise((resolve, reject) => {
        const tag = document.createElement('script');
        tag.src = '/jsqr.js';
        tag.addEventListener('load', () => (typeof window.jsQR === 'function' ? resolve(window.jsQR) : reject(new Error('no jsQR'))));
        tag.addEventListener('error', () => reject(new Error('jsqr.js did not load')));
        document.head.append(tag);
      }).catch((e) => { jsqrLoading = null; throw e; });
    }
    return jsqrLoading;
  }

  function scanMessage(text, kind) {
    const m = $('scan-message');
    setText(m, text);
    m.className = `scan-message small${kind ? ` ${kind}` : ''}`;
  }

  function cameraError(e) {
    const name = e && e.name;
    const typeIt = 'Type or paste the text printed on the label instead.';
    if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
      return `Camera permission was denied. Allow the camera for this page in the browser's site settings, or: ${typeIt}`;
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') return `No camera found. ${typeIt}`;
    if (name === 'NotReadableError' || name === 'TrackStartError') return `The camera is busy (another application uses it). ${typeIt}`;
    return `Cannot open the camera (${name || (e && e.message) || 'error'}). ${typeIt}`;
  }

  function scanFallback(text) {
    scanMessage(text, 'warn');
    $('ic-qr').focus();
  }

  function clearScanResult() {
    show($('scan-result'), false);
  }

  async function startScan() {
    if (scan) return;
    scanMessage('');
    clearScanResult();
    const md = navigator.mediaDevices;
    if (!window.isSecureContext || !md || typeof md.getUserMedia !== 'function') {
      scanFallback('This page gets no camera here: browsers allow cameras only on https:// pages or http://localhost. Type or paste the text printed on the label instead.');
      return;
    }
    const btn = $('ic-scan');
    btn.disabled = true;
    let decode;
    let stream;
    try {
      decode = await loadJsQR();
    } catch {
      btn.disabled = false;
      scanFallback('The QR decoder (jsqr.js) did not load. Type or paste the text printed on the label instead.');
      return;
    }
    try {
      stream = await md.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (e) {
      btn.disabled = false;
      scanFallback(cameraError(e));
      return;
    }
    btn.disabled = false;
    if (!S.running || scan) { stream.getTracks().forEach((t) => t.stop()); return; }
    const video = $('scan-video');
    video.muted = true;
    video.srcObject = stream;
    scan = { stream, decode, timer: null, canvas: document.createElement('canvas'), started: performance.now() };
    show($('scan-panel'), true);
    setText($('scan-status'), 'Point the camera at the QR code on the device’s label.');
    $('scan-cancel').focus();
    try { await video.play(); } catch { /* frames still arrive for drawing */ }
    scanFrame();
  }

  function scanFrame() {
    if (!scan) return;
    const video = $('scan-video');
    if (video.readyState >= 2 && video.videoWidth > 0) {
      // Decoding cost grows with pixels; labels fill much of the frame, 800 px is plenty.
      const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
      const w = Math.round(video.videoWidth * scale);
      const h = Math.round(video.videoHeight * scale);
      const c = scan.canvas;
      if (c.width !== w) c.width = w;
      if (c.height !== h) c.height = h;
      const ctx = c.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(video, 0, 0, w, h);
      let code = null;
      try { code = scan.decode(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'attemptBoth' }); } catch { code = null; }
      if (code && typeof code.data === 'string' && code.data.trim()) {
        scanned(code, c);
        return;
      }
      if (performance.now() - scan.started > 20000) {
        setText($('scan-status'), 'Still looking: hold the label steady in good light, the QR code filling about half the picture.');
      }
    }
    scan.timer = setTimeout(scanFrame, 150);
  }

  function scanned(code, frame) {
    // Show the frame it was read from, the code outlined, so the user sees what was read.
    const still = $('scan-still');
    still.width = frame.width;
    still.height = frame.height;
    const g = still.getContext('2d');
    g.drawImage(frame, 0, 0);
    const L = code.location;
    if (L) {
      g.strokeStyle = '#2ea44f';
      g.lineWidth = Math.max(3, frame.width / 160);
      g.beginPath();
      g.moveTo(L.topLeftCorner.x, L.topLeftCorner.y);
      g.lineTo(L.topRightCorner.x, L.topRightCorner.y);
      g.lineTo(L.bottomRightCorner.x, L.bottomRightCorner.y);
      g.lineTo(L.bottomLeftCorner.x, L.bottomLeftCorner.y);
      g.closePath();
      g.stroke();
    }
    stopScan();
    $('ic-ieee').value = '';
    $('ic-code').value = '';
    $('ic-qr').value = code.data.trim();
    clearIcErrors();
    setText($('ic-result'), '');
    show($('scan-result'), true);
    scanMessage('Label read into the QR / label field: check it, then add the install code.', 'ok');
    $('ic-submit').focus();
  }

  function stopScan(message) {
    if (scan) {
      clearTimeout(scan.timer);
      scan.stream.getTracks().forEach((t) => t.stop());
      scan = null;
      const video = $('scan-video');
      video.pause();
      video.srcObject = null;
      show($('scan-panel'), false);
    }
    if (message) scanMessage(message, 'warn');
  }

  // ---------------------------------------------------------------------------------------------
  // Backup

  async function downloadBackup() {
    const btn = $('backup');
    btn.disabled = true;
    try {
      const res = await fetch('/api/backup', { credentials: 'same-origin', cache: 'no-store', headers: authHeaders({}) });
      if (res.status === 401) { showLogin('Your session has ended: log in again.'); return; }
      if (!res.ok) {
        let msg = `${res.status}`;
        try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
        throw new Error(msg);
      }
      const cd = res.headers.get('Content-Disposition') || '';
      const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
      const name = m ? decodeURIComponent(m[1]) : 'zigtrust-backup.json';
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: name, class: 'hidden-link' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      toast(`Saved ${name}. It contains the network key and link keys: keep it secret.`, 'ok');
    } catch (e) {
      toast(`backup: ${e.message}`);
    } finally {
      btn.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Once a second: countdowns, "x s ago", and a polling fallback while the event stream is down.

  function tick() {
    checkEventStall();
    renderTimeline();
    renderPermit();
    renderRotationDeadline();
    for (const td of document.querySelectorAll('#device-table td[data-field="last_seen"]')) {
      setText(td, ago(Number(td.getAttribute('data-ts'))));
    }
    if (!S.live && S.running && Date.now() - S.lastNetworkAt > 5000) {
      S.lastNetworkAt = Date.now();
      loadNetwork();
      loadDevices();
      scheduleRefetch();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function wire() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('backup').addEventListener('click', downloadBackup);
    $('alert-dismiss').addEventListener('click', dismissBanner);
    $('show-removed').addEventListener('change', renderDevices);
    $('permit-join-open').addEventListener('click', () => permitJoin(Number($('permit-join-duration').value) || 180));
    $('permit-join-close').addEventListener('click', () => permitJoin(0));
    $('ic-form').addEventListener('submit', submitInstallCode);
    for (const f of IC_FIELDS) {
      $(IC_INPUT[f]).addEventListener('input', () => {
        setText($(`ic-error-${f}`), '');
        $(IC_INPUT[f]).removeAttribute('aria-invalid');
      });
    }
    const pf = $('policy-form');
    pf.addEventListener('submit', savePolicy);
    pf.addEventListener('change', () => { S.policyDirty = true; setText($('policy-status'), 'Unsaved changes'); });
    $('rotate').addEventListener('click', rotate);
    $('attacker-toggle').addEventListener('change', toggleAttacker);
    $('ic-scan').addEventListener('click', startScan);
    $('scan-cancel').addEventListener('click', () => { stopScan(); $('ic-scan').focus(); });
    $('scan-panel').addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { stopScan(); $('ic-scan').focus(); } });
    document.addEventListener('visibilitychange', () => { if (document.hidden && scan) stopScan('Scanning stopped while the page was hidden.'); });
    $('timeline-range').addEventListener('change', () => renderTimeline(true));
    $('net-map').addEventListener('click', mapActivate);
    $('net-map').addEventListener('keydown', mapActivate);
    // Another tab logged in (new token) or out (none).
    window.addEventListener('storage', (ev) => { if (ev.key === CSRF_KEY) csrf = ev.newValue || null; });
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { renderMap(); renderTimeline(true); }, 150);
    });
  }

  async function boot() {
    wire();
    let res = null;
    try {
      res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store', headers: authHeaders({ Accept: 'application/json' }) });
    } catch { /* daemon unreachable */ }
    if (res && res.ok) {
      let d = null;
      try { d = await res.json(); } catch { /* empty */ }
      if (d && d.authenticated !== false) {
        if (d.csrf) setCsrf(d.csrf);
        // A valid cookie but no token (storage cleared): the daemon refuses us, log in again.
        if (csrf) {
          startApp();
          return;
        }
      }
    }
    showLogin(res ? '' : 'Cannot reach the daemon.');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
