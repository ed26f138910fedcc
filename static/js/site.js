// Progressive enhancements shared by every page: geolocation, place suggestions, forms that
// submit on change. Every form works without this file.
(function () {
  "use strict";

  // What the map scripts share: whether to animate, and keyboard use of the markers' popups.
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  window.carburoam = {
    /** Leaflet options honouring prefers-reduced-motion. */
    motion: { zoomAnimation: !still, fadeAnimation: !still, markerZoomAnimation: !still },
    still: still,
    /**
     * A popup opened from the keyboard (Enter on a marker) takes the focus, and gives it back to
     * its marker when it closes (Escape or its close button), instead of losing it to the page.
     */
    popupFocus: function (map) {
      var from = null;
      map.on("popupopen", function (e) {
        var src = e.popup._source, icon = src && src.getElement ? src.getElement() : null;
        from = icon && document.activeElement === icon ? icon : null;
        if (!from) return;
        var first = e.popup.getElement().querySelector(".leaflet-popup-content a, .leaflet-popup-content button");
        if (first) first.focus();
      });
      map.on("popupclose", function (e) {
        var back = from;
        from = null;
        var el = e.popup.getElement();
        if (back && document.body.contains(back) && (!document.activeElement || document.activeElement === document.body || (el && el.contains(document.activeElement)))) back.focus();
      });
    }
  };

  // Forms sent back with errors: the summary on top takes the focus (it is also an alert), and
  // its links move the focus to the field they name.
  var summary = document.querySelector('[data-testid="form-errors"]');
  if (summary) {
    summary.setAttribute("tabindex", "-1");
    summary.focus();
    summary.addEventListener("click", function (e) {
      var a = e.target.closest("a[href^='#']");
      var field = a && document.getElementById(a.getAttribute("href").slice(1));
      if (field) { e.preventDefault(); field.focus(); }
    });
  }

  // "Around me": fill lat/lon hidden fields of the button's form and submit it.
  document.querySelectorAll("button.locate").forEach(function (btn) {
    if (!("geolocation" in navigator)) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var form = btn.closest("form");
      var status = form.querySelector(".locate-status");
      if (status) status.textContent = btn.dataset.locating || "";
      navigator.geolocation.getCurrentPosition(function (pos) {
        ["lat", "lon"].forEach(function (name, i) {
          var v = (i === 0 ? pos.coords.latitude : pos.coords.longitude).toFixed(5);
          var input = form.querySelector('input[name="' + name + '"]');
          if (!input) {
            input = document.createElement("input");
            input.type = "hidden";
            input.name = name;
            form.appendChild(input);
          }
          input.value = v;
        });
        var q = form.querySelector('input[name="q"]');
        if (q) q.value = "";
        var ids = form.querySelector('input[name="ids"]');
        if (ids) ids.value = "";
        form.submit();
      }, function () {
        if (status) status.textContent = btn.dataset.failed || "";
      }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 });
    });
  });

  // Suggestions of known places in the search box's <datalist>.
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var timer = null, last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2 || q === last) return;
        last = q;
        fetch(input.dataset.suggest + "?q=" + encodeURIComponent(q))
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            list.textContent = "";
            items.forEach(function (it) {
              var o = document.createElement("option");
              o.value = it.query;
              o.label = it.label;
              list.appendChild(o);
            });
          })
          .catch(function () {});
      }, 150);
    });
  });

  // Selects that apply at once.
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () {
      var f = el.closest("form");
      if (f.requestSubmit) f.requestSubmit(); else f.submit();
    });
  });

  // The new-alert form: only the chosen kind's fields show (without scripts every kind's
  // fields show, each under its own kind). Hidden fields are still sent: the server reads only
  // the chosen kind's.
  document.querySelectorAll("fieldset.kinds").forEach(function (set) {
    var groups = set.querySelectorAll(".kind-group");
    function show() {
      groups.forEach(function (g) {
        var radio = g.querySelector('input[name="kind"]');
        var fields = g.querySelector(".kind-fields");
        if (fields) fields.hidden = !(radio && radio.checked);
      });
    }
    set.addEventListener("change", show);
    show();
  });
})();
