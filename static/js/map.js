// The map of /stations: markers for the visible area from the JSON API, grouped when zoomed out,
// each with its price coloured from cheap (green) to dear (red). Works without tiles.
//
// The work is cut in tasks of its own so that a phone's main thread is never held for long (a
// task over 50 ms delays the taps that come during it; Lighthouse counts it as blocking): the
// scripts' evaluation, then the map and its view, then the tiles and the first request, then
// the markers in slices.
setTimeout(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var lang = document.body.dataset.lang || "fr";
  var d = el.dataset;
  var lat = parseFloat(d.lat), lon = parseFloat(d.lon), radius = parseFloat(d.radius) || 10;
  var cb = window.carburoam; // site.js, loaded first
  var map = L.map(el, Object.assign({ zoomControl: true, preferCanvas: false }, cb.motion));
  cb.popupFocus(map);
  if (d.centred === "true") {
    map.fitBounds(L.latLng(lat, lon).toBounds(radius * 2000));
  } else {
    map.setView([lat, lon], 6);
  }

  // Clusters gather what lies within 100 px, which keeps the visible clusters (40 px) apart
  // enough to be tapped.
  var group = L.markerClusterGroup ? L.markerClusterGroup({
    animate: !cb.still, disableClusteringAtZoom: 13, showCoverageOnHover: false, maxClusterRadius: 100
  }) : L.layerGroup();
  // `data-markers` (the tests wait for it) once every marker of the last answer is on the map.
  var count = 0;
  function drawn() { el.dataset.markers = String(count); }

  function price(p) {
    var s = p.toFixed(3);
    return lang === "fr" ? s.replace(".", ",") + " €" : "€" + s;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }

  // Which stations get a marker: those in view, and not under a control (zoom buttons,
  // attribution) or so close to one that a pin (about 70 × 25 px above its point) or a
  // cluster (40 px around it) would cover part of it: two targets that overlap are hard to tap.
  function clear() {
    var box = el.getBoundingClientRect(), size = map.getSize();
    var controls = Array.prototype.map.call(el.querySelectorAll(".leaflet-control"), function (c) {
      var r = c.getBoundingClientRect();
      return { l: r.left - box.left - 40, r: r.right - box.left + 40, t: r.top - box.top - 24, b: r.bottom - box.top + 28 };
    });
    return function (s) {
      var p = map.latLngToContainerPoint([s.latitude, s.longitude]);
      if (p.x < 36 || p.y < 28 || p.x > size.x - 36 || p.y > size.y - 20) return false;
      return !controls.some(function (c) { return p.x > c.l && p.x < c.r && p.y > c.t && p.y < c.b; });
    };
  }

  var seq = 0, SLICE = 40;
  function load() {
    var c = map.getCenter();
    var r = Math.min(100, Math.max(1, c.distanceTo(map.getBounds().getNorthEast()) / 1000));
    var url = "/api/v1/stations?lat=" + c.lat.toFixed(5) + "&lon=" + c.lng.toFixed(5) +
      "&fuel=" + encodeURIComponent(d.fuel) + "&radius_km=" + r.toFixed(1) + "&limit=200&max_age_days=" + d.maxAgeDays + (d.brands || "");
    var mine = ++seq;
    fetch(url).then(function (resp) { return resp.ok ? resp.json() : { stations: [] }; }).then(function (data) {
      if (mine !== seq) return;
      group.clearLayers();
      var list = (data.stations || []).filter(clear());
      var prices = list.map(function (s) { return s.price; }).sort(function (a, b) { return a - b; });
      function bucket(p) {
        if (prices.length < 2 || prices[0] === prices[prices.length - 1]) return 0;
        var below = 0;
        while (below < prices.length && prices[below] < p) below++;
        return Math.min(4, Math.floor(below / prices.length * 5));
      }
      function marker(s) {
        var icon = L.divIcon({ className: "pin", html: '<span class="b' + bucket(s.price) + '">' + esc(price(s.price)) + "</span>", iconSize: null });
        // The OpenStreetMap name first when known, the address (and town) second.
        var title = s.name || s.city, second = s.name ? s.address + ", " + s.city : s.address;
        var m = L.marker([s.latitude, s.longitude], { icon: icon, title: title + " " + price(s.price), keyboard: true });
        m.bindPopup('<strong><a href="/stations/' + s.id + '">' + esc(title) + "</a></strong><br>" + esc(second) + "<br>" + esc(d.fuel) + " " + esc(price(s.price)) +
          (s.name ? '<br><a class="osm-credit" href="https://www.openstreetmap.org/copyright" rel="license">' + esc(d.osm) + "</a>" : ""));
        return m;
      }
      count = list.length;
      if (!list.length) { drawn(); return; }
      // In slices of SLICE stations, each its own task: building and clustering 200 markers at
      // once held a phone's main thread for 150-400 ms; a slice stays under the 50 ms a task
      // may take before the page stops answering taps.
      var at = 0;
      (function slice() {
        if (mine !== seq) return;
        var markers = list.slice(at, at + SLICE).map(marker);
        at += markers.length;
        if (group.addLayers) group.addLayers(markers); else markers.forEach(function (m) { group.addLayer(m); });
        if (at < list.length) setTimeout(slice, 0); else drawn();
      })();
    }).catch(function () {});
  }
  // The tiles, the markers' layer and the first request in the next task.
  setTimeout(function () {
    L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution }).addTo(map);
    map.addLayer(group);
    map.on("moveend resize", load);
    load();
  }, 0);
}, 0);
