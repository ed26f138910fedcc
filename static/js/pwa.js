// Every page: registers the service worker (/sw.js: notifications, last prices offline).
// The "notifications on this device" block (templates/push_block.html), when present: shows its
// button only where the browser has the Push API, subscribes this device with the site's VAPID
// key and sends the subscription (a form post with the page's CSRF token), or unsubscribes it.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  // After the page's load: the worker's start-up (its script, its precache) does not compete
  // with the first render of a visitor's first page.
  var loaded = new Promise(function (resolve) {
    if (document.readyState === "complete") resolve();
    else window.addEventListener("load", function () { resolve(); }, { once: true });
  });
  var registered = loaded.then(function () { return navigator.serviceWorker.register("/sw.js", { scope: "/" }); });
  registered.catch(function () { /* no worker: the site works without one */ });

  var block = document.getElementById("push-block");
  if (!block) return;
  var d = block.dataset;
  var status = block.querySelector(".push-status");
  var on = block.querySelector(".push-on");
  var off = block.querySelector(".push-off");
  block.querySelector(".push-nojs").hidden = true;
  function say(text) { status.textContent = text; status.hidden = false; }
  if (!("PushManager" in window) || !("Notification" in window)) {
    say(d.unsupported);
    return;
  }

  function keyBytes(b64) {
    var s = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(s);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function post(path, fields) {
    fields.csrf = d.csrf;
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: new URLSearchParams(fields).toString()
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          var e = new Error((j.error && j.error.message) || d.failed);
          e.code = j.error && j.error.code;
          throw e;
        }
        return j;
      });
    });
  }

  function show(sub) {
    on.hidden = !!sub;
    off.hidden = !sub;
    on.disabled = off.disabled = false;
    say(Notification.permission === "denied" ? d.denied : sub ? d.on : d.off);
  }

  function busy() {
    on.disabled = off.disabled = true;
    say(d.working);
  }

  var ready = registered.then(function () { return navigator.serviceWorker.ready; });
  ready.then(function (reg) { return reg.pushManager.getSubscription(); }).then(show, function () { say(d.unsupported); });

  on.addEventListener("click", function () {
    busy();
    Notification.requestPermission().then(function (perm) {
      if (perm !== "granted") { show(null); return null; }
      return ready.then(function (reg) {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(d.key) });
      }).then(function (sub) {
        var j = sub.toJSON();
        return post("/me/push/subscribe", { endpoint: j.endpoint, p256dh: j.keys.p256dh, auth: j.keys.auth })
          .then(function () { location.reload(); }, function (e) {
            // The endpoint is another account's device (the browser was signed in as someone
            // else when it subscribed): it stays subscribed for its owner.
            if (e.code === "endpoint_taken") { show(null); say(e.message); return null; }
            // The server refused it: do not leave the browser subscribed for nothing.
            return sub.unsubscribe().then(function () { show(null); say(e.message); });
          });
      });
    }).catch(function () { show(null); say(d.failed); });
  });

  off.addEventListener("click", function () {
    busy();
    ready.then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) { show(null); return null; }
      return post("/me/push/unsubscribe", { endpoint: sub.endpoint }).then(function () {
        return sub.unsubscribe();
      }).then(function () { location.reload(); });
    }).catch(function () { say(d.failed); });
  });
})();
