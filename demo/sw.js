// The demo's service worker: keeps the app shell (HTML, CSS, script) so a reload works while the relay
// that serves it is down. Network first (a running relay always serves the current files), the cache
// when the network fails. Data never goes through here: it lives in IndexedDB.
const CACHE = 'concord-demo-v1';
const SHELL = ['/', '/index.html', '/style.css', '/dist/app.js'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  // Pages with any query (?device=...) share the cached shell.
  const key = request.mode === 'navigate' ? '/index.html' : url.pathname;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          void caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return response;
      })
      .catch(() => caches.match(key).then((hit) => hit ?? Response.error())),
  );
});
