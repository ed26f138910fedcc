// /stations/{id}: the small map and the price history chart (uPlot), read from the JSON API.
(function () {
  "use strict";
  var lang = document.body.dataset.lang || "fr";

  var mapEl = document.getElementById("station-map");
  if (mapEl && window.L) {
    var d = mapEl.dataset, ll = [parseFloat(d.lat), parseFloat(d.lon)];
    var map = L.map(mapEl, Object.assign({ scrollWheelZoom: false }, window.carburoam.motion)).setView(ll, 15);
    L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution }).addTo(map);
    L.marker(ll, { icon: L.divIcon({ className: "pin here", html: "<span>⛽</span>", iconSize: null }) }).addTo(map);
  }

  var chartEl = document.getElementById("chart");
  if (!chartEl || !window.uPlot) return;
  var station = chartEl.dataset.station;
  var behind = parseInt(chartEl.dataset.behindDays || "0", 10);
  var fuelSel = document.getElementById("chart-fuel");
  var summary = document.getElementById("chart-summary");
  var buttons = Array.prototype.slice.call(document.querySelectorAll(".seg button"));
  var days = 30, plot = null;
  var css = getComputedStyle(document.documentElement);
  var accent = css.getPropertyValue("--accent").trim() || "#0b6e4f";
  var fg = css.getPropertyValue("--fg").trim() || "#222";
  var grid = css.getPropertyValue("--line").trim() || "#ddd";

  function fmtPrice(v) {
    if (v == null) return "—";
    var s = v.toFixed(3);
    return lang === "fr" ? s.replace(".", ",") + " €" : "€" + s;
  }

  function draw() {
    var fuel = fuelSel ? fuelSel.value : "";
    var url = "/api/v1/stations/" + station + "/history?fuel=" + encodeURIComponent(fuel) + "&days=" + (days + behind + 1);
    fetch(url).then(function (r) { return r.ok ? r.json() : { points: [] }; }).then(function (data) {
      var end = Math.floor(Date.now() / 1000) - behind * 86400;
      var start = end - days * 86400;
      var xs = [], ys = [];
      (data.points || []).forEach(function (p) {
        var t = Math.floor(Date.parse(p.at) / 1000);
        xs.push(Math.max(t, start));
        ys.push(p.price);
      });
      if (ys.length) { xs.push(Math.max(end, xs[xs.length - 1])); ys.push(ys[ys.length - 1]); }
      if (plot) { plot.destroy(); plot = null; }
      chartEl.textContent = "";
      var opts = {
        width: Math.max(280, chartEl.clientWidth),
        height: 220,
        scales: {
          x: { time: true, range: [start, end] },
          // Around the prices, not from zero: a few cents must show.
          y: { range: function (u, min, max) { var pad = Math.max(0.02, (max - min) * 0.25); return [min - pad, max + pad]; } }
        },
        axes: [
          { stroke: fg, grid: { stroke: grid } },
          { stroke: fg, grid: { stroke: grid }, size: 64, values: function (u, vals) { return vals.map(fmtPrice); } }
        ],
        series: [
          {},
          { label: fuel, stroke: accent, width: 2, value: function (u, v) { return fmtPrice(v); }, paths: uPlot.paths.stepped({ align: 1 }) }
        ],
        legend: { show: true }
      };
      plot = new uPlot(opts, [xs, ys], chartEl);
      chartEl.dataset.points = String(data.points ? data.points.length : 0);
      // The chart's text equivalent (announced politely when the period or fuel changes).
      if (summary) {
        summary.textContent = ys.length ? summary.dataset.template.replace("{days}", days)
          .replace("{min}", fmtPrice(Math.min.apply(null, ys))).replace("{max}", fmtPrice(Math.max.apply(null, ys)))
          .replace("{last}", fmtPrice(ys[ys.length - 1])) : "";
      }
    }).catch(function () {});
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      days = parseInt(b.dataset.days, 10);
      buttons.forEach(function (o) { o.setAttribute("aria-pressed", o === b ? "true" : "false"); });
      draw();
    });
  });
  if (fuelSel) fuelSel.addEventListener("change", draw);
  var t = null;
  window.addEventListener("resize", function () {
    clearTimeout(t);
    t = setTimeout(function () { if (plot) plot.setSize({ width: Math.max(280, chartEl.clientWidth), height: 220 }); }, 150);
  });
  draw();
})();
