// Carburoam's service worker, served at /sw.js (scope /) by src/web/routes/push.rs, which fills
// in VERSION and PRECACHE (the offline page and the hashed assets it needs).
//
// - Push: shows the notification (title, body) and opens its page on a click.
// - Offline: the signed-in user's pages (/me, /me/stations) are kept at each visit; without a
//   network they are shown as last seen, any other page gets the offline page. They are kept
//   under the session that fetched them: every page the server sends names its session in
//   X-Session-Tag (an opaque digest, empty without a session), and the first page that shows
//   another session or none (a logout elsewhere, an expired session, a deleted account, someone
//   else logging in) forgets them, as do logging out here and a redirect to the login page.
// - Hashed assets (/static/HASH/…) never change: cache first.
"use strict";

var VERSION = "__VERSION__";
var PRECACHE = __PRECACHE__;
var ICON = "__ICON__";
var STATIC = "carburoam-static-" + VERSION;
var PAGES = "carburoam-pages";
var KEPT = ["/me", "/me/stations"];
// Beside the kept pages: the tag of the session they belong to.
var TAG_KEY = "/__session-tag";
var TAG_HEADER = "X-Session-Tag";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(STATIC).then(function (c) { return c.addAll(PRECACHE); }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf("carburoam-static-") === 0 && k !== STATIC;
      }).map(function (k) { return caches.delete(k); }));
    }).then(function () {
      // Pages kept by an earlier worker, under no session tag: nobody can say whose they are.
      return caches.has(PAGES).then(function (has) {
        if (!has) return null;
        return caches.open(PAGES).then(keptTag).then(function (tag) { return tag === null ? forget() : null; });
      });
    }).then(function () { return self.clients.claim(); })
  );
});

function forget() {
  return caches.delete(PAGES);
}

function keptTag(cache) {
  return cache.match(TAG_KEY).then(function (hit) { return hit ? hit.text() : null; });
}

// After a page of the site came back: forget the kept pages when it shows another session or
// none, then keep this one (when it is a kept page) under its session.
function follow(path, resp, kept) {
  var tag = resp.headers.get(TAG_HEADER);
  if (tag === null) {
    // Not a page of the session layer (the API's documentation…): it says nothing.
    return Promise.resolve();
  }
  if (tag === "") return forget();
  var copy = kept && resp.ok ? resp.clone() : null;
  return caches.open(PAGES).then(function (c) {
    return keptTag(c).then(function (was) {
      if (was !== null && was === tag) return c;
      if (was === null && !copy) return null;
      return forget().then(function () { return caches.open(PAGES); });
    });
  }).then(function (c) {
    if (!c || !copy) return null;
    return c.put(TAG_KEY, new Response(tag)).then(function () { return c.put(path, copy); });
  });
}

self.addEventListener("fetch", function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST" && (url.pathname === "/logout" || url.pathname === "/me/delete")) {
    event.waitUntil(forget());
    return;
  }
  if (req.method !== "GET") return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(req).then(function (hit) {
      return hit || fetch(req).then(function (resp) {
        if (resp.ok) {
          var copy = resp.clone();
          caches.open(STATIC).then(function (c) { return c.put(req, copy); });
        }
        return resp;
      });
    }));
    return;
  }
  if (req.mode !== "navigate") return;
  var kept = KEPT.indexOf(url.pathname) >= 0;
  event.respondWith(fetch(req).then(function (resp) {
    if (kept && (resp.type === "opaqueredirect" || resp.redirected)) {
      // Sent to the login page: the session is over, so is what was kept of it.
      event.waitUntil(forget());
    } else {
      event.waitUntil(follow(url.pathname, resp, kept));
    }
    return resp;
  }).catch(function () {
    var fallback = function () { return caches.match("/offline"); };
    if (!kept) return fallback();
    return caches.open(PAGES).then(function (c) { return c.match(url.pathname); }).then(function (hit) {
      return hit || fallback();
    });
  }));
});

self.addEventListener("push", function (event) {
  var data = {};
  if (event.data) {
    try { data = event.data.json(); } catch (e) { data = { body: event.data.text() }; }
  }
  event.waitUntil(self.registration.showNotification(data.title || "Carburoam", {
    body: data.body || "",
    tag: data.tag || undefined,
    icon: ICON,
    badge: ICON,
    data: { url: data.url || "/me" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var raw = (event.notification.data && event.notification.data.url) || "/me";
  var target = new URL(raw, self.location.origin);
  // Only pages of this site.
  if (target.origin !== self.location.origin) target = new URL("/me", self.location.origin);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].url === target.href && "focus" in list[i]) return list[i].focus();
    }
    return self.clients.openWindow(target.href);
  }));
});
