// Inventory: stock per slot (updated live), restocking, and in-place edits of the planogram
// and products through the REST API.
import { api, connectLive } from './live.js';

const msg = document.getElementById('inv-msg');
function say(text, bad) { msg.textContent = text; msg.className = bad ? 'error' : 'ok'; }
function errText(e) {
  if (e.data && e.data.fields) {
    return Object.entries(e.data.fields).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`).join('; ');
  }
  return e.message;
}

function setStock(row, stock, low) {
  row.querySelector('.stock').innerHTML = '';
  const value = document.createElement('span');
  value.className = 'stock-value';
  value.textContent = stock;
  row.querySelector('.stock').append(value);
  if (low) {
    const tag = document.createElement('span');
    tag.className = 'low';
    tag.textContent = ' low';
    row.querySelector('.stock').append(tag);
  }
  row.classList.toggle('is-low', !!low);
}

document.addEventListener('click', async (ev) => {
  const action = ev.target.dataset && ev.target.dataset.action;
  if (!action) return;
  const row = ev.target.closest('tr');
  try {
    if (action === 'restock') {
      const qty = Number(row.querySelector('[name=restock]').value);
      const slot = await api(`/api/slots/${row.dataset.slot}/restock/`, { method: 'POST', body: { quantity: qty } });
      setStock(row, slot.stock, slot.is_low);
      say(`Slot ${slot.code} restocked: ${slot.stock} on the shelf.`);
    } else if (action === 'save-slot') {
      const body = {
        product: row.querySelector('[name=product]').value || null,
        sensor: row.querySelector('[name=sensor]').value,
        capacity: Number(row.querySelector('[name=capacity]').value),
        low_stock_threshold: Number(row.querySelector('[name=low_stock_threshold]').value),
      };
      const slot = await api(`/api/slots/${row.dataset.slot}/`, { method: 'PATCH', body });
      setStock(row, slot.stock, slot.is_low);
      say(`Slot ${slot.code} saved.`);
    } else if (action === 'save-product') {
      const body = {};
      for (const name of ['name', 'price', 'unit_weight_g', 'weight_tolerance_g']) {
        body[name] = row.querySelector(`[name=${name}]`).value;
      }
      // Entered as a percentage; the API keeps the fraction (7 % → 0.0700).
      const percent = Number(String(row.querySelector('[name=tax_percent]').value).replace(',', '.'));
      if (!Number.isFinite(percent) || percent < 0 || percent >= 100) {
        say('Not saved: the tax rate is a percentage between 0 and 100, e.g. 7 or 19.', true);
        return;
      }
      body.tax_rate = (percent / 100).toFixed(4);
      body.active = row.querySelector('[name=active]').checked;
      const p = await api(`/api/products/${row.dataset.product}/`, { method: 'PATCH', body });
      say(`${p.sku} saved.`);
    }
  } catch (e) {
    say(`Not saved: ${errText(e)}`, true);
  }
});

for (const form of document.querySelectorAll('form.add-slot')) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    try {
      await api('/api/slots/', { method: 'POST', body: {
        shelf: Number(form.dataset.shelf), code: data.get('code'), product: data.get('product') || null,
      } });
      location.reload();
    } catch (e) { say(`Slot not added: ${errText(e)}`, true); }
  });
}

document.getElementById('add-product').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(ev.target));
  try {
    await api('/api/products/', { method: 'POST', body: data });
    location.reload();
  } catch (e) { say(`Product not added: ${errText(e)}`, true); }
});

async function resync() {
  const page = await api('/api/stock/?limit=1000');
  for (const slot of page.results) {
    const row = document.querySelector(`tr[data-slot="${slot.id}"]`);
    if (row) setStock(row, slot.stock, slot.is_low);
  }
}

connectLive({
  resync,
  statusEl: document.getElementById('live-status'),
  onEvent(name, data) {
    if (name !== 'stock') return;
    const row = document.querySelector(`tr[data-slot="${data.slot}"]`);
    if (row) setStock(row, data.stock, data.low);
  },
});
