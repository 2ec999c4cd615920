// Review queue: each doubtful event told in words, with its weight trace, the nearest camera
// frame and the candidates ranked with their evidence; decided in one click. Filter, sort
// and bulk dismiss act on the cards shown. Errors appear on the card that was clicked.
import { agoEl, api, connectLive, el, tickTimes, timeOf } from './live.js';
import { drawFrame } from './frames.js';

const list = document.getElementById('review-items');
const msg = document.getElementById('review-msg');
const reasonSel = document.getElementById('f-reason');
const shelfSel = document.getElementById('f-shelf');
const sortSel = document.getElementById('f-sort');
const selectAll = document.getElementById('select-all');
const bulk = document.getElementById('bulk-dismiss');
const wide = () => window.matchMedia('(min-width: 700px)').matches;
let state = { items: [], in_store: [], reasons: [], shelves: [] };

function pct(c) { return c == null ? null : Math.round(c * 100); }

// The slot's readings around the event as a step chart (inline SVG, no library needed).
function traceChart(trace) {
  const pts = [];
  for (const p of trace.points) { pts.push([p.t - 0.001, p.before, p.this]); pts.push([p.t, p.after, p.this]); }
  const ts = pts.map((p) => p[0]);
  const vs = pts.map((p) => p[1]);
  const t0 = Math.min(...ts) - 1;
  const t1 = Math.max(...ts) + 1;
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const pad = (hi - lo) * 0.15 || 1;
  const W = 300; const H = 90;
  const x = (t) => ((t - t0) / (t1 - t0)) * (W - 20) + 10;
  const y = (v) => H - 14 - ((v - (lo - pad)) / (hi - lo + 2 * pad)) * (H - 24);
  let d = `M ${x(t0)} ${y(pts[0][1])}`;
  for (const [t, v] of pts) d += ` H ${x(t)} V ${y(v)}`;
  d += ` H ${x(t1)}`;
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const unit = trace.unit ? ` ${trace.unit}` : '';
  svg.setAttribute('aria-label', `${trace.sensor}: ${trace.before}${unit} before, ${trace.after}${unit} after`);
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', '#0b5fff');
  path.setAttribute('stroke-width', '2');
  svg.append(path);
  const mark = trace.points.find((p) => p.this);
  if (mark) {
    const line = document.createElementNS(NS, 'line');
    for (const [k, v] of [['x1', x(mark.t)], ['x2', x(mark.t)], ['y1', 4], ['y2', H - 12]]) line.setAttribute(k, v);
    line.setAttribute('stroke', '#b00020');
    line.setAttribute('stroke-dasharray', '3 3');
    svg.append(line);
  }
  for (const [v, yy] of [[hi, y(hi) - 3], [lo, y(lo) + 12]]) {
    const label = document.createElementNS(NS, 'text');
    label.setAttribute('x', 12);
    label.setAttribute('y', Math.max(10, Math.min(H - 2, yy)));
    label.setAttribute('font-size', '10');
    label.setAttribute('fill', '#5a5a5a');
    label.textContent = `${Math.round(v)}${unit}`;
    svg.append(label);
  }
  return svg;
}

function candidates(item) {
  if (!item.quantity) {
    return el('p', { class: 'small' }, 'No item count could be read: dismiss it, or correct the cart by hand.');
  }
  if (!item.candidates.length) return el('p', { class: 'small' }, 'Nobody is in the store to give it to: dismiss it.');
  const what = `${Math.abs(item.quantity)} × ${item.product_name || 'item'}`;
  const top = item.candidates[0];
  const clearLead = top.confidence != null && top.confidence >= 0.3 &&
    (item.candidates.length === 1 || top.confidence - (item.candidates[1].confidence || 0) >= 0.15);
  return el('ol', { class: 'cands', 'aria-label': 'Who it may have been, most likely first' },
    item.candidates.map((c, i) => {
      const p = pct(c.confidence);
      const style = i === 0 && clearLead ? 'give' : p ? 'give secondary' : 'give weak';
      return el('li', {},
        el('button', { type: 'button', class: style, 'data-review': item.review, 'data-visit': c.visit,
          'data-name': c.name, 'aria-label': `Give ${what} to ${c.name}` },
          item.quantity < 0 ? `Put back by ${c.name}` : `Give to ${c.name}`),
        el('span', { class: 'num small' }, p == null ? '' : `${p} %`),
        p == null ? null : el('div', { class: 'bar', 'aria-hidden': 'true' }, el('span', { style: `width:${p}%` })),
        el('span', { class: 'why' }, c.evidence));
    }));
}

function card(item) {
  const frameBox = el('div', { class: 'frame' });
  if (item.frame) {
    const canvas = el('canvas', { role: 'img', 'aria-label': `Camera frame at ${timeOf(item.frame.captured_at)}: ` +
      (item.frame.boxes.length ? item.frame.boxes.map((b) => b.label).join(', ') : 'no faces found') });
    frameBox.append(canvas, el('p', { class: 'small muted frame-note' }, `Camera at ${timeOf(item.frame.captured_at)}`));
    drawFrame(canvas, item.frame).then((photo) => {
      if (!photo) frameBox.querySelector('.frame-note').textContent += ' · photo not kept, face boxes only';
    });
  } else {
    frameBox.append(el('p', { class: 'small muted' }, 'No camera frame near this moment.'));
  }
  const details = el('details', { class: 'evidence', open: wide() },
    el('summary', {}, 'Evidence: weight and camera'),
    item.trace ? el('div', { class: 'trace' }, traceChart(item.trace),
      el('p', { class: 'small muted' }, `${item.trace.sensor}: ${Math.round(item.trace.before)} → ${Math.round(item.trace.after)}${item.trace.unit ? ' ' + item.trace.unit : ''}`)) : null,
    frameBox);
  return el('article', { class: 'card review-card', 'data-item': item.review, 'data-reason': item.reason,
    'data-shelf': item.shelf || '', 'aria-labelledby': `rv-${item.review}` },
    el('header', {},
      el('input', { type: 'checkbox', class: 'pick', 'data-review': item.review, 'aria-label': `Select review ${item.review}` }),
      el('h2', { id: `rv-${item.review}` }, item.title)),
    el('p', { class: 'when' }, [item.shelf, item.slot_code && `slot ${item.slot_code}`].filter(Boolean).join(' · ') || 'Store', ' · ',
      timeOf(item.occurred_at), ' (', agoEl(item.occurred_at), ')'),
    el('p', { class: 'story' }, item.story),
    candidates(item),
    details,
    el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary small', 'data-review': item.review, 'data-dismiss': '1' }, 'Dismiss: nobody pays')),
    el('p', { class: 'card-msg error', role: 'alert' }));
}

function fillSelect(select, options) {
  const keep = select.value;
  select.replaceChildren(select.options[0]);
  for (const [value, label] of options) select.append(el('option', { value }, label));
  select.value = options.some(([v]) => v === keep) ? keep : '';
}

function render() {
  fillSelect(reasonSel, state.reasons);
  fillSelect(shelfSel, state.shelves.map((s) => [s, s]));
  let items = state.items.filter((i) => (!reasonSel.value || i.reason === reasonSel.value) &&
    (!shelfSel.value || i.shelf === shelfSel.value));
  if (sortSel.value === 'newest') items = [...items].reverse();
  const picked = new Set([...list.querySelectorAll('input.pick:checked')].map((b) => b.dataset.review));
  list.replaceChildren(...items.map(card));
  for (const box of list.querySelectorAll('input.pick')) box.checked = picked.has(box.dataset.review);
  document.getElementById('review-total').textContent = state.items.length;
  const empty = document.getElementById('review-empty');
  empty.hidden = items.length > 0;
  empty.textContent = state.items.length ? 'Nothing matches this filter.' : 'Nothing to review: the store decided everything on its own.';
  updateBulk();
}

function updateBulk() {
  const n = list.querySelectorAll('input.pick:checked').length;
  bulk.disabled = n === 0;
  bulk.textContent = n ? `Dismiss ${n} selected` : 'Dismiss selected';
}

async function resync() {
  state = await api('/manager/review.json');
  render();
}

function removeCard(cardEl) {
  const next = cardEl.nextElementSibling || cardEl.previousElementSibling;
  const id = Number(cardEl.dataset.item);
  state.items = state.items.filter((i) => i.review !== id);
  cardEl.remove();
  document.getElementById('review-total').textContent = state.items.length;
  document.getElementById('review-empty').hidden = list.children.length > 0;
  // Keyboard users continue with the next item rather than losing focus with the card.
  const target = next && next.querySelector('button');
  if (target) target.focus();
}

function errorText(e) {
  if (e.code === 'review_already_resolved') return 'Someone already decided this one.';
  return e.message;
}

list.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-review]');
  if (!b) return;
  const cardEl = b.closest('article');
  const note = cardEl.querySelector('.card-msg');
  const body = b.dataset.dismiss ? { dismiss: true } : { visit: Number(b.dataset.visit) };
  b.disabled = true;
  note.textContent = '';
  try {
    await api(`/api/review/${b.dataset.review}/resolve/`, { method: 'POST', body });
    msg.textContent = b.dataset.dismiss ? 'Dismissed.' : `Given to ${b.dataset.name}.`;
    msg.className = 'ok';
    removeCard(cardEl);
  } catch (e) {
    b.disabled = false;
    note.textContent = `Not done: ${errorText(e)}`;
    if (e.code === 'review_already_resolved') setTimeout(() => resync().catch(() => {}), 1500);
  }
});
list.addEventListener('change', (ev) => { if (ev.target.matches('input.pick')) updateBulk(); });
selectAll.addEventListener('change', () => {
  for (const box of list.querySelectorAll('input.pick')) box.checked = selectAll.checked;
  updateBulk();
});
for (const select of [reasonSel, shelfSel, sortSel]) select.addEventListener('change', render);

bulk.addEventListener('click', async () => {
  const picked = [...list.querySelectorAll('input.pick:checked')];
  if (!picked.length || !confirm(`Dismiss ${picked.length} item(s)? Nobody will pay for them.`)) return;
  bulk.disabled = true;
  let done = 0;
  for (const box of picked) {
    const cardEl = box.closest('article');
    try {
      await api(`/api/review/${box.dataset.review}/resolve/`, { method: 'POST', body: { dismiss: true } });
      removeCard(cardEl);
      done += 1;
    } catch (e) {
      cardEl.querySelector('.card-msg').textContent = `Not dismissed: ${errorText(e)}`;
    }
  }
  msg.textContent = `Dismissed ${done} of ${picked.length}.`;
  msg.className = done === picked.length ? 'ok' : 'error';
  updateBulk();
});

setInterval(() => { if (!document.hidden) tickTimes(list); }, 10000);

connectLive({
  resync,
  statusEl: document.getElementById('live-status'),
  onEvent(name) {
    if (['review_opened', 'review_resolved', 'review_updated', 'visit_opened', 'visit_closed']
      .includes(name)) {
      resync().catch(() => {});
    }
  },
});
