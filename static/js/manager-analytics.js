// Analytics charts, drawn with the vendored Chart.js (static/vendor/chartjs).
import { api, el, money } from './live.js';

const COLORS = ['#0b5fff', '#0a7a2f', '#b00020', '#8a4fff', '#c26a00', '#00838f', '#5a5a5a'];
const charts = {};

let currency = '';

// A chart with nothing in it (all zeros) says so in words instead of drawing 0–1 axes.
function draw(id, type, labels, datasets, extra = {}, empty = 'No data yet.') {
  if (charts[id]) { charts[id].destroy(); delete charts[id]; }
  const canvas = document.getElementById(id);
  const box = canvas.closest('.chart-box');
  let note = box.querySelector('.chart-empty');
  const hasData = datasets.some((d) => d.data.some((v) => Number(v) > 0));
  if (!note) { note = el('p', { class: 'empty chart-empty' }); box.append(note); }
  note.textContent = empty;
  note.hidden = hasData;
  canvas.hidden = !hasData;
  box.classList.toggle('is-empty', !hasData);
  if (!hasData) return;
  charts[id] = new window.Chart(canvas, {
    type,
    data: { labels, datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true, ...(extra.money ? { ticks: { callback: (v) => money(v, currency) } } : {}) } },
      plugins: extra.money ? { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y, currency)}` } } } : {},
      ...extra.options },
  });
}

function series(obj) {
  return Object.entries(obj).map(([name, values], i) => ({
    label: name, data: values, borderColor: COLORS[i % COLORS.length],
    backgroundColor: COLORS[i % COLORS.length], tension: 0.2,
  }));
}

async function load() {
  const days = document.getElementById('days').value;
  const data = await api(`/manager/analytics.json?days=${days}`);
  currency = data.currency || '';
  const s = data.sales;
  draw('c-sales-hour', 'bar', s.per_hour.labels, [{ label: `Sales (${currency})`, data: s.per_hour.values, backgroundColor: COLORS[0] }],
    { money: true }, 'No sales in the last 24 hours.');
  draw('c-sales-day', 'bar', s.per_day.labels, [{ label: `Sales (${currency})`, data: s.per_day.values, backgroundColor: COLORS[1] }],
    { money: true }, 'No sales in this period yet.');
  const e = data.device_events;
  draw('c-events-hour', 'line', e.per_hour.labels, series(e.per_hour.series), {}, 'No device events in the last 24 hours.');
  draw('c-events-day', 'bar', e.per_day.labels, series(e.per_day.series), {}, 'No device events in this period yet.');
  const top = data.top_products;
  draw('c-top', 'bar', top.map((p) => p.name), [{ label: 'Items sold', data: top.map((p) => p.quantity), backgroundColor: COLORS[3] }],
    { options: { indexAxis: 'y', scales: { x: { beginAtZero: true } } } }, 'Nothing sold yet.');
  document.querySelector('#top-table').hidden = top.length === 0;
  document.querySelector('#top-table tbody').replaceChildren(...top.map((p) =>
    el('tr', {}, el('td', {}, p.name), el('td', { class: 'num' }, p.quantity), el('td', { class: 'num' }, money(p.revenue, currency)))));
  const avg = data.average_visit;
  document.getElementById('avg-visit').textContent = avg.minutes == null ? '–' : `${avg.minutes} min`;
  document.getElementById('visit-count').textContent = avg.visits;
  document.getElementById('sales-total').textContent = money(s.per_day.values.reduce((a, b) => a + b, 0), currency);
  document.body.dataset.chartsReady = '1';
}

document.getElementById('days').addEventListener('change', load);
load();
