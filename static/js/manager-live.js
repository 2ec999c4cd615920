// Manager live store: who is in, their running carts, the event feed and the devices.
import { agoEl, api, connectLive, el, money, shopperPicker, tickTimes, timeOf } from './live.js';
import { drawFrame } from './frames.js';

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
        el('span', { class: 'muted' }, `in since ${timeOf(v.entered_at)} (`,
          agoEl(v.entered_at, { suffix: false }), v.method === 'manual' ? ', let in by hand)' : ')')),
      groupNote(v.group),
      el('ul', { class: 'lines plain' }, lines),
      el('div', { class: 'row total' }, `${cart.items} item(s)`,
        el('strong', { class: 'num cart-total' }, money(cart.total))),
      el('button', { type: 'button', class: 'secondary small', 'data-close': v.visit,
        'aria-label': `Walked out: close the visit of ${v.name} and issue the receipt` }, 'Walked out')));
  }
  document.getElementById('instore-count').textContent = visits.size;
  document.getElementById('visits-empty').hidden = visits.size > 0;
}

// Shopping together: a companion's picks go on the payer's cart; say so on both rows.
function groupNote(g) {
  if (!g) return null;
  if (g.role === 'companion') return el('p', { class: 'muted small group' }, `with ${g.payer}, who pays`);
  const others = [...g.companions];
  if (g.guests) others.push(`${g.guests} guest${g.guests > 1 ? 's' : ''}`);
  return el('p', { class: 'muted small group' }, others.length ? `pays for ${others.join(', ')}` : 'expects companions');
}

async function refreshVisits() {
  const state = await api('/manager/state.json');
  visits = new Map(state.visits.map((v) => [v.visit, v]));
  renderVisits();
}

function addFeed(kind, text, at) {
  const iso = at || new Date().toISOString();
  const item = el('li', { class: `feed-${kind}` },
    el('span', { class: 'feed-time' }, timeOf(iso), ' · ', agoEl(iso)), ' ', text);
  feedEl.prepend(item);
  while (feedEl.children.length > FEED_MAX) feedEl.lastChild.remove();
  document.getElementById('feed-empty').hidden = feedEl.children.length > 0;
}

// The latest frame of a device: the photo while the server holds it, otherwise its boxes on a
// light schematic (never a black square); a frame is drawn (and its pixels asked for) once.
function showFrame(card, d) {
  const frame = d.frame;
  const box = card.querySelector('.frame');
  const key = frame ? `${frame.frame}:${frame.has_image}:${frame.boxes.length}` : 'none';
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  if (!frame) {
    box.replaceChildren(el('p', { class: 'frame-empty compact' }, 'No camera frame yet.'));
    return;
  }
  const labels = frame.boxes.length ? frame.boxes.map((b) => b.label).join(', ') : 'nothing detected';
  if (!frame.has_image && !frame.boxes.length) {
    // Nothing to draw: say so in a line rather than a blank picture.
    box.replaceChildren(el('p', { class: 'frame-empty compact' },
      `Camera at ${timeOf(frame.captured_at)}: nothing detected (photos are not kept after processing)`));
    return;
  }
  const canvas = el('canvas', { role: 'img',
    'aria-label': `Latest frame of ${d.device} at ${timeOf(frame.captured_at)}: ${labels}` });
  const note = el('p', { class: 'muted small' }, `${timeOf(frame.captured_at)} · ${labels}`);
  box.replaceChildren(canvas, note);
  drawFrame(canvas, frame).then((photo) => {
    if (!photo) note.textContent += ' · photo not kept after processing (boxes only)';
  });
}

const KINDS = { shelf: 'Shelf', entry: 'Entrance gate', exit: 'Exit gate' };

function renderDevice(d) {
  let card = devicesEl.querySelector(`[data-device="${CSS.escape(d.device)}"]`);
  if (!card) {
    card = el('article', { class: 'card device', 'data-device': d.device },
      el('h3', {}, d.device), el('p', { class: 'status' }), el('div', { class: 'frame' }));
    devicesEl.append(card);
  }
  const status = card.querySelector('.status');
  status.replaceChildren(`${KINDS[d.kind] || d.kind} · ${d.online ? 'online' : 'offline'}` +
    (d.event_rate_per_min ? ` · ${d.event_rate_per_min}/min` : ''),
  d.last_seen ? ' · seen ' : '', d.last_seen ? agoEl(d.last_seen) : '');
  status.className = `status ${d.online ? 'ok' : 'low'}`;
  if ('frame' in d) showFrame(card, d);
  document.getElementById('devices-empty').hidden = true;
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
  devices = new Map(state.devices.map((d) => [d.device, d]));
  for (const card of devicesEl.querySelectorAll('[data-device]')) {
    if (!devices.has(card.dataset.device)) card.remove();
  }
  for (const d of devices.values()) renderDevice(d);
  document.getElementById('devices-empty').hidden = devices.size > 0;
  document.getElementById('feed-empty').hidden = feedEl.children.length > 0;
  renderLow(state.low_stock);
  document.getElementById('review-count').textContent = state.review_open;
}

// A busy shelf sends a stock event per pick: the low-stock list is refetched at most once a
// second, however many arrive.
let lowTimer = null;
function refreshLowStock() {
  if (lowTimer) return;
  lowTimer = setTimeout(() => {
    lowTimer = null;
    api('/manager/state.json').then((s) => renderLow(s.low_stock)).catch(() => {});
  }, 1000);
}

const REVIEW_WORDS = {
  who_unknown: 'who took it?',
  weight_unexplained: 'a weight change that fits no item count',
  return_unexplained: 'something put back that nobody held',
  nobody_in_store: 'a shelf moved while nobody was in',
  slot_not_in_planogram: 'a slot with no product',
  shopper_left: 'the shopper had already left',
};

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
    const what = c.name || (line ? line.name : 'an item');
    const n = Math.abs(c.quantity || 0);
    const text = c.kind === 'take' ? `${d.name} took ${n} × ${what}`
      : c.kind === 'return' ? `${d.name} put back ${n} × ${what}`
        : `${d.name}'s cart corrected: ${c.quantity > 0 ? '+' : '−'}${n} × ${what}`;
    addFeed(c.kind || 'cart', text);
  },
  stock(d) {
    if (d.low) addFeed('low', `Low stock: slot ${d.code} has ${d.stock} left`);
    refreshLowStock();
  },
  receipt(d) {
    if (d.provisional) settling.set(d.visit, { ...(settling.get(d.visit) || {}), ...d });
    else settling.delete(d.visit);
    renderSettling();
    const what = d.revision > 1 ? `amended (revision ${d.revision}, ${d.reason.replace('_', ' ')})` : 'issued';
    addFeed('receipt', `Receipt ${d.number} for ${d.name} ${what}${d.provisional ? ', provisional' : ''}: ${money(d.total, d.currency)}`);
  },
  review_opened(d) {
    addFeed('review', `Needs a decision: ${REVIEW_WORDS[d.reason] || d.reason.replaceAll('_', ' ')}` +
      (d.product_name ? ` (${d.product_name})` : ''));
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
  alert(d) { addFeed('review', `⚠ ${d.title}: ${d.shopper || 'someone'} took ${d.product || 'an item'} (${d.slot || ''})`); },
  entry_refused(d) { addFeed('unknown', `${d.name} refused at ${d.device || 'the gate'}: ${d.reason}`); },
  group() { refreshVisits().catch(() => {}); },
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
// "in since … (12 min)" and "2 min ago" keep counting.
setInterval(() => { if (!document.hidden) tickTimes(); }, 10000);

visitsEl.addEventListener('click', async (ev) => {
  const id = ev.target.dataset && ev.target.dataset.close;
  if (!id) return;
  if (!confirm('Close this visit and issue the receipt?')) return;
  try { await api(`/api/visits/${id}/close/`, { method: 'POST' }); } catch (e) { alert(e.message); }
});

// Let a shopper in by hand (the gate did not recognise them): pick them by name.
const admitForm = document.getElementById('admit-form');
const admitInput = document.getElementById('admit-who');
const admitList = document.getElementById('admit-options');
const admitMsg = document.getElementById('admit-msg');
const pickShopper = shopperPicker(admitInput, admitList);
admitForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const label = admitInput.value.trim();
  const who = pickShopper();
  if (!who) { admitMsg.textContent = 'Choose a shopper from the list (type part of the name).'; admitMsg.className = 'error'; return; }
  try {
    await api('/api/visits/admit/', { method: 'POST', body: { shopper: who.id } });
    admitMsg.textContent = `${label} is in the store.`;
    admitMsg.className = 'ok';
    admitInput.value = '';
  } catch (e) {
    admitMsg.textContent = `Not let in: ${e.message}`;
    admitMsg.className = 'error';
  }
});

connectLive({
  resync,
  statusEl: document.getElementById('live-status'),
  onEvent(name, data) { if (handlers[name]) handlers[name](data); },
});
