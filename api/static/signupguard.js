// signupguard.js: submits every <form data-signupguard> as JSON and shows
// the outcome in the form's status element (role="status", aria-live), so
// screen readers announce it. Without this script, or in a browser without
// fetch, the form still works as a plain form post.
(function () {
  "use strict";

  var fields = ["email", "list", "name", "website"];

  function show(status, state, text) {
    status.setAttribute("data-state", state);
    status.textContent = text;
  }

  function setup(form) {
    var status = form.querySelector("[data-signupguard-status]");
    if (!status) {
      status = document.createElement("p");
      form.appendChild(status);
    }
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");

    form.addEventListener("submit", function (event) {
      if (!window.fetch) {
        return;
      }
      event.preventDefault();
      var data = {};
      fields.forEach(function (name) {
        var input = form.elements[name];
        if (input) {
          data[name] = input.value;
        }
      });
      var email = form.elements.email;
      var button = form.querySelector("[type=submit]");
      if (button) {
        button.disabled = true;
      }
      show(status, "pending", form.getAttribute("data-pending-message") || "Sending\u2026");
      fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(data),
        credentials: "omit"
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          return { ok: res.ok, body: body };
        });
      }).then(function (answer) {
        if (answer.ok) {
          show(status, "success", form.getAttribute("data-success-message") || "Thank you: you are signed up.");
          if (email) {
            email.removeAttribute("aria-invalid");
          }
          form.reset();
          return;
        }
        var error = answer.body && answer.body.error;
        show(status, "error", (error && error.message) || "Your signup was not accepted. Please try again.");
        if (email && error && /email|domain/.test(error.code)) {
          email.setAttribute("aria-invalid", "true");
          email.focus();
        }
      }, function () {
        show(status, "error", "We could not reach the server. Please try again.");
      }).then(function () {
        if (button) {
          button.disabled = false;
        }
      });
    });
  }

  var forms = document.querySelectorAll("form[data-signupguard]");
  for (var i = 0; i < forms.length; i++) {
    setup(forms[i]);
  }
})();
