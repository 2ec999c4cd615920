// The counter: search shoppers, record a top-up, mark an age check; the day's cash-up.
import { api, connectLive, el, money } from './live.js';

const tbody = document.querySelector('#shoppers tbody');
const form = document.getElementById('topup');
const who = document.getElementById('topup-who');
const submit = document.getElementById('t-submit');
const msg = document.getElementById('topup-msg');
const day = document.getElementById('day');
const q = document.getElementById('q');
let shoppers = [];

function say(text, bad) { msg.textContent = text; msg.className = bad ? 'error' : 'ok'; }

function choose(s) {
  form.shopper.value = s.shopper;
  who.textContent = `${s.name} (${s.username}) · balance ${money(s.balance)}`;
  who.className = '';
  submit.disabled = false;
  document.getElementById('t-amount').focus();
}

function row(s) {
  const age = s.age_verified
    ? el('span', { class: 'ok', title: `checked by ${s.age_verified_by || '?'}` }, 'verified')
    : el('button', { type: 'button', class: 'small secondary', 'data-age': s.shopper }, 'Verify age');
  return el('tr', { 'data-shopper': s.shopper },
    el('th', { scope: 'row' }, s.name, el('span', { class: 'muted small' }, ` ${s.username}`)),
    el('td', { class: `num${Number(s.balance) < 0 ? ' low' : ''}` }, money(s.balance)),
    el('td', {}, age),
    el('td', {}, el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'small', 'data-topup': s.shopper }, 'Top up'),
      el('a', { href: `/manager/accounts/${s.shopper}/` }, 'Statement'))));
}

function render() {
  tbody.replaceChildren(...shoppers.map(row));
  document.getElementById('none').hidden = shoppers.length > 0;
}

function renderCashup(c) {
  const items = [['Paid in', c.paid_in], ['Sales', c.sales], ['Refunds', c.refunds]];
  for (const [method, amount] of Object.entries(c.paid_in_by_method)) items.push([`Paid in (${method})`, amount]);
  document.getElementById('cashup').replaceChildren(...items.map(([k, v]) =>
    el('div', {}, el('dt', { class: 'muted small' }, k), el('dd', { class: 'num', style: 'margin:0' }, el('strong', {}, money(v))))));
  document.getElementById('cashup-csv').href = `/manager/cashup.csv?day=${encodeURIComponent(c.day)}`;
}

async function load() {
  const params = new URLSearchParams({ q: q.value, day: day.value });
  if (document.getElementById('owing').checked) params.set('owing', '1');
  const state = await api(`/manager/accounts.json?${params}`);
  shoppers = state.shoppers;
  render();
  renderCashup(state.cashup);
}

document.getElementById('find').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
day.addEventListener('change', load);
document.getElementById('owing').addEventListener('change', load);
tbody.addEventListener('click', async (ev) => {
  const top = ev.target.closest('[data-topup]');
  if (top) { choose(shoppers.find((s) => String(s.shopper) === top.dataset.topup)); return; }
  const age = ev.target.closest('[data-age]');
  if (age && confirm('You saw an ID showing this shopper is of age? Only the fact is kept.')) {
    try { await api(`/manager/accounts/${age.dataset.age}/age/`, { method: 'POST', body: {} }); await load(); }
    catch (e) { alert(e.message); }
  }
});
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!form.shopper.value) { say('Choose a shopper first.', true); return; }
  if (!form.reportValidity()) return;
  try {
    const r = await api(`/manager/accounts/${form.shopper.value}/topup/`, { method: 'POST', body: {
      amount: form.amount.value, method: form.method.value, note: form.note.value } });
    say(`Recorded. New balance ${money(r.balance)}.`);
    form.amount.value = ''; form.note.value = '';
    choose(r.shopper);
    await load();
  } catch (e) { say(`Not recorded: ${e.message}`, true); }
});

connectLive({
  statusEl: document.getElementById('live-status'),
  resync: load,
  onEvent(name) { if (name === 'account') load(); },
});
