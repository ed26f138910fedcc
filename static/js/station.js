// /stations/{id}: the small map. The price history chart is drawn by js/chart.js.
(function () {
  "use strict";
  var mapEl = document.getElementById("station-map");
  if (mapEl && window.L) {
    var d = mapEl.dataset, ll = [parseFloat(d.lat), parseFloat(d.lon)];
    var map = L.map(mapEl, Object.assign({ scrollWheelZoom: false }, window.carburoam.motion)).setView(ll, 15);
    L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution }).addTo(map);
    L.marker(ll, { icon: L.divIcon({ className: "pin here", html: "<span>⛽</span>", iconSize: null }) }).addTo(map);
  }
})();
