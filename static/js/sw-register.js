// Registers the service worker (installable app, offline notice, notification clicks).
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch(() => {});
}
