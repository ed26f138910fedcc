// /me/stations: the nearby stations on a small map, each marker with the same "Add" form as the
// list under it (a real POST with the page's CSRF token: the list works without JS too), and the
// "use my location" button.
(function () {
  "use strict";
  var mapEl = document.getElementById("mine-map");
  if (!mapEl || !window.L) return;
  var m = mapEl.dataset;
  var cb = window.carburoam; // site.js, loaded first
  var map = L.map(mapEl, Object.assign({ scrollWheelZoom: false }, cb.motion)).setView([parseFloat(m.lat), parseFloat(m.lon)], 13);
  cb.popupFocus(map);
  L.tileLayer(m.tiles, { maxZoom: 19, attribution: m.attribution }).addTo(map);
  var pts = [];
  document.querySelectorAll(".candidates li").forEach(function (li) {
    var ll = [parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)];
    var mine = li.dataset.mine === "true";
    var popup = document.createElement("div");
    var name = document.createElement("strong");
    name.textContent = li.dataset.name;
    popup.appendChild(name);
    var form = li.querySelector("form");
    if (form) {
      var copy = form.cloneNode(true);
      var b = copy.querySelector("button");
      if (b) b.removeAttribute("data-add");
      popup.appendChild(copy);
    }
    var icon = L.divIcon({ className: "pin", html: '<span class="' + (mine ? "b0" : "b2") + '">' + (mine ? "★" : "+") + "</span>", iconSize: null });
    L.marker(ll, { icon: icon, title: li.dataset.name }).bindPopup(popup).addTo(map);
    pts.push(ll);
  });
  // My stations, wherever they are: a star each, linking to the station's page.
  var star = L.divIcon({ className: "pin", html: '<span class="b0">★</span>', iconSize: null });
  document.querySelectorAll(".my-stations li[data-lat]").forEach(function (li) {
    if (document.querySelector('.candidates li[data-id="' + li.dataset.station + '"]')) return;
    var popup = document.createElement("a");
    popup.href = "/stations/" + li.dataset.station;
    popup.textContent = li.dataset.name;
    L.marker([parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)], { icon: star, title: li.dataset.name })
      .bindPopup(popup).addTo(map);
  });
  if (pts.length > 1) map.fitBounds(pts, { padding: [20, 20] });

  var locate = document.querySelector(".locate");
  var status = document.querySelector(".locate-status");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = locate.dataset.locating;
      navigator.geolocation.getCurrentPosition(function (p) {
        location.href = "/me/stations?lat=" + p.coords.latitude.toFixed(5) + "&lon=" + p.coords.longitude.toFixed(5);
      }, function () { status.textContent = locate.dataset.failed; }, { timeout: 10000, maximumAge: 300000 });
    });
  }
})();
