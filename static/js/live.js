// Shared helpers for MiniGo pages: the /ws/live/ socket with reconnect and resync, and
// fetch with the CSRF header. Each page's own module imports these.

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

export async function api(url, { method = 'GET', body, form } = {}) {
  const headers = { 'X-CSRFToken': csrfToken(), Accept: 'application/json' };
  let payload;
  if (form) {
    payload = form;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (e) { data = null; }
  }
  if (!response.ok) {
    const err = new Error((data && (data.detail || data.code)) || `HTTP ${response.status}`);
    err.status = response.status;
    err.code = data && data.code;
    err.data = data;
    throw err;
  }
  return data;
}

// Opens /ws/live/. On every (re)connect it calls resync() first, so anything that happened
// while the socket was down is fetched again; then it relays events to onEvent(name, data).
// Reconnects with exponential backoff (1 s doubling to 20 s, with jitter).
export function connectLive({ onEvent, resync, statusEl }) {
  let delay = 1000;
  let socket = null;
  let ping = null;
  let stopped = false;
  let timer = null;
  let syncing = false;
  let queued = [];

  function setStatus(text, ok) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.dataset.state = ok ? 'live' : 'down';
  }

  function open() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/ws/live/`);
    socket.addEventListener('open', async () => {
      delay = 1000;
      setStatus('Catching up…', false);
      // "Live" only once the page has refetched what it may have missed. Events arriving
      // meanwhile are held and applied after the refetch, so stale state never wins.
      syncing = true;
      try { await resync(); } catch (e) { /* the next event or reconnect retries */ }
      syncing = false;
      for (const [name, data] of queued.splice(0)) onEvent(name, data);
      setStatus('Live', true);
      ping = setInterval(() => socket.readyState === 1 && socket.send('ping'), 25000);
    });
    socket.addEventListener('message', (msg) => {
      let parsed;
      try { parsed = JSON.parse(msg.data); } catch (e) { return; }
      if (!parsed.event || parsed.event === 'pong') return;
      if (syncing) queued.push([parsed.event, parsed.data || {}]);
      else onEvent(parsed.event, parsed.data || {});
    });
    socket.addEventListener('close', (ev) => {
      clearInterval(ping);
      if (stopped || ev.code === 4401 || ev.code === 4403) {
        setStatus(ev.code === 4401 ? 'Signed out' : 'Not live', false);
        return;
      }
      setStatus('Reconnecting…', false);
      const wait = delay + Math.random() * 500;
      delay = Math.min(delay * 2, 20000);
      timer = setTimeout(() => { timer = null; open(); }, wait);
    });
  }

  // A phone waking up or coming back online reconnects at once rather than after backoff.
  window.addEventListener('online', () => {
    if (timer) { clearTimeout(timer); timer = null; delay = 1000; open(); }
  });
  open();
  return {
    close() { stopped = true; if (socket) socket.close(); },
    get socket() { return socket; },
  };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function money(value, currency = '') {
  const n = Number(value || 0).toFixed(2);
  return currency ? `${n} ${currency}` : n;
}

export function timeOf(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// "12 s", "4 min", "1 h 5 min", "2 days": how long ago `iso` was, from the browser's clock.
export function since(iso, now = Date.now()) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return d === 1 ? '1 day' : `${d} days`;
}

export function ago(iso, now = Date.now()) {
  const text = since(iso, now);
  return text === 'just now' || !text ? text : `${text} ago`;
}

// A <time> that keeps saying how long ago it was: refreshed by tickTimes().
export function agoEl(iso, { prefix = '', suffix = true } = {}) {
  const node = el('time', { datetime: iso, title: iso ? new Date(iso).toLocaleString() : '',
    'data-ago': suffix ? 'ago' : 'since', 'data-prefix': prefix });
  node.textContent = prefix + (suffix ? ago(iso) : since(iso));
  return node;
}

export function tickTimes(root = document) {
  const now = Date.now();
  for (const node of root.querySelectorAll('time[data-ago]')) {
    const iso = node.getAttribute('datetime');
    const text = node.dataset.ago === 'ago' ? ago(iso, now) : since(iso, now);
    node.textContent = (node.dataset.prefix || '') + text;
  }
}

// A name box with suggestions from /api/shoppers/ (staff): returns resolve(), which gives the
// chosen shopper {id, display_name, username} or null.
export function shopperPicker(input, datalist) {
  let timer = null;
  let found = new Map(); // "Name (username)" -> shopper
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const label = input.value.trim();
      // A label picked from the list ("Kit (kit)") searches by its name part.
      const q = label.replace(/\s*\(.*$/, '');
      if (q.length < 1 || found.has(label)) return;
      try {
        const page = await api(`/api/shoppers/?q=${encodeURIComponent(q)}`);
        found = new Map(page.results.map((s) => [`${s.display_name} (${s.username})`, s]));
        datalist.replaceChildren(...[...found.keys()].map((value) => el('option', { value })));
      } catch (e) { /* typing on searches again */ }
    }, 200);
  });
  return () => {
    const chosen = found.get(input.value.trim());
    if (chosen) return chosen;
    return found.size === 1 ? [...found.values()][0] : null;
  };
}
