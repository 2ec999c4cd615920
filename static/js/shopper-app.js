// Shopper app: the live cart while in the store, the receipt the moment they walk out
// (on the page and as a notification), and the QR entry code.
import { agoEl, api, connectLive, el, money, tickTimes, timeOf } from './live.js';

const cartEl = document.getElementById('cart');
const statusEl = document.getElementById('store-status');
const receiptBox = document.getElementById('receipt-box');
let currentVisit = null;
let shownReceipt = null;
let enteredAt = null;
let currency = '';
setInterval(() => { if (!document.hidden) tickTimes(statusEl); }, 10000);

function renderCart(cart, since) {
  if (since) enteredAt = since;
  statusEl.className = '';
  statusEl.removeAttribute('role');
  if (!cart) {
    currentVisit = null;
    enteredAt = null;
    statusEl.textContent = 'You are not in the store. Walk in and your cart appears here.';
    cartEl.replaceChildren();
    return;
  }
  currentVisit = cart.visit;
  statusEl.replaceChildren(...(enteredAt
    ? [`In the store since ${timeOf(enteredAt)} (`, agoEl(enteredAt, { suffix: false }), ').']
    : ['You are in the store.']));
  const rows = cart.lines.map((l) => el('li', { class: 'row', 'data-sku': l.sku },
    el('span', {}, `${l.quantity} × ${l.name}`), el('span', { class: 'num' }, money(l.line_total))));
  cartEl.replaceChildren(
    rows.length ? el('ul', { class: 'plain lines' }, rows) : el('p', { class: 'muted' }, 'Your cart is empty.'),
    el('p', { class: 'row total' }, el('span', {}, `${cart.items} item(s)`),
      el('strong', { class: 'num' }, el('span', { id: 'cart-total' }, money(cart.total)),
        currency ? ` ${currency}` : '')));
}

// The shopper left; the receipt follows once every shelf has reported (seconds, usually).
function renderFinalising() {
  document.getElementById('receipt').replaceChildren(
    el('p', { id: 'receipt-finalising', role: 'status' }, 'Finalising your receipt…'));
  receiptBox.hidden = false;
}

function renderReceipt(r, { announce = false } = {}) {
  if (!r) return;
  shownReceipt = r.receipt;
  const notes = [];
  if (r.provisional) {
    notes.push(el('p', { class: 'badge warn', id: 'receipt-provisional' },
      'Provisional: a shelf has not reported yet, so this receipt may still change.'));
  }
  if (r.revision > 1) {
    notes.push(el('p', { class: 'small', id: 'receipt-amended' }, `Amended (revision ${r.revision}): `,
      (r.changes || []).map((c) => `${c.name} ${c.was} → ${c.now}`).join(', ') || 'confirmed'));
  }
  document.getElementById('receipt').replaceChildren(
    el('p', {}, el('strong', {}, r.number), ` · ${timeOf(r.issued_at)}`), ...notes,
    el('ul', { class: 'plain' }, r.lines.map((l) => el('li', { class: 'row' },
      el('span', {}, `${l.quantity} × ${l.name}`), el('span', { class: 'num' }, money(l.line_total))))),
    el('p', { class: 'row total' }, el('span', {}, 'Total'),
      el('strong', { class: 'num', id: 'receipt-total' }, money(r.total, r.currency))),
    el('p', { class: 'small' }, el('a', { href: `/app/receipts/${r.receipt}/` }, 'Details or report a problem')));
  receiptBox.hidden = false;
  if (announce) {
    receiptBox.focus();
    notify(r);
  }
}

function notify(r) {
  return showNote(`Receipt ${r.number}`, { body: `Total ${money(r.total, r.currency)}. Thanks for shopping!`,
    tag: `receipt-${r.receipt}`, data: { url: `/app/receipts/${r.receipt}/` } });
}

async function showNote(title, options) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  options = { icon: '/static/icons/icon-192.png', ...options };
  try {
    // Phones only show notifications through the service worker.
    const reg = navigator.serviceWorker && await navigator.serviceWorker.getRegistration();
    if (reg) { await reg.showNotification(title, options); return; }
  } catch (e) { /* fall back below */ }
  try { new Notification(title, options); } catch (e) { /* not allowed here */ }
}

const notifyBtn = document.getElementById('notify');
if ('Notification' in window && Notification.permission === 'default') {
  notifyBtn.hidden = false;
  notifyBtn.addEventListener('click', async () => {
    await Notification.requestPermission();
    notifyBtn.hidden = true;
  });
}

async function resync() {
  const state = await api('/app/state.json');
  currency = state.currency || '';
  renderCart(state.cart, state.entered_at);
  if (state.group && state.group.role === 'companion') {
    statusEl.textContent += ` You shop with ${state.group.payer}: what you take goes on their receipt.`;
  }
  if (!state.in_store && state.settling) renderFinalising();
  if (!state.in_store && state.latest_receipt && shownReceipt !== state.latest_receipt.receipt) {
    // A receipt issued while the socket was down still appears (without a second alert).
    const fresh = Date.now() - new Date(state.latest_receipt.issued_at).getTime() < 15 * 60000;
    if (fresh) renderReceipt(state.latest_receipt);
  }
}

let qrTimer = null;
async function showQr() {
  const box = document.getElementById('qr');
  try {
    const qr = await api('/api/me/qr/');
    box.innerHTML = qr.svg; // server-generated SVG of our own signed token
    const svg = box.querySelector('svg');
    if (svg) { svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', 'Your entry QR code'); }
    const ms = Math.max(5000, new Date(qr.expires_at).getTime() - Date.now() - 5000);
    clearTimeout(qrTimer);
    qrTimer = setTimeout(showQr, ms);
  } catch (e) {
    box.replaceChildren(el('p', { class: 'error' }, e.status === 404 ? 'Entry codes are not available yet.' : `No code: ${e.message}`));
  }
}
document.getElementById('qr-show').addEventListener('click', showQr);

connectLive({
  resync,
  statusEl: document.getElementById('live-status'),
  onEvent(name, data) {
    if (name === 'visit_opened') {
      receiptBox.hidden = true;
      renderCart({ visit: data.visit, lines: [], total: '0.00', items: 0 }, new Date().toISOString());
    } else if (name === 'cart' && data.status === 'open') {
      renderCart(data);
    } else if (name === 'visit_settling') {
      renderCart(null);
      renderFinalising();
    } else if (name === 'receipt') {
      renderCart(null);
      renderReceipt(data, { announce: shownReceipt !== data.receipt });
    } else if (name === 'group') {
      resync();
    } else if (name === 'entry_refused') {
      // The gate said no (e.g. balance below the store's floor): tell the phone why.
      statusEl.textContent = data.reason;
      statusEl.className = 'error';
      statusEl.setAttribute('role', 'alert');
      showNote('Not let in', { body: data.reason, tag: 'entry-refused', data: { url: '/app/account/' } });
    }
  },
});
