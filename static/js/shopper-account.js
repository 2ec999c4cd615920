// The shopper's account: balance, statement, "+N" companions; refusals at the gate live.
import { api, connectLive, el, money, timeOf } from './live.js';

const balance = document.getElementById('balance');
const note = document.getElementById('balance-note');
const groupState = document.getElementById('group-state');
const select = document.getElementById('companions');
const refused = document.getElementById('refused');

function renderGroup(g) {
  if (!g) { groupState.textContent = 'Just you.'; return; }
  select.value = String(g.announced);
  const with_ = g.members.map((m) => m.name);
  if (g.guests) with_.push(`${g.guests} guest${g.guests > 1 ? 's' : ''}`);
  groupState.textContent = g.payer_visit
    ? `+${g.announced}: ${with_.length ? `with ${with_.join(', ')}` : 'nobody has come in yet'}.`
    : `+${g.announced}: walk in together within a few seconds.`;
}

function render(state) {
  const a = state.account;
  balance.textContent = money(a.balance);
  balance.className = `total num${a.below_floor ? ' low' : ''}`;
  const mode = a.mode === 'tab' ? 'You pay on a tab, settled at the counter.' : 'Prepaid: top up at the counter.';
  note.textContent = a.below_floor ? `${mode} The gate lets you in from ${money(a.floor)}.` : mode;
  renderGroup(state.group);
  const list = document.getElementById('entries');
  list.replaceChildren(...state.entries.map((e) => el('li', { class: 'row' },
    el('span', {}, `${e.kind_label}${e.receipt ? ` ${e.receipt}` : ''}`,
      el('span', { class: 'muted small' }, ` ${new Date(e.at).toLocaleDateString()} ${timeOf(e.at)}`)),
    el('span', { class: 'num' }, money(e.amount)))));
  document.getElementById('no-entries').hidden = state.entries.length > 0;
}

async function load() { render(await api('/app/account.json')); }

document.getElementById('group').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try { render(await api('/app/account/group/', { method: 'POST', body: { companions: Number(select.value) } })); }
  catch (e) { groupState.textContent = e.message; groupState.className = 'error'; }
});

connectLive({
  statusEl: document.getElementById('live-status'),
  resync: load,
  onEvent(name, data) {
    if (name === 'entry_refused') { refused.textContent = data.reason; refused.hidden = false; }
    if (name === 'account') { refused.hidden = true; load(); }
    if (name === 'group' || name === 'payment') load();
  },
});
