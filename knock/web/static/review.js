/* The review queue by keyboard: j and k move between the knocks, a approves and d denies the
   one in focus (its note, if typed, goes with it). Never while typing in a field, never with a
   modifier held, and off when the moderator unticks "Use these keys". Without JavaScript the
   buttons do everything. */
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  var hint = document.getElementById("review-keys");
  var toggle = document.getElementById("review-keys-on");
  if (!queue || !hint || !toggle) return;
  var OFF = "knock-review-keys-off";
  var AT = "knock-review-at";
  var store = function (area) { try { return window[area]; } catch (e) { return null; } };
  var local = store("localStorage");
  var session = store("sessionStorage");

  hint.hidden = false;
  toggle.checked = !(local && local.getItem(OFF) === "1");
  toggle.addEventListener("change", function () {
    if (!local) return;
    if (toggle.checked) local.removeItem(OFF); else local.setItem(OFF, "1");
  });

  var knocks = function () { return Array.prototype.slice.call(queue.querySelectorAll("[data-knock]")); };
  var current = function () {
    var active = document.activeElement;
    return active && active.closest ? active.closest("[data-knock]") : null;
  };
  var focus = function (knock) {
    if (!knock) return;
    knock.focus({ preventScroll: true });
    knock.scrollIntoView({ block: "nearest" });
  };
  var typing = function (target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    if (tag !== "input") return false;
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "hidden"].indexOf(type) < 0;
  };

  // After a decision the page comes back: the focus goes where the decided knock stood.
  var at = session && session.getItem(AT);
  if (at !== null && at !== undefined && session) {
    session.removeItem(AT);
    var all = knocks();
    if (all.length) focus(all[Math.min(Number(at) || 0, all.length - 1)]);
  }

  document.addEventListener("keydown", function (event) {
    if (!toggle.checked || event.defaultPrevented) return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typing(event.target)) return;
    var all = knocks();
    var here = current();
    var index = here ? all.indexOf(here) : -1;
    var key = event.key;
    if (key === "j" || key === "k") {
      event.preventDefault();
      if (!all.length) return;
      var next = index < 0 ? 0 : key === "j" ? Math.min(index + 1, all.length - 1) : Math.max(index - 1, 0);
      focus(all[next]);
    } else if ((key === "a" || key === "d") && here) {
      var button = here.querySelector('[data-action="' + (key === "a" ? "approve" : "deny") + '"]');
      if (!button) return;
      event.preventDefault();
      if (session) session.setItem(AT, String(index));
      button.click();
    }
  });
})();
