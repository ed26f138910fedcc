// Progressive enhancements shared by every page: geolocation, place suggestions, forms that
// submit on change. Every form works without this file.
(function () {
  "use strict";

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
})();
