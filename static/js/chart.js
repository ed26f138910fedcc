// Charts of the price history (station page, trends page): the server draws them as SVG and
// gives their figures as JSON (`<script type="application/json" id=…>` named by the chart's
// data-chart); this redraws them with uPlot (values under the pointer, resizing).
(function () {
  "use strict";
  if (!window.uPlot) return;
  var lang = document.body.dataset.lang || "fr";
  var css = getComputedStyle(document.documentElement);
  var accent = css.getPropertyValue("--accent").trim() || "#0b6e4f";
  var fg = css.getPropertyValue("--fg").trim() || "#222";
  var grid = css.getPropertyValue("--line").trim() || "#ddd";

  // Dates in the page's language: the axis, the legend and the value under the cursor.
  var names = lang === "fr" ? {
    MMMM: ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    MMM: ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    WWWW: ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
    WWW: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."]
  } : null;
  var dayFmt = uPlot.fmtDate("{D} {MMM} {YYYY}", names || undefined);
  function day(ts) { return ts == null ? "—" : dayFmt(new Date(ts * 1000)); }

  function fmt(v) {
    if (v == null) return "—";
    var s = v.toFixed(3);
    return lang === "fr" ? s.replace(".", ",") + " €" : "€" + s;
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (el) {
    var src = document.getElementById(el.dataset.chart);
    var data;
    try { data = JSON.parse(src.textContent); } catch (e) { data = null; }
    // Nothing to draw: the server's SVG (or its message) stays.
    if (!data || !data.x || !data.x.length) { el.dataset.points = "0"; return; }
    var series = [{ label: data.x_label || "Date", value: function (u, v) { return day(v); } }], cols = [data.x];
    data.series.forEach(function (s) {
      var o = { label: s.label, spanGaps: true, value: function (u, v) { return fmt(v); } };
      if (s.kind === "station") { o.stroke = accent; o.width = 2; }
      else if (s.kind === "faint") { o.stroke = fg; o.width = 1; o.alpha = 0.5; o.dash = [4, 4]; }
      else { o.stroke = "transparent"; o.width = 0; o.points = { show: false }; }
      series.push(o);
      cols.push(s.values);
    });
    var opts = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      scales: {
        x: { time: true },
        // Around the prices, not from zero: a few cents must show.
        y: { range: function (u, min, max) { var pad = Math.max(0.01, (max - min) * 0.15); return [min - pad, max + pad]; } }
      },
      axes: [
        { stroke: fg, grid: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid }, size: 64, values: function (u, vals) { return vals.map(fmt); } }
      ],
      series: series,
      // Day before month (the site's French and British English), 24-hour times.
      fmtDate: function (tpl) {
        tpl = tpl.replace("{M}/{D}", "{D}/{M}").replace("{h}:{mm}{aa}", "{HH}:{mm}").replace("{h}{aa}", "{HH}h");
        return uPlot.fmtDate(tpl, names || undefined);
      },
      legend: { show: true }
    };
    if (data.band) opts.bands = [{ series: [data.band[1] + 1, data.band[0] + 1], fill: accent + "33" }];
    el.textContent = "";
    var plot = new uPlot(opts, cols, el);
    el.dataset.points = String(data.x.length);
    var t = null;
    window.addEventListener("resize", function () {
      clearTimeout(t);
      t = setTimeout(function () { plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }); }, 150);
    });
  });

  // The fuel choice of the station chart applies at once (the button stays for keyboards).
  var fuel = document.getElementById("chart-fuel");
  if (fuel && fuel.form) fuel.addEventListener("change", function () { fuel.form.submit(); });
})();
