// /demo: remembers the dashboard's stations and fuels in this browser (localStorage), and shows
// the nearby stations on a small map with an "Add" link each. The page itself is rendered by the
// server from the URL (`?ids=…&fuel1=…&fuel2=…`), so every action also works without JS.
(function () {
  "use strict";
  var KEY = "carburoam.demo";
  var root = document.getElementById("demo");
  if (!root) return;
  var d = root.dataset;
  var params = new URLSearchParams(location.search);

  if (params.get("reset") === "1") {
    try { localStorage.removeItem(KEY); } catch (e) {}
    location.replace("/demo");
    return;
  }
  var saved = null;
  try { saved = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) {}
  if (d.explicit !== "true" && saved && saved.ids) {
    // Back to the stations chosen earlier.
    var q = new URLSearchParams({ ids: saved.ids, fuel1: saved.fuel1 || d.fuel1, fuel2: saved.fuel2 || d.fuel2, lat: saved.lat || d.lat, lon: saved.lon || d.lon });
    location.replace("/demo?" + q.toString());
    return;
  }
  if (d.explicit === "true") {
    try { localStorage.setItem(KEY, JSON.stringify({ ids: d.ids, fuel1: d.fuel1, fuel2: d.fuel2, lat: d.lat, lon: d.lon })); } catch (e) {}
  }

  var mapEl = document.getElementById("demo-map");
  if (mapEl && window.L) {
    var m = mapEl.dataset;
    var cb = window.carburoam; // site.js, loaded first
    var map = L.map(mapEl, Object.assign({ scrollWheelZoom: false }, cb.motion)).setView([parseFloat(d.lat), parseFloat(d.lon)], 13);
    cb.popupFocus(map);
    L.tileLayer(m.tiles, { maxZoom: 19, attribution: m.attribution }).addTo(map);
    var pts = [];
    document.querySelectorAll(".candidates li").forEach(function (li) {
      var ll = [parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)];
      var link = li.querySelector("a[data-add]");
      var popup = document.createElement("div");
      var name = document.createElement("strong");
      name.textContent = li.dataset.name;
      var add = document.createElement("a");
      add.href = link.href;
      add.className = "button small";
      add.textContent = m.addLabel;
      popup.appendChild(name);
      popup.appendChild(document.createElement("br"));
      popup.appendChild(add);
      L.marker(ll, { icon: L.divIcon({ className: "pin", html: '<span class="b2">+</span>', iconSize: null }), title: li.dataset.name }).bindPopup(popup).addTo(map);
      pts.push(ll);
    });
    if (pts.length > 1) map.fitBounds(pts, { padding: [20, 20] });
  }
})();
