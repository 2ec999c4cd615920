// Restock: what to bring, deliveries with batch and best-before, expiring soon, history.
import { api, connectLive, el, money, timeOf } from './live.js';

const form = document.getElementById('record');
const msg = document.getElementById('record-msg');
const slotSelect = document.getElementById('r-slot');
const historySelect = document.getElementById('h-slot');
const alertEl = document.getElementById('alert');

function options(select, slots) {
  const keep = select.value;
  select.replaceChildren(...slots.map((s) => el('option', { value: s.slot }, s.label)));
  if (keep && slots.some((s) => String(s.slot) === keep)) select.value = keep;
}

function render(state) {
  document.querySelector('#restock tbody').replaceChildren(...state.restock.map((r) =>
    el('tr', { class: r.low ? 'is-low' : '', 'data-slot': r.slot },
      el('th', { scope: 'row' }, `${r.shelf}/${r.code}`),
      el('td', {}, r.product, r.low ? el('span', { class: 'low' }, ' low') : null),
      el('td', { class: 'num' }, `${r.stock} / ${r.capacity}`),
      el('td', { class: 'num' }, el('strong', {}, r.bring)),
      el('td', {}, el('button', { type: 'button', class: 'small secondary', 'data-fill': r.slot, 'data-bring': r.bring }, 'Record')))));
  document.getElementById('all-full').hidden = state.restock.length > 0;
  document.querySelector('#expiring tbody').replaceChildren(...state.expiring.map((b) =>
    el('tr', { class: b.days_left < 0 ? 'is-low' : '' },
      el('th', { scope: 'row' }, `${b.shelf}/${b.code}`),
      el('td', {}, b.product, b.batch_code ? el('span', { class: 'muted small' }, ` ${b.batch_code}`) : null),
      el('td', { class: 'num' }, b.remaining),
      el('td', { class: 'num' }, `${b.best_before} (${b.days_left < 0 ? 'past' : `${b.days_left} d`})`),
      el('td', { class: 'num' }, b.marked_down_to ? money(b.marked_down_to) : 'full'))));
  document.getElementById('none-expiring').hidden = state.expiring.length > 0;
  options(slotSelect, state.slots);
  options(historySelect, state.slots);
}

async function loadHistory() {
  if (!historySelect.value) return;
  const h = await api(`/manager/restock/${historySelect.value}/history.json`);
  document.querySelector('#history tbody').replaceChildren(...h.moves.map((m) =>
    el('tr', {},
      el('td', { class: 'num' }, `${new Date(m.at).toLocaleDateString()} ${timeOf(m.at)}`),
      el('td', {}, m.reason_label, m.batch ? el('span', { class: 'muted small' }, ` ${m.batch}`) : null,
        m.best_before ? el('span', { class: 'muted small' }, ` bb ${m.best_before}`) : null),
      el('td', { class: 'num' }, m.delta > 0 ? `+${m.delta}` : m.delta),
      el('td', { class: 'num' }, m.stock_after),
      el('td', {}, m.who || ''))));
}

async function load() { render(await api('/manager/restock.json')); await loadHistory(); }

document.querySelector('#restock tbody').addEventListener('click', (ev) => {
  const b = ev.target.closest('[data-fill]');
  if (!b) return;
  slotSelect.value = b.dataset.fill;
  form.quantity.value = b.dataset.bring;
  form.batch_code.focus();
});
historySelect.addEventListener('change', loadHistory);
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!form.reportValidity()) return;
  try {
    const r = await api(`/manager/restock/${slotSelect.value}/`, { method: 'POST', body: {
      quantity: Number(form.quantity.value), batch_code: form.batch_code.value, best_before: form.best_before.value || null } });
    msg.textContent = `Recorded: the slot holds ${r.stock} of ${r.capacity}.`; msg.className = 'ok';
    form.batch_code.value = ''; form.best_before.value = '';
    historySelect.value = String(r.slot);
    await load();
  } catch (e) { msg.textContent = `Not recorded: ${e.message}`; msg.className = 'error'; }
});

connectLive({
  statusEl: document.getElementById('live-status'),
  resync: load,
  onEvent(name, data) {
    if (name === 'low_stock') {
      alertEl.textContent = `Low: ${data.product} at ${data.shelf_name}/${data.code} (${data.stock} left)`;
      alertEl.hidden = false;
    }
    if (name === 'stock' || name === 'low_stock') load();
  },
});
