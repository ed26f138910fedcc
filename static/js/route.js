// /trajet (/route): enhancements of a page that works without scripts.
// - The route line and the stations of the corridor on a map (the list and the best stop are in
//   the page already).
// - "My position" buttons fill from/to with the device's position ("lat,lon", which the server
//   takes as a place), and a tap on the map sets the start, then the end.
// - Without a GPX file the form is sent as a GET (a page to share), the way the server would
//   redirect it anyway.
(function () {
  "use strict";
  var form = document.querySelector("form.route-form");
  if (!form) return;
  var fd = form.dataset;
  var fromInput = document.getElementById("from");
  var toInput = document.getElementById("to");
  var fileInput = document.getElementById("gpx");

  function fmt(lat, lon) {
    return lat.toFixed(5) + "," + lon.toFixed(5);
  }

  // --- the form: GET when there is no file ---------------------------------------------------
  form.addEventListener("submit", function () {
    if (fileInput && (!fileInput.files || fileInput.files.length === 0)) {
      fileInput.disabled = true;
      form.method = "get";
      form.removeAttribute("enctype");
      var csrf = form.querySelector("input[name=csrf]");
      if (csrf) csrf.disabled = true;
      // Back from the next page: the form works again.
      window.addEventListener("pageshow", function () { fileInput.disabled = false; }, { once: true });
    }
  });

  // --- "My position": a button over the end of the field (no layout shift) -----------------
  var status = null;
  function say(text) {
    if (!status) {
      status = document.createElement("p");
      status.className = "hint";
      status.setAttribute("role", "status");
      form.parentNode.insertBefore(status, form.nextSibling);
    }
    status.textContent = text;
  }
  if ("geolocation" in navigator) {
    [fromInput, toInput].forEach(function (input) {
      if (!input) return;
      var b = document.createElement("button");
      b.type = "button";
      b.className = "locate";
      b.textContent = fd.myPosition;
      b.setAttribute("aria-controls", input.id);
      b.dataset.testid = "locate-" + input.id;
      b.addEventListener("click", function () {
        if (status) status.textContent = "";
        navigator.geolocation.getCurrentPosition(function (pos) {
          input.value = fmt(pos.coords.latitude, pos.coords.longitude);
          input.dispatchEvent(new Event("change", { bubbles: true }));
        }, function () {
          say(fd.positionFailed);
        }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
      });
      input.parentNode.classList.add("has-locate");
      input.parentNode.appendChild(b);
    });
  }

  if (!window.L) return;
  var motion = (window.carburoam || {}).motion;

  // --- a tap on the map sets the start, then the end -----------------------------------------
  var picked = { from: null, to: null };
  var next = "from";
  function pickOn(map) {
    // The hint on the map itself (a control: nothing moves).
    var Hint = L.Control.extend({
      onAdd: function () {
        var p = L.DomUtil.create("p", "pick-hint");
        p.textContent = fd.pickHint;
        return p;
      }
    });
    new Hint({ position: "bottomleft" }).addTo(map);
    map.on("click", function (e) {
      var input = next === "from" ? fromInput : toInput;
      var label = next === "from" ? fd.pickFrom : fd.pickTo;
      input.value = fmt(e.latlng.lat, e.latlng.lng);
      if (picked[next]) map.removeLayer(picked[next]);
      picked[next] = L.marker(e.latlng, {
        title: label,
        keyboard: false,
        icon: L.divIcon({ className: "pin pick", html: "<span>" + (next === "from" ? "A" : "B") + "</span>", iconSize: null })
      }).addTo(map);
      next = next === "from" ? "to" : "from";
    });
  }

  var el = document.getElementById("route-map");
  var dataEl = document.getElementById("route-data");
  var data = null;
  if (dataEl) {
    try { data = JSON.parse(dataEl.textContent); } catch (e) { data = null; }
  }
  if (!el || !data || !data.points || data.points.length < 2) {
    // No answer yet: a map of France to pick the ends on (its box is in the page).
    var pick = document.getElementById("pick-map");
    if (!pick) return;
    var pm = L.map(pick, Object.assign({ scrollWheelZoom: false }, motion)).setView([46.6, 2.4], 5);
    L.tileLayer(fd.tiles, { maxZoom: 19, attribution: fd.attribution }).addTo(pm);
    pickOn(pm);
    return;
  }

  // --- the answer: the route and its stations ------------------------------------------------
  var d = el.dataset;
  var map = L.map(el, Object.assign({ scrollWheelZoom: false }, motion));
  L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution }).addTo(map);
  var line = L.polyline(data.points, { color: "#1a73e8", weight: 5, opacity: 0.8, className: "route-line" }).addTo(map);
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
  el.dataset.drawn = "1";
  pickOn(map);
})();
