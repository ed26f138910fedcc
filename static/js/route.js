// /trajet (/route): the route line and the stations of the corridor on a map. The list and the
// best stop are in the page already; this only adds the map.
(function () {
  "use strict";
  var el = document.getElementById("route-map");
  var dataEl = document.getElementById("route-data");
  if (!el || !dataEl || !window.L) return;
  var data;
  try { data = JSON.parse(dataEl.textContent); } catch (e) { return; }
  if (!data || !data.points || data.points.length < 2) return;
  var d = el.dataset;
  var map = L.map(el, Object.assign({ scrollWheelZoom: false }, (window.carburoam || {}).motion));
  L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  var line = L.polyline(data.points, { color: "#1a73e8", weight: 5, opacity: 0.8 }).addTo(map);
  // The first ten of the list (its order) carry their price; the others are dots.
  data.stations.forEach(function (s, i) {
    var label = s.best ? "★ " + s.price : (i < 10 ? s.price : "");
    var m = L.marker([s.lat, s.lon], {
      title: s.name + " — " + s.price,
      zIndexOffset: s.best ? 1000 : (i < 10 ? 500 : 0),
      icon: L.divIcon({ className: "pin" + (s.best ? " here" : ""), html: "<span class=\"" + (s.best ? "" : (i < 10 ? "b1" : "b2")) + "\">" + label + "</span>", iconSize: null })
    }).addTo(map);
    var a = document.createElement("a");
    a.href = "/stations/" + s.id;
    a.textContent = s.name + " — " + s.price;
    m.bindPopup(a);
  });
  map.fitBounds(line.getBounds(), { padding: [20, 20] });
})();
