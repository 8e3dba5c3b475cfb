// Team calls: starting a call (#/calls, or #/calls/<conversation> from a
// channel), the incoming ring wherever the user is, and the call itself
// (#/call/<id>). The call outlives its screen: it ends with "Leave".
import type { App } from "../app.js";
import { Calls, type Ring } from "../../../sdk/src/calls.js";
import { h } from "../ui/dom.js";
import { renderStart, renderCall, current, joinCall, onCurrentChange } from "./call.js";
import { nameEl } from "./people.js";
import "./calls.css";

/** install adds the calls screens to the app. */
export function install(app: App): void {
  const calls = new Calls(app.conn);
  app.route(/^#\/calls\/?$/, (main) => renderStart(app, calls, main));
  app.route(/^#\/calls\/([a-z]+:[A-Za-z0-9_-]+)$/, (main, m) => renderStart(app, calls, main, m[1]));
  app.route(/^#\/call\/([A-Za-z0-9_-]+)$/, (main, m) => renderCall(app, calls, main, `call:${m[1]}`));

  const side = app.sidebarSection("calls", "Calls", 30);
  const inCall = h("a", { class: "cl-side-link cl-in-call", hidden: true }, "");
  side.append(h("a", { href: "#/calls", class: "cl-side-link" }, "📞 Start a call"), inCall);
  const offChange = onCurrentChange(() => {
    const c = current();
    inCall.hidden = !c;
    if (c) {
      inCall.href = `#/call/${c.call.slice(5)}`;
      inCall.textContent = "🔊 In a call · return";
    }
  });

  // The ring: a dialog wherever the user is, until answered or stopped.
  const rings = new Map<string, HTMLElement>();
  const stopRing = (call: string) => {
    rings.get(call)?.remove();
    rings.delete(call);
  };
  const offRing = calls.onRing((r: Ring) => {
    if (rings.has(r.call) || current()?.call === r.call) return;
    const id = `cl-ring-${r.call.slice(5)}`;
    const accept = h("button", {
      type: "button", class: "cl-accept", onclick: () => {
        stopRing(r.call);
        app.navigate(`#/call/${r.call.slice(5)}`);
        void joinCall(app, calls, r.call);
      },
    }, "📞 Accept");
    const decline = h("button", {
      type: "button", class: "cl-decline", onclick: () => {
        stopRing(r.call);
        calls.decline(r.call).catch((e) => app.toast(`Decline: ${e?.message ?? e}`, "error"));
      },
    }, "Decline");
    const box = h("div", { class: "cl-ring", role: "alertdialog", "aria-labelledby": id, "aria-modal": "false" },
      h("span", { class: "cl-ring-icon", "aria-hidden": "true" }, "📞"),
      h("p", { id }, r.by ? nameEl(app.conn, r.by) : "Someone", " is calling you",
        (r.members?.length ?? 0) > 2 ? ` (with ${r.members!.length - 2} more)` : ""),
      h("div", { class: "cl-ring-actions" }, accept, decline));
    rings.set(r.call, box);
    document.body.appendChild(box);
    accept.focus();
  });
  const offEnded = calls.onRingEnded((r) => stopRing(r.call));
  app.onSignOut(() => {
    offRing();
    offEnded();
    offChange();
    for (const c of [...rings.keys()]) stopRing(c);
    void current()?.audio?.leave();
  });
}
