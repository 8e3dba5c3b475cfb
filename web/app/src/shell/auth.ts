// The sign-in and sign-up screens. Both forms submit with Enter. Sign-up
// checks each field against the server's rules as the user leaves it (and
// again on submit), shows the password rules as they are met, and puts the
// server's own error next to the field it names ("handle is already taken").
import type { ParleyClient } from "../../../sdk/src/client.js";
import { ParleyError } from "../../../sdk/src/types.js";
import { clear, h } from "../ui/dom.js";

export type AuthMode = "signin" | "signup";

/** The server's rules (internal/auth/validate.go, auth.min_password_length). */
export const MIN_PASSWORD = 8;
const MAX_PASSWORD_BYTES = 1024;
const HANDLE_RE = /^[a-z0-9_.-]{2,32}$/;

interface Field {
  input: HTMLInputElement;
  wrap: HTMLElement;
  error: HTMLElement;
  /** check answers the field's problem, or "" when it is fine. */
  check: () => string;
  touched: boolean;
}

function makeField(label: string, input: HTMLInputElement, check: () => string, hint?: HTMLElement | string): Field {
  const id = "f-" + (input.name || label.toLowerCase().replace(/\W+/g, "-"));
  input.id = id;
  const hintEl = hint === undefined ? null : typeof hint === "string" ? h("small", { class: "hint" }, hint) : hint;
  if (hintEl) hintEl.id = id + "-hint";
  const error = h("p", { class: "field-error", id: id + "-error", "aria-live": "polite" });
  error.hidden = true;
  input.setAttribute("aria-describedby", [hintEl?.id, error.id].filter(Boolean).join(" "));
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl, error);
  return { input, wrap, error, check, touched: false };
}

function showError(f: Field, msg: string): void {
  f.error.textContent = msg;
  f.error.hidden = !msg;
  if (msg) f.input.setAttribute("aria-invalid", "true");
  else f.input.removeAttribute("aria-invalid");
}

/** fieldOf names the sign-up field a server message is about. */
function fieldOf(message: string): "email" | "handle" | "display_name" | "password" | null {
  const m = message.toLowerCase();
  if (m.startsWith("email")) return "email";
  if (m.startsWith("handle")) return "handle";
  if (m.startsWith("display name")) return "display_name";
  if (m.startsWith("password")) return "password";
  return null;
}

/** renderAuth draws the sign-in or sign-up form into root; done runs after
 * a successful sign-in. */
export function renderAuth(root: HTMLElement, client: ParleyClient, mode: AuthMode, done: () => void): void {
  clear(root);
  const signup = mode === "signup";
  const error = h("p", { class: "form-error", role: "alert" });
  error.hidden = true;
  const submit = h("button", { type: "submit", class: "btn primary block" }, signup ? "Create account" : "Sign in");
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true, maxlength: 254 });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: signup ? "new-password" : "current-password",
    required: true,
  });
  const display = h("input", { type: "text", name: "display_name", autocomplete: "name", required: true, maxlength: 64 });
  const handle = h("input", {
    type: "text",
    name: "handle",
    autocomplete: "username",
    required: true,
    maxlength: 32,
    autocapitalize: "none",
    spellcheck: "false",
  });

  // ---- the password rules, ticked as they are met ----
  const rule = (text: string) => h("li", { class: "rule" }, h("span", { class: "tick", "aria-hidden": "true" }), h("span", null, text));
  const ruleLength = rule(`At least ${MIN_PASSWORD} characters`);
  const ruleSpaces = h("li", { class: "rule-note" }, "Spaces and any characters are fine: a few words make a strong password.");
  const rules = h("ul", { class: "rules" }, ruleLength, ruleSpaces);
  const syncRules = () => {
    const ok = [...password.value].length >= MIN_PASSWORD;
    ruleLength.classList.toggle("met", ok);
    ruleLength.setAttribute("aria-label", `At least ${MIN_PASSWORD} characters: ${ok ? "met" : "not met yet"}`);
  };

  const fields: Record<string, Field> = {};
  const required = (f: HTMLInputElement, what: string) => (f.value.trim() === "" ? `Enter ${what}.` : "");
  fields.email = makeField("Email", email, () => required(email, "your email") || (email.validity.typeMismatch ? "Enter an email address like ann@example.com." : ""));
  if (signup) {
    fields.display_name = makeField("Display name", display, () => required(display, "your name") || ([...display.value.trim()].length > 64 ? "Use at most 64 characters." : ""), "How others see you");
    fields.handle = makeField(
      "Handle",
      handle,
      () => {
        const v = handle.value.trim().toLowerCase();
        if (!v) return "Choose a handle.";
        if (v.length < 2 || v.length > 32) return "A handle has 2 to 32 characters.";
        if (!HANDLE_RE.test(v)) return "Use only letters, digits and _ . -";
        return "";
      },
      "2–32 letters, digits, _ . - (people mention you with @handle)",
    );
    fields.password = makeField(
      "Password",
      password,
      () => {
        if ([...password.value].length < MIN_PASSWORD) return `Use at least ${MIN_PASSWORD} characters.`;
        if (new TextEncoder().encode(password.value).length > MAX_PASSWORD_BYTES) return `Use at most ${MAX_PASSWORD_BYTES} bytes.`;
        return "";
      },
      rules,
    );
    password.addEventListener("input", syncRules);
    syncRules();
  } else {
    fields.password = makeField("Password", password, () => required(password, "your password"));
  }

  // Inline validation: a field is checked when the user leaves it, and
  // re-checked on every input after that (so an error goes away as soon as
  // it is fixed).
  for (const f of Object.values(fields)) {
    f.input.addEventListener("blur", () => {
      if (f.input.value === "" && !f.touched) return; // tabbing through is not an error
      f.touched = true;
      showError(f, f.check());
    });
    f.input.addEventListener("input", () => {
      if (f.touched || !f.error.hidden) showError(f, f.check());
    });
  }

  const onSubmit = async (ev: Event) => {
    ev.preventDefault();
    error.hidden = true;
    const order = signup ? ["display_name", "handle", "email", "password"] : ["email", "password"];
    let first: Field | null = null;
    for (const k of order) {
      const f = fields[k];
      f.touched = true;
      const msg = f.check();
      showError(f, msg);
      if (msg && !first) first = f;
    }
    if (first) {
      first.input.focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      if (!signup) {
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
      submit.disabled = false;
      form.removeAttribute("aria-busy");
      const msg = e instanceof ParleyError ? e.message : "Something went wrong. Try again.";
      const at = signup && e instanceof ParleyError ? fieldOf(msg) : null;
      if (at && fields[at]) {
        // The server's message, next to the field it is about.
        showError(fields[at], msg.charAt(0).toUpperCase() + msg.slice(1) + ".");
        fields[at].input.focus();
        return;
      }
      error.textContent = msg;
      error.hidden = false;
      (signup ? email : password).focus();
    }
  };

  const title = signup ? "Create your Parley account" : "Sign in to Parley";
  const form = h(
    "form",
    { class: "auth-form", "aria-labelledby": "auth-title", onsubmit: onSubmit, novalidate: true },
    signup ? [fields.display_name.wrap, fields.handle.wrap] : null,
    fields.email.wrap,
    fields.password.wrap,
    error,
    submit,
  );
  const other = signup ? "signin" : "signup";
  const switcher = h(
    "p",
    { class: "auth-switch" },
    signup ? "Already have an account? " : "New to Parley? ",
    h("button", { type: "button", class: "link", onclick: () => renderAuth(root, client, other, done) }, signup ? "Sign in" : "Create an account"),
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
  (signup ? display : email).focus();
}
