// Analytics charts, drawn with the vendored Chart.js (static/vendor/chartjs).
import { api, el } from './live.js';

const COLORS = ['#0b5fff', '#0a7a2f', '#b00020', '#8a4fff', '#c26a00', '#00838f', '#5a5a5a'];
const charts = {};

function draw(id, type, labels, datasets, extra = {}) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new window.Chart(document.getElementById(id), {
    type,
    data: { labels, datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true } }, ...extra },
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
  const s = data.sales;
  draw('c-sales-hour', 'bar', s.per_hour.labels, [{ label: 'Sales', data: s.per_hour.values, backgroundColor: COLORS[0] }]);
  draw('c-sales-day', 'bar', s.per_day.labels, [{ label: 'Sales', data: s.per_day.values, backgroundColor: COLORS[1] }]);
  const e = data.device_events;
  draw('c-events-hour', 'line', e.per_hour.labels, series(e.per_hour.series));
  draw('c-events-day', 'bar', e.per_day.labels, series(e.per_day.series));
  const top = data.top_products;
  draw('c-top', 'bar', top.map((p) => p.name), [{ label: 'Items sold', data: top.map((p) => p.quantity), backgroundColor: COLORS[3] }], { indexAxis: 'y', scales: { x: { beginAtZero: true } } });
  document.querySelector('#top-table tbody').replaceChildren(...top.map((p) =>
    el('tr', {}, el('td', {}, p.name), el('td', { class: 'num' }, p.quantity), el('td', { class: 'num' }, p.revenue.toFixed(2)))));
  const avg = data.average_visit;
  document.getElementById('avg-visit').textContent = avg.minutes == null ? '–' : `${avg.minutes} min`;
  document.getElementById('visit-count').textContent = avg.visits;
  document.getElementById('sales-total').textContent = s.per_day.values.reduce((a, b) => a + b, 0).toFixed(2);
  document.body.dataset.chartsReady = '1';
}

document.getElementById('days').addEventListener('change', load);
load();
