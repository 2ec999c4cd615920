// Manager live store: who is in, their running carts, the event feed and the devices.
import { api, connectLive, el, money, since, timeOf } from './live.js';

const visitsEl = document.getElementById('visits');
const feedEl = document.getElementById('feed');
const devicesEl = document.getElementById('devices');
const lowEl = document.getElementById('low-stock');
const FEED_MAX = 60;
let visits = new Map(); // visit id -> {visit, name, entered_at, cart}
let devices = new Map(); // device id (slug) -> status incl. frame
let settling = new Map(); // visit id -> {name, exited_at, waiting_for, provisional, number}

// Left the store, receipt not final: waiting for shelves or events, or issued provisional.
function renderSettling() {
  const items = [...settling.values()].map((s) => el('li', { class: 'settling', 'data-visit': s.visit },
    el('strong', {}, s.name), ` left ${timeOf(s.exited_at)} · `,
    s.provisional ? el('span', { class: 'badge warn' }, `provisional ${s.number}`) : 'finalising',
    s.waiting_for && s.waiting_for.length ? ` · waiting for ${s.waiting_for.join(', ')}` : ''));
  document.getElementById('settling').replaceChildren(
    ...(items.length ? items : [el('li', { class: 'muted' }, 'None.')]));
}

function renderVisits() {
  visitsEl.replaceChildren();
  for (const v of visits.values()) {
    const cart = v.cart || { lines: [], total: '0.00', items: 0 };
    const lines = cart.lines.map((l) => el('li', {}, `${l.quantity} × ${l.name}`,
      el('span', { class: 'num' }, money(l.line_total))));
    visitsEl.append(el('li', { class: 'visit', 'data-visit': v.visit, 'data-shopper': v.shopper },
      el('div', { class: 'row' },
        el('strong', {}, v.name),
        el('span', { class: 'muted' }, ` in since ${timeOf(v.entered_at)} (${since(v.entered_at)})`)),
      el('ul', { class: 'lines plain' }, lines),
      el('div', { class: 'row total' }, `${cart.items} item(s)`,
        el('strong', { class: 'num cart-total' }, money(cart.total))),
      el('button', { type: 'button', class: 'secondary small', 'data-close': v.visit,
        'aria-label': `Walked out: close the visit of ${v.name} and issue the receipt` }, 'Walked out')));
  }
  document.getElementById('instore-count').textContent = visits.size;
  document.getElementById('visits-empty').hidden = visits.size > 0;
}

function addFeed(kind, text, at) {
  const item = el('li', { class: `feed-${kind}` },
    el('time', { datetime: at || new Date().toISOString() }, timeOf(at || new Date().toISOString())),
    ' ', text);
  feedEl.prepend(item);
  while (feedEl.children.length > FEED_MAX) feedEl.lastChild.remove();
}

function drawFrame(card, d) {
  const frame = d.frame;
  const box = card.querySelector('.frame');
  box.replaceChildren();
  if (!frame) {
    box.append(el('p', { class: 'muted' }, 'No recent frame'));
    return;
  }
  const canvas = el('canvas', { width: frame.width, height: frame.height, role: 'img',
    'aria-label': `Latest frame of ${d.device} at ${timeOf(frame.captured_at)}: ` +
      (frame.boxes.length ? frame.boxes.map((b) => b.label).join(', ') : 'nothing detected') });
  box.append(canvas, el('p', { class: 'muted small' },
    `${timeOf(frame.captured_at)}${frame.has_image ? '' : ' · image dropped after processing'}`));
  const ctx = canvas.getContext('2d');
  const paintBoxes = () => {
    ctx.lineWidth = Math.max(2, frame.width / 200);
    ctx.font = `${Math.max(12, frame.width / 40)}px system-ui`;
    for (const b of frame.boxes) {
      const [x1, y1, x2, y2] = b.xyxy;
      ctx.strokeStyle = b.kind === 'face' ? '#ffb000' : '#00e05a';
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const label = b.label + (b.confidence != null ? ` ${Math.round(b.confidence * 100)}%` : '');
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillRect(x1, Math.max(0, y1 - 18), ctx.measureText(label).width + 8, 18);
      ctx.fillStyle = '#000';
      ctx.fillText(label, x1 + 4, Math.max(14, y1 - 4));
    }
  };
  ctx.fillStyle = '#222';
  ctx.fillRect(0, 0, frame.width, frame.height);
  if (frame.has_image) {
    const img = new Image();
    img.onload = () => { ctx.drawImage(img, 0, 0, frame.width, frame.height); paintBoxes(); };
    img.onerror = paintBoxes; // dropped since: boxes on a blank frame
    img.src = `/manager/frames/${frame.frame}.jpg`;
  } else {
    paintBoxes();
  }
}

function renderDevice(d) {
  let card = devicesEl.querySelector(`[data-device="${CSS.escape(d.device)}"]`);
  if (!card) {
    card = el('article', { class: 'card device', 'data-device': d.device },
      el('h3', {}, d.device), el('p', { class: 'status' }), el('div', { class: 'frame' }));
    devicesEl.append(card);
  }
  const status = card.querySelector('.status');
  status.textContent = `${d.kind} · ${d.online ? 'online' : 'offline'}` +
    (d.event_rate_per_min ? ` · ${d.event_rate_per_min}/min` : '') +
    (d.last_seen ? ` · seen ${timeOf(d.last_seen)}` : '');
  status.className = `status ${d.online ? 'ok' : 'low'}`;
  if ('frame' in d) drawFrame(card, d);
}

function renderLow(list) {
  lowEl.replaceChildren(...list.map((s) => el('li', { class: 'low' },
    `${s.shelf}/${s.code} ${s.product || '(empty)'}: ${s.stock} left`)));
  if (!list.length) lowEl.append(el('li', { class: 'muted' }, 'All stocked.'));
}

async function resync() {
  const state = await api('/manager/state.json');
  visits = new Map(state.visits.map((v) => [v.visit, v]));
  renderVisits();
  settling = new Map(state.settling.map((v) => [v.visit, v]));
  renderSettling();
  feedEl.replaceChildren();
  for (const item of [...state.feed].reverse()) addFeed(item.kind, item.text, item.at);
  devicesEl.replaceChildren();
  devices = new Map(state.devices.map((d) => [d.device, d]));
  for (const d of devices.values()) renderDevice(d);
  renderLow(state.low_stock);
  document.getElementById('review-count').textContent = state.review_open;
}

const handlers = {
  visit_opened(d) {
    visits.set(d.visit, { ...d, cart: { lines: [], total: '0.00', items: 0 } });
    renderVisits();
    addFeed('entry', `${d.name} walked in`);
  },
  visit_closed(d) {
    visits.delete(d.visit);
    renderVisits();
    settling.set(d.visit, d);
    renderSettling();
    addFeed('exit', `${d.name} walked out`);
  },
  cart(d) {
    const v = visits.get(d.visit);
    if (v && d.status === 'open') { v.cart = d; renderVisits(); }
    const c = d.change || {};
    const line = d.lines.find((l) => l.product === c.product);
    const what = line ? line.name : `product ${c.product}`;
    const verb = c.kind === 'take' ? 'took' : c.kind === 'return' ? 'put back' : 'correction:';
    addFeed(c.kind || 'cart', `${d.name} ${verb} ${Math.abs(c.quantity || 0)} × ${what}`);
  },
  stock(d) {
    if (d.low) addFeed('low', `Low stock: slot ${d.code} has ${d.stock} left`);
    api('/manager/state.json').then((s) => renderLow(s.low_stock)).catch(() => {});
  },
  receipt(d) {
    if (d.provisional) settling.set(d.visit, { ...(settling.get(d.visit) || {}), ...d });
    else settling.delete(d.visit);
    renderSettling();
    const what = d.revision > 1 ? `amended (revision ${d.revision}, ${d.reason.replace('_', ' ')})` : 'issued';
    addFeed('receipt', `Receipt ${d.number} for ${d.name} ${what}${d.provisional ? ', provisional' : ''}: ${money(d.total, d.currency)}`);
  },
  review_opened(d) {
    addFeed('review', `Needs review: ${d.reason.replaceAll('_', ' ')}`);
    const c = document.getElementById('review-count'); c.textContent = Number(c.textContent) + 1;
  },
  review_resolved() {
    const c = document.getElementById('review-count');
    c.textContent = Math.max(0, Number(c.textContent) - 1);
  },
  unknown_face(d) {
    const n = d.count > 1 ? `${d.count} unknown faces` : 'Unknown face';
    addFeed('unknown', `${n} at ${d.device || 'a gate'}`);
    refreshDevices();
  },
  qr_refused(d) { addFeed('unknown', `QR code refused at ${d.device || 'a gate'}: ${d.reason || ''}`); },
  device(d) {
    const prev = devices.get(d.device) || {};
    const merged = { ...prev, ...d };
    devices.set(d.device, merged);
    renderDevice(merged);
  },
  device_offline(d) { addFeed('offline', `${d.device} went offline`); },
  detections() { refreshDevices(); },
  dispute_opened(d) { addFeed('dispute', `${d.name} reported a problem on ${d.number}`); },
};

// Camera frames arrive continuously: their boxes are refreshed on detection events and, as
// a fallback, every few seconds while the page is visible.
let refreshing = false;
async function refreshDevices() {
  if (refreshing) return;
  refreshing = true;
  try {
    const list = await api('/manager/devices.json');
    for (const d of list.devices) {
      const prev = devices.get(d.device);
      const changed = !prev || JSON.stringify(prev.frame) !== JSON.stringify(d.frame) ||
        prev.online !== d.online;
      devices.set(d.device, d);
      if (changed) renderDevice(d);
    }
  } catch (e) { /* the socket's resync covers it */ } finally { refreshing = false; }
}
setInterval(() => { if (!document.hidden) refreshDevices(); }, 5000);
// "in since … (12 min)" keeps counting.
setInterval(() => { if (!document.hidden && visits.size) renderVisits(); }, 30000);

visitsEl.addEventListener('click', async (ev) => {
  const id = ev.target.dataset && ev.target.dataset.close;
  if (!id) return;
  if (!confirm('Close this visit and issue the receipt?')) return;
  try { await api(`/api/visits/${id}/close/`, { method: 'POST' }); } catch (e) { alert(e.message); }
});

connectLive({
  resync,
  statusEl: document.getElementById('live-status'),
  onEvent(name, data) { if (handlers[name]) handlers[name](data); },
});
