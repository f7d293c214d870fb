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

  let csrf = null;

  async function api(method, path, body, opts = {}) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (method !== 'GET' && method !== 'HEAD') {
      init.headers['Content-Type'] = 'application/json';
      if (csrf) init.headers['X-CSRF-Token'] = csrf;
      if (body !== undefined) init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, `cannot reach the daemon (${e.message})`);
    }
    // A stale CSRF token (e.g. the session was re-created in another tab): fetch it again, retry once.
    if (res.status === 403 && method !== 'GET' && !opts.retried) {
      if (await refreshSession()) return api(method, path, body, { ...opts, retried: true });
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

  async function refreshSession() {
    try {
      const res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) return false;
      const d = await res.json();
      if (d && d.authenticated !== false && d.csrf) {
        csrf = d.csrf;
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

  const DISMISS_KEY = 'zigtrust.dismissedAlert';
  let dismissedAlertId = Number(sessionStorage.getItem(DISMISS_KEY) || 0);

  // ---------------------------------------------------------------------------------------------
  // Login / logout

  function showLogin(message) {
    stopApp();
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
      csrf = d && d.csrf;
      $('token').value = '';
      startApp();
    } catch (e) {
      setText($('login-error'), e.status === 401 ? `Login refused: ${e.message}` : e.message);
      $('login').disabled = false;
    }
  }

  async function logout() {
    try { await api('DELETE', '/api/session', undefined, { noAuthRedirect: true }); } catch { /* ignore */ }
    csrf = null;
    showLogin('Logged out.');
  }

  // ---------------------------------------------------------------------------------------------
  // App lifecycle

  let es = null;
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
    if (es) { es.close(); es = null; }
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
      S.audit = (await api('GET', '/api/audit-log?limit=50')).entries || [];
      renderAudit();
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

  let everOpened = false;
  function connectEvents() {
    if (!S.running) return;
    if (es) es.close();
    setLive(everOpened ? 'reconnecting' : 'connecting');
    es = new EventSource('/api/events');
    es.addEventListener('open', () => {
      setLive('live');
      // After a reconnect, events may have been missed: reload everything once.
      if (everOpened) loadAll();
      everOpened = true;
    });
    es.addEventListener('state', (ev) => {
      let d;
      try { d = JSON.parse(ev.data); } catch { return; }
      applyNetwork(d);
      if (Array.isArray(d.devices_list)) applyDevices(d.devices_list);
      scheduleRefetch();
    });
    es.addEventListener('alert', (ev) => {
      let a;
      try { a = JSON.parse(ev.data); } catch { return; }
      addAlert(a);
      scheduleRefetch();
    });
    es.addEventListener('error', async () => {
      if (!S.running) return;
      setLive('reconnecting');
      if (es && es.readyState === EventSource.CLOSED) {
        // The browser gave up (non-200 answer, e.g. 401): find out why and retry ourselves.
        es.close();
        es = null;
        let ok = false;
        try {
          const r = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
          if (r.status === 401) { showLogin('Your session has ended: log in again.'); return; }
          ok = r.ok;
        } catch { /* daemon down */ }
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(connectEvents, ok ? 2000 : 5000);
      }
    });
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
    $('ic-submit').disabled = true;
    try {
      const r = await api('POST', '/api/install-codes', body);
      $('ic-ieee').value = '';
      $('ic-code').value = '';
      $('ic-qr').value = '';
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
      S.audit.length = Math.min(S.audit.length, 50);
      renderAudit();
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
  // Backup

  async function downloadBackup() {
    const btn = $('backup');
    btn.disabled = true;
    try {
      const res = await fetch('/api/backup', { credentials: 'same-origin', cache: 'no-store' });
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
  }

  async function boot() {
    wire();
    let res = null;
    try {
      res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
    } catch { /* daemon unreachable */ }
    if (res && res.ok) {
      let d = null;
      try { d = await res.json(); } catch { /* empty */ }
      if (d && d.authenticated !== false) {
        csrf = d.csrf || null;
        startApp();
        return;
      }
    }
    showLogin(res ? '' : 'Cannot reach the daemon.');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
