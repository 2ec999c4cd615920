// A receipt's page: tells the shopper as soon as the store decides a problem they reported.
import { connectLive } from './live.js';

const receiptId = Number(document.querySelector('script[data-receipt]').dataset.receipt);
const news = document.getElementById('dispute-news');

connectLive({
  // Decisions are shown on the page when it loads; the socket adds the ones made while open.
  resync: async () => {},
  statusEl: document.getElementById('live-status'),
  onEvent(name, data) {
    if (name === 'receipt' && data.receipt === receiptId) {
      // A new revision (late evidence, a review, a refund, a correction): show it.
      news.textContent = `This receipt was amended (revision ${data.revision}); showing it now…`;
      setTimeout(() => window.location.reload(), 1500);
      return;
    }
    if (name !== 'dispute' || data.receipt !== receiptId || data.status === 'open') return;
    const outcome = data.status === 'resolved' ? `refunded ${data.refunded}` : 'not refunded';
    news.textContent = `The store answered about ${data.product_name || 'this receipt'}: ` +
      `${outcome}${data.resolution_note ? ` (${data.resolution_note})` : ''}.`;
  },
});
