// The sign-in and sign-up screens. Errors are the server's messages
// (ParleyError.message); both forms submit with Enter.
import type { ParleyClient } from "../../../sdk/src/client.js";
import { ParleyError } from "../../../sdk/src/types.js";
import { clear, h } from "../ui/dom.js";

export type AuthMode = "signin" | "signup";

function field(label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  const id = "f-" + (input.name || label.toLowerCase().replace(/\W+/g, "-"));
  input.id = id;
  const hintEl = hint ? h("small", { class: "hint", id: id + "-hint" }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

/** renderAuth draws the sign-in or sign-up form into root; done runs after
 * a successful sign-in. */
export function renderAuth(root: HTMLElement, client: ParleyClient, mode: AuthMode, done: () => void): void {
  clear(root);
  const error = h("p", { class: "form-error", role: "alert" });
  error.hidden = true;
  const submit = h("button", { type: "submit", class: "btn primary block" }, mode === "signin" ? "Sign in" : "Create account");
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: mode === "signin" ? "current-password" : "new-password",
    required: true,
    minlength: mode === "signup" ? 8 : undefined,
  });
  const display = h("input", { type: "text", name: "display_name", autocomplete: "name", required: true, maxlength: 64 });
  const handle = h("input", {
    type: "text",
    name: "handle",
    autocomplete: "username",
    required: true,
    minlength: 2,
    maxlength: 32,
    pattern: "[a-zA-Z0-9_.\\-]+",
    autocapitalize: "none",
    spellcheck: "false",
  });

  const onSubmit = async (ev: Event) => {
    ev.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      if (mode === "signin") {
        await client.signIn({ email: email.value.trim(), password: password.value });
      } else {
        await client.signUp({
          email: email.value.trim(),
          password: password.value,
          handle: handle.value.trim().toLowerCase(),
          display_name: display.value.trim(),
        });
      }
      done();
    } catch (e) {
      error.textContent = e instanceof ParleyError ? e.message : "Something went wrong. Try again.";
      error.hidden = false;
      submit.disabled = false;
      form.removeAttribute("aria-busy");
      (mode === "signin" ? password : email).focus();
    }
  };

  const title = mode === "signin" ? "Sign in to Parley" : "Create your Parley account";
  const form = h(
    "form",
    { class: "auth-form", "aria-labelledby": "auth-title", onsubmit: onSubmit, novalidate: false },
    mode === "signup" ? [field("Display name", display), field("Handle", handle, "2–32 letters, digits, _ . -")] : null,
    field("Email", email),
    field("Password", password, mode === "signup" ? "At least 8 characters" : undefined),
    error,
    submit,
  );
  const other = mode === "signin" ? "signup" : "signin";
  const switcher = h(
    "p",
    { class: "auth-switch" },
    mode === "signin" ? "New to Parley? " : "Already have an account? ",
    h(
      "button",
      { type: "button", class: "link", onclick: () => renderAuth(root, client, other, done) },
      mode === "signin" ? "Create an account" : "Sign in",
    ),
  );
  root.appendChild(
    h(
      "div",
      { class: "auth" },
      h(
        "section",
        { class: "auth-card" },
        h("div", { class: "brand brand-lg", "aria-hidden": "true" }, h("span", { class: "logo" }, "P"), "Parley"),
        h("h1", { id: "auth-title" }, title),
        form,
        switcher,
      ),
    ),
  );
  (mode === "signup" ? display : email).focus();
}
