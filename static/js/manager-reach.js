// Reach bands: the manager drags across a shelf camera's frame to mark where, left to right,
// the face of someone taking from the chosen slot appears. Saved at once through the API.
import { api } from './live.js';

const msg = document.getElementById('inv-msg');
function say(text, bad) { if (msg) { msg.textContent = text; msg.className = bad ? 'error' : 'ok'; } }
const clamp = (v) => Math.min(1, Math.max(0, v));

function place(band, from, to) {
  if (from === null) {
    delete band.dataset.from;
    delete band.dataset.to;
    return;
  }
  band.dataset.from = String(from);
  band.dataset.to = String(to);
  band.style.left = `${from * 100}%`;
  band.style.width = `${(to - from) * 100}%`;
}

function setup(box) {
  const view = box.querySelector('.reach-view');
  const select = box.querySelector('.reach-slot');
  const bands = new Map([...box.querySelectorAll('.reach-band')].map((b) => [b.dataset.reachSlot, b]));
  for (const band of bands.values()) {
    if (band.dataset.from !== undefined) place(band, Number(band.dataset.from), Number(band.dataset.to));
  }
  const current = () => bands.get(select.value);
  const highlight = () => { for (const [pk, b] of bands) b.classList.toggle('is-selected', pk === select.value); };
  select.addEventListener('change', highlight);
  highlight();

  async function save(band, reach) {
    const code = band.dataset.code;
    try {
      const slot = await api(`/api/slots/${band.dataset.reachSlot}/reach/`, { method: 'POST', body: { reach } });
      place(band, slot.reach ? slot.reach[0] : null, slot.reach ? slot.reach[1] : null);
      say(slot.reach ? `Reach band of ${code} saved: ${Math.round(slot.reach[0] * 100)}–${Math.round(slot.reach[1] * 100)} % of the view.`
        : `Reach band of ${code} cleared: faces no longer place shoppers at ${code}.`);
    } catch (e) {
      say(`Reach band of ${code} not saved: ${e.message}`, true);
    }
  }

  let start = null;
  let saved = null;
  const fraction = (ev) => { const r = view.getBoundingClientRect(); return clamp((ev.clientX - r.left) / r.width); };
  view.addEventListener('pointerdown', (ev) => {
    const band = current();
    if (!band) return;
    start = fraction(ev);
    saved = band.dataset.from !== undefined ? [Number(band.dataset.from), Number(band.dataset.to)] : null;
    view.setPointerCapture(ev.pointerId);
    place(band, start, start);
  });
  view.addEventListener('pointermove', (ev) => {
    if (start === null) return;
    const x = fraction(ev);
    place(current(), Math.min(start, x), Math.max(start, x));
  });
  view.addEventListener('pointerup', (ev) => {
    if (start === null) return;
    const band = current();
    const x = fraction(ev);
    const reach = [Math.min(start, x), Math.max(start, x)].map((v) => Math.round(v * 1000) / 1000);
    start = null;
    if (reach[1] - reach[0] < 0.01) {
      // A click, not a drag: keep the band it had.
      place(band, saved ? saved[0] : null, saved ? saved[1] : null);
      return;
    }
    save(band, reach);
  });
  // Keyboard: arrows move the selected band's edges by 1 % (Shift: the left edge).
  view.addEventListener('keydown', (ev) => {
    const band = current();
    if (!band || !['ArrowLeft', 'ArrowRight'].includes(ev.key)) return;
    ev.preventDefault();
    let from = band.dataset.from !== undefined ? Number(band.dataset.from) : 0.4;
    let to = band.dataset.to !== undefined ? Number(band.dataset.to) : 0.6;
    const step = ev.key === 'ArrowLeft' ? -0.01 : 0.01;
    if (ev.shiftKey) from = clamp(Math.min(from + step, to - 0.01)); else to = clamp(Math.max(to + step, from + 0.01));
    save(band, [Math.round(from * 1000) / 1000, Math.round(to * 1000) / 1000]);
  });
  box.querySelector('[data-reach-clear]').addEventListener('click', () => {
    const band = current();
    if (band) save(band, null);
  });
}

document.querySelectorAll('[data-reach-shelf]').forEach(setup);
