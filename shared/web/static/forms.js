// unbundled: progressive enhancement for the sign-up form of one magnet,
// served as GET /forms/<magnet>.js next to the form GET /forms/<magnet>
// serves. Without it the form posts and the browser follows the redirect to
// the thank-you page; with it:
//
//   - on page load the form is fetched again (data-unbundled-src), so its
//     time-trap stamp is fresh, and, while the visitor has not typed
//     anything, a form whose consent wording changed since it was pasted is
//     replaced by the current one;
//   - a sign-up is posted with fetch, as JSON, to the form's own action;
//     the thank-you message (and, for a ticked box on a double opt-in
//     magnet, the confirm step) is shown in place of the form, and field
//     errors next to their fields;
//   - if fetch is missing or the request cannot be made (a network error,
//     a page origin the magnet does not allow), the form is posted as usual.
//
// It sets no cookies, stores nothing, loads nothing else and talks to no
// one but the unbundled API the form names. No framework.
(function () {
  "use strict";

  var magnet = "__MAGNET__";
  var selector = 'form.unbundled-form[data-unbundled-magnet="' + magnet + '"]';
  // A stamp this close to its expiry is dropped rather than sent: an
  // expired stamp makes the sign-up look like a bot's and it is not kept.
  var expiryMargin = 10 * 60 * 1000;

  function enhanceAll() {
    var forms = document.querySelectorAll(selector);
    for (var i = 0; i < forms.length; i++) {
      enhance(forms[i], true);
    }
  }

  function enhance(form, refresh) {
    if (form.getAttribute("data-unbundled-ready")) {
      return;
    }
    form.setAttribute("data-unbundled-ready", "yes");
    form.addEventListener("submit", submit);
    form.addEventListener("input", function () {
      form.setAttribute("data-unbundled-touched", "yes");
    });
    if (refresh && window.fetch && window.DOMParser) {
      refreshForm(form);
    }
  }

  function field(form, name) {
    var f = form.elements.namedItem(name);
    if (f && !f.tagName && f.length) {
      f = f[0]; // radio buttons or repeated boxes: the first
    }
    return f;
  }

  // refreshForm fetches the form again: a fresh stamp, and the current
  // wording if it changed and the visitor has not started.
  function refreshForm(form) {
    var src = form.getAttribute("data-unbundled-src");
    if (!src) {
      return;
    }
    fetch(src, { credentials: "omit", cache: "no-store" }).then(function (res) {
      return res.ok ? res.text() : "";
    }).then(function (text) {
      if (!text) {
        return;
      }
      var fresh = new DOMParser().parseFromString(text, "text/html").querySelector(selector);
      if (!fresh || !form.parentNode) {
        return;
      }
      var oldVersion = field(form, "consent_version");
      var newVersion = field(fresh, "consent_version");
      var changed = oldVersion && newVersion && oldVersion.value !== newVersion.value;
      if (changed && !form.getAttribute("data-unbundled-touched")) {
        var node = document.importNode(fresh, true);
        form.parentNode.replaceChild(node, form);
        node.setAttribute("data-unbundled-fresh", "yes");
        enhance(node, false);
        return;
      }
      var stamp = field(form, "form_stamp");
      var freshStamp = field(fresh, "form_stamp");
      if (stamp && freshStamp) {
        stamp.value = freshStamp.value;
        form.setAttribute("data-unbundled-expires", fresh.getAttribute("data-unbundled-expires") || "");
        form.setAttribute("data-unbundled-fresh", "yes");
      }
    }).catch(function () {
      // Keep the form as pasted.
    });
  }

  // dropStaleStamp removes a pasted stamp that has expired (or is about
  // to), which would otherwise make the sign-up be silently dropped.
  function dropStaleStamp(form) {
    var stamp = field(form, "form_stamp");
    var expires = Date.parse(form.getAttribute("data-unbundled-expires") || "");
    if (stamp && !isNaN(expires) && Date.now() > expires - expiryMargin) {
      stamp.parentNode.removeChild(stamp);
    }
  }

  // body is the sign-up as POST /signup takes it in JSON: every field of
  // the form once, the extra boxes ticked as "purposes".
  function body(form) {
    var out = {};
    var purposes = [];
    new FormData(form).forEach(function (value, name) {
      if (typeof value !== "string") {
        return;
      }
      if (name === "purpose") {
        purposes.push(value);
      } else {
        out[name] = value;
      }
    });
    if (purposes.length) {
      out.purposes = purposes;
    }
    return out;
  }

  function submit(event) {
    var form = event.currentTarget;
    if (!window.fetch || !window.FormData || !window.JSON) {
      return; // the browser posts the form
    }
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") {
      return;
    }
    clearErrors(form);
    dropStaleStamp(form);
    var signup = body(form);
    busy(form, true);
    fetch(form.action, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(signup)
    }).then(function (res) {
      return res.json().catch(function () {
        return {};
      }).then(function (answer) {
        busy(form, false);
        if (res.status === 202) {
          thank(form, signup);
        } else if (answer.errors) {
          showErrors(form, answer.errors);
        } else {
          status(form, answer.error || "Something went wrong. Please try again in a moment.");
        }
      });
    }, function () {
      // No answer we may read: post the form the plain way instead.
      busy(form, false);
      form.removeEventListener("submit", submit);
      HTMLFormElement.prototype.submit.call(form);
    });
  }

  function busy(form, on) {
    form.setAttribute("aria-busy", on ? "true" : "false");
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = on;
    }
  }

  function paragraph(parent, text, className) {
    var p = document.createElement("p");
    p.textContent = text;
    if (className) {
      p.className = className;
    }
    parent.appendChild(p);
    return p;
  }

  function status(form, text) {
    var region = form.querySelector(".unbundled-status");
    if (!region) {
      region = document.createElement("div");
      region.className = "unbundled-status";
      region.setAttribute("role", "status");
      form.appendChild(region);
    }
    region.textContent = "";
    if (text) {
      paragraph(region, text, "unbundled-error");
    }
  }

  function clearErrors(form) {
    status(form, "");
    var shown = form.querySelectorAll(".unbundled-field-error");
    for (var i = 0; i < shown.length; i++) {
      shown[i].parentNode.removeChild(shown[i]);
    }
    var marked = form.querySelectorAll("[aria-invalid]");
    for (var j = 0; j < marked.length; j++) {
      var input = marked[j];
      input.removeAttribute("aria-invalid");
      var before = input.getAttribute("data-unbundled-describedby");
      if (before) {
        input.setAttribute("aria-describedby", before);
      } else {
        input.removeAttribute("aria-describedby");
      }
      input.removeAttribute("data-unbundled-describedby");
    }
  }

  // showErrors puts each message of a 400 answer next to its field; a
  // message for a field the visitor cannot see goes to the status line.
  function showErrors(form, errors) {
    var first = null;
    var general = [];
    Object.keys(errors).forEach(function (name) {
      var input = field(form, name === "purposes" ? "purpose" : name);
      if (!input || input.type === "hidden" || input.name === "website") {
        general.push(errors[name]);
        return;
      }
      var id = "unbundled-error-" + input.name + "-" + magnet;
      var message = document.createElement("p");
      message.id = id;
      message.className = "unbundled-error unbundled-field-error";
      message.textContent = errors[name];
      var after = input.type === "checkbox" || input.type === "radio" ? input.closest("label, div") || input : input;
      after.parentNode.insertBefore(message, after.nextSibling);
      input.setAttribute("aria-invalid", "true");
      var before = input.getAttribute("aria-describedby");
      if (before) {
        input.setAttribute("data-unbundled-describedby", before);
      }
      input.setAttribute("aria-describedby", (before ? before + " " : "") + id);
      first = first || input;
    });
    status(form, general.length ? general.join(" ") : "Please check the details marked below.");
    if (first) {
      first.focus();
    }
  }

  // thank shows, in place of the form, what a visitor sees on the
  // thank-you page, plus the confirm step if a box was ticked on a magnet
  // with double opt-in.
  function thank(form, signup) {
    var box = document.createElement("div");
    box.className = "unbundled-thanks";
    box.setAttribute("role", "status");
    box.setAttribute("tabindex", "-1");
    paragraph(box, "Check your inbox: we are sending the download to the address you gave us. It should arrive within a few minutes. If it does not, check your spam folder.");
    var ticked = signup.marketing_consent !== undefined || signup.purposes !== undefined;
    if (ticked && form.getAttribute("data-unbundled-confirm") === "yes") {
      paragraph(box, "One more step for our emails: press the confirm link in that email. Until you do, we will not send you any. (If you confirmed before, there is nothing more to do.)");
    }
    var notice = form.querySelector(".unbundled-notice");
    if (notice) {
      box.appendChild(notice.cloneNode(true));
    }
    form.parentNode.replaceChild(box, form);
    box.focus();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhanceAll);
  } else {
    enhanceAll();
  }
})();
