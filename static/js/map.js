// The map of /stations: markers for the visible area from the JSON API, grouped when zoomed out,
// each with its price coloured from cheap (green) to dear (red). Works without tiles.
(function () {
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
  L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution }).addTo(map);

  var group = L.markerClusterGroup ? L.markerClusterGroup({ animate: !cb.still, disableClusteringAtZoom: 13, showCoverageOnHover: false, maxClusterRadius: 50 }) : L.layerGroup();
  map.addLayer(group);

  function price(p) {
    var s = p.toFixed(3);
    return lang === "fr" ? s.replace(".", ",") + " €" : "€" + s;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }

  var seq = 0;
  function load() {
    var c = map.getCenter();
    var r = Math.min(100, Math.max(1, c.distanceTo(map.getBounds().getNorthEast()) / 1000));
    var url = "/api/v1/stations?lat=" + c.lat.toFixed(5) + "&lon=" + c.lng.toFixed(5) +
      "&fuel=" + encodeURIComponent(d.fuel) + "&radius_km=" + r.toFixed(1) + "&limit=200&max_age_days=" + d.maxAgeDays + (d.brands || "");
    var mine = ++seq;
    fetch(url).then(function (resp) { return resp.ok ? resp.json() : { stations: [] }; }).then(function (data) {
      if (mine !== seq) return;
      group.clearLayers();
      var list = data.stations || [];
      var prices = list.map(function (s) { return s.price; }).sort(function (a, b) { return a - b; });
      function bucket(p) {
        if (prices.length < 2 || prices[0] === prices[prices.length - 1]) return 0;
        var below = 0;
        while (below < prices.length && prices[below] < p) below++;
        return Math.min(4, Math.floor(below / prices.length * 5));
      }
      list.forEach(function (s) {
        var icon = L.divIcon({ className: "pin", html: '<span class="b' + bucket(s.price) + '">' + esc(price(s.price)) + "</span>", iconSize: null });
        // The OpenStreetMap name first when known, the address (and town) second.
        var title = s.name || s.city, second = s.name ? s.address + ", " + s.city : s.address;
        var m = L.marker([s.latitude, s.longitude], { icon: icon, title: title + " " + price(s.price), keyboard: true });
        m.bindPopup('<strong><a href="/stations/' + s.id + '">' + esc(title) + "</a></strong><br>" + esc(second) + "<br>" + esc(d.fuel) + " " + esc(price(s.price)) +
          (s.name ? '<br><a class="osm-credit" href="https://www.openstreetmap.org/copyright" rel="license">' + esc(d.osm) + "</a>" : ""));
        group.addLayer(m);
      });
      el.dataset.markers = String(list.length);
    }).catch(function () {});
  }
  map.on("moveend", load);
  load();
})();
