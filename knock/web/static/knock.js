/* Knock's pages, with JavaScript: the Matrix ID's syntax is checked as it is typed (in the
   browser only: nothing is sent to Knock until the form is), and a status page follows its
   knock by asking Knock for its state every few seconds. Both pages work without it. */
(function () {
  "use strict";

  // What a person typed that cannot be a Matrix ID; Knock repairs smaller slips itself.
  function idProblem(value) {
    var text = value.trim();
    if (text === "") return "";
    if (/\s/.test(text)) return "A Matrix ID has no spaces, like @name:matrix.org.";
    if (text.indexOf(":") < 0) return "Add your server after a colon, like @name:matrix.org.";
    var parts = text.replace(/^@/, "").split(":");
    if (parts[0] === "") return "Add your name before the colon, like @name:matrix.org.";
    var server = parts.slice(1).join(":");
    if (!/^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/.test(server)) {
      return "The server after the colon looks wrong, like matrix.org or example.com.";
    }
    if (text.length > 255) return "That is too long for a Matrix ID.";
    return "";
  }

  function checkAsTyped(form) {
    var field = form.querySelector("#matrix_id");
    var shown = form.querySelector("#matrix_id-problem");
    if (!field || !shown) return;
    var check = function () {
      var problem = idProblem(field.value);
      shown.textContent = problem;
      if (problem) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    };
    field.addEventListener("change", check);
    field.addEventListener("input", function () {
      // Only clear a problem while typing; a new one is said when the person moves on.
      if (!idProblem(field.value)) check();
    });
    // The form is still sent: Knock repairs some slips (a missing server, say) itself.
    form.addEventListener("submit", check);
  }

  function follow(state) {
    if (state.getAttribute("data-final") === "true" || !window.fetch) return;
    var shown = state.getAttribute("data-state");
    var delay = 3000;
    var started = Date.now();
    var look = function () {
      fetch(window.location.href, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (body) {
          if (body && body.state && body.state !== shown) {
            window.location.reload();
            return;
          }
          // Slower after a few minutes: most knocks are settled quickly or wait for a person.
          if (Date.now() - started > 300000) delay = 15000;
          window.setTimeout(look, delay);
        })
        .catch(function () { window.setTimeout(look, 15000); });
    };
    window.setTimeout(look, delay);
  }

  var needsScript = document.getElementById("knock-needs-script");
  if (needsScript) needsScript.parentNode.removeChild(needsScript);

  var form = document.getElementById("knock-form");
  if (form) checkAsTyped(form);
  var state = document.getElementById("knock-state");
  if (state) follow(state);
})();
