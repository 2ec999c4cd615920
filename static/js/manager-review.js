// Review queue: each doubtful event with its evidence, resolved in one click.
import { api, connectLive, el, timeOf } from './live.js';

const list = document.getElementById('review-items');
const msg = document.getElementById('review-msg');

function evidence(item) {
  const rows = [];
  if (item.weights) {
    rows.push(el('li', {}, `Sensor ${item.weights.sensor}: ${item.weights.before} → ${item.weights.after}`));
  }
  for (const [key, value] of Object.entries(item.evidence || {})) {
    rows.push(el('li', {}, `${key.replaceAll('_', ' ')}: ${typeof value === 'object' ? JSON.stringify(value) : value}`));
  }
  return el('ul', { class: 'small' }, rows);
}

function render(state) {
  list.replaceChildren();
  for (const item of state.items) {
    const qty = item.quantity;
    const what = `${Math.abs(qty) || '?'} × ${item.product_name || 'unknown product'}`;
    // Without ranked candidates: whoever was in the store when it happened (left since or not).
    const candidates = item.candidates.length ? item.candidates : (item.present || state.in_store).map(
      (v) => ({ visit: v.visit, name: v.name, confidence: null }));
    const buttons = candidates.map((c) => el('button', {
      type: 'button', 'data-review': item.review, 'data-visit': c.visit,
      'aria-label': `Give ${what} to ${c.name}`,
    }, `${c.name}${c.confidence != null ? ` (${Math.round(c.confidence * 100)}%)` : ''}`));
    const frame = item.frame_held
      ? el('img', { src: `/manager/frames/${item.frame}.jpg`, alt: `Camera frame of review ${item.review}`, style: 'max-width:100%' })
      : el('p', { class: 'muted small' }, item.frame ? 'Frame no longer held' : 'No frame');
    list.append(el('article', { class: 'card', 'data-item': item.review },
      el('h2', {}, `${item.reason.replaceAll('_', ' ')}`),
      el('p', {}, `${qty < 0 ? 'Put back' : 'Taken'}: ${what}`,
        item.slot_label ? ` from ${item.slot_label}` : '', el('span', { class: 'muted' }, ` · ${timeOf(item.created_at)}`)),
      evidence(item), frame,
      el('p', { class: 'small' }, qty ? 'Who was it?' : 'No quantity could be read: dismiss, or correct the cart by hand.'),
      el('div', { class: 'actions' }, qty ? buttons : [],
        el('button', { type: 'button', class: 'secondary', 'data-review': item.review, 'data-dismiss': '1' }, 'Dismiss'))));
  }
  document.getElementById('review-empty').hidden = state.items.length > 0;
}

async function resync() { render(await api('/manager/review.json')); }

list.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-review]');
  if (!b) return;
  const body = b.dataset.dismiss ? { dismiss: true } : { visit: Number(b.dataset.visit) };
  try {
    await api(`/api/review/${b.dataset.review}/resolve/`, { method: 'POST', body });
    msg.textContent = b.dataset.dismiss ? 'Dismissed.' : `Given to ${b.textContent}.`;
    msg.className = 'ok';
    const card = b.closest('article');
    // Keyboard users continue with the next item rather than losing focus with the card.
    const next = card.nextElementSibling || card.previousElementSibling;
    card.remove();
    document.getElementById('review-empty').hidden = list.children.length > 0;
    const target = next && next.querySelector('button');
    if (target) target.focus();
  } catch (e) {
    msg.textContent = `Not resolved: ${e.message}`;
    msg.className = 'error';
  }
});

connectLive({
  resync,
  statusEl: document.getElementById('live-status'),
  onEvent(name) {
    if (['review_opened', 'review_resolved', 'visit_opened', 'visit_closed'].includes(name)) {
      resync().catch(() => {});
    }
  },
});
