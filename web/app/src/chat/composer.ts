// The composer: Enter sends, Shift+Enter breaks the line, Up in an empty
// box edits one's last message, "@" completes members (a listbox driven by
// the keyboard), files upload from a button or by dropping them.
import { h } from "../ui/dom.js";
import type { AutocompleteUser, Upload } from "../../../sdk/src/chat.js";
import type { ChatState } from "./state.js";
import { fmtSize } from "./messages.js";
import { icon } from "./icons.js";

let seq = 0;

export interface ComposerOpts {
  st: ChatState;
  channel: string;
  thread?: string;
  label: string;
  send(text: string, attachments: Upload[]): void;
  editLast(): void;
}

interface Pending {
  file: File;
  el: HTMLElement;
  done: Promise<Upload | null>;
  upload?: Upload;
  removed?: boolean;
}

export class Composer {
  readonly form: HTMLFormElement;
  readonly input: HTMLTextAreaElement;
  private list: HTMLUListElement;
  private files: HTMLElement;
  private fileInput: HTMLInputElement;
  private pending: Pending[] = [];
  private options: AutocompleteUser[] = [];
  private active = -1;
  private acSeq = 0;
  private acTimer = 0;
  private lastTyping = 0;
  private previews: string[] = [];
  private id = `cmp${++seq}`;

  constructor(private o: ComposerOpts) {
    this.list = h("ul", { id: `${this.id}-ac`, class: "autocomplete", role: "listbox", "aria-label": "People to mention", hidden: true });
    this.input = h("textarea", { rows: 1, placeholder: o.label, "aria-label": o.label, role: "combobox",
      "aria-autocomplete": "list", "aria-controls": this.list.id, "aria-expanded": "false", autocomplete: "off" });
    this.files = h("div", { class: "uploads", "aria-live": "polite" });
    this.fileInput = h("input", { type: "file", multiple: true, hidden: true, tabindex: "-1", "aria-hidden": "true",
      onchange: () => {
        for (const f of this.fileInput.files ?? []) this.addFile(f);
        this.fileInput.value = "";
      } });
    this.form = h("form", { class: "composer", onsubmit: (e: Event) => {
      e.preventDefault();
      void this.submit();
    } },
      this.files,
      h("div", { class: "composer-row" },
        h("button", { type: "button", class: "icon-btn", "aria-label": "Attach files", title: "Attach files", onclick: () => this.fileInput.click() }, icon("attach")),
        this.fileInput, this.input,
        h("button", { type: "submit", class: "icon-btn send", "aria-label": "Send", title: "Send (Enter)" }, "➤")),
      this.list);
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.input.addEventListener("input", () => this.onInput());
    this.input.addEventListener("blur", () => setTimeout(() => this.closeList(), 150));
  }

  focus(): void {
    this.input.focus();
  }

  dispose(): void {
    this.previews.forEach((u) => URL.revokeObjectURL(u));
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.list.hidden && this.options.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = this.options.length;
        this.setActive((this.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        this.pick(this.active < 0 ? 0 : this.active);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        this.closeList();
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void this.submit();
    } else if (e.key === "ArrowUp" && this.input.value === "" && !this.pending.length) {
      e.preventDefault();
      this.o.editLast();
    }
  }

  private onInput(): void {
    this.autosize();
    const now = Date.now();
    if (this.input.value.trim() && now - this.lastTyping > 3000) {
      this.lastTyping = now;
      this.o.st.chat.typing(this.o.channel, this.o.thread).catch(() => {});
    }
    const before = this.input.value.slice(0, this.input.selectionStart ?? this.input.value.length);
    const m = /(?:^|\s)@([\p{L}\p{N}_.-]{0,30})$/u.exec(before);
    clearTimeout(this.acTimer);
    if (!m) {
      this.closeList();
      return;
    }
    const q = m[1];
    const my = ++this.acSeq;
    this.acTimer = window.setTimeout(async () => {
      try {
        const users = await this.o.st.chat.autocomplete(this.o.st.workspace, q, { channel: this.o.channel, limit: 8 });
        if (my !== this.acSeq) return;
        this.showList(users);
      } catch {
        this.closeList();
      }
    }, 80);
  }

  private showList(users: AutocompleteUser[]): void {
    this.options = users;
    this.list.replaceChildren(...users.map((u, i) => {
      this.o.st.profiles.set(u.user, u.profile);
      return h("li", { id: `${this.id}-o${i}`, role: "option", "aria-selected": "false", class: "ac-option",
        onmousedown: (e: Event) => {
          e.preventDefault();
          this.pick(i);
        } },
        h("span", { class: "name" }, u.profile.display_name || u.profile.handle), " ",
        h("span", { class: "muted" }, `@${u.profile.handle}`), u.in_channel === false ? h("span", { class: "muted" }, " (not in channel)") : null);
    }));
    const open = users.length > 0;
    this.list.hidden = !open;
    this.input.setAttribute("aria-expanded", String(open));
    this.setActive(open ? 0 : -1);
  }

  private setActive(i: number): void {
    this.active = i;
    this.list.querySelectorAll("li").forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
    if (i >= 0) {
      this.input.setAttribute("aria-activedescendant", `${this.id}-o${i}`);
      this.list.children[i]?.scrollIntoView({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  }

  private closeList(): void {
    this.list.hidden = true;
    this.options = [];
    this.active = -1;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  private pick(i: number): void {
    const u = this.options[i];
    if (!u) return;
    const caret = this.input.selectionStart ?? this.input.value.length;
    const before = this.input.value.slice(0, caret).replace(/@[\p{L}\p{N}_.-]*$/u, `@${u.profile.handle} `);
    this.input.value = before + this.input.value.slice(caret);
    this.input.setSelectionRange(before.length, before.length);
    this.closeList();
    this.input.focus();
  }

  /** addFile uploads a file at once and shows its progress. */
  addFile(file: File): void {
    const abort = new AbortController();
    const bar = h("progress", { "aria-label": `Uploading ${file.name}`, max: 100, value: 0 });
    const remove = h("button", { type: "button", class: "icon-btn", "aria-label": `Remove ${file.name}`, onclick: () => {
      p.removed = true;
      abort.abort();
      p.el.remove();
      this.pending = this.pending.filter((x) => x !== p);
    } }, "✕");
    let thumb: HTMLElement | null = null;
    if (file.type.startsWith("image/")) {
      const url = URL.createObjectURL(file);
      this.previews.push(url);
      thumb = h("img", { src: url, alt: "", class: "thumb" });
    }
    const status = h("span", { class: "muted pct" }, "0%");
    const el = h("div", { class: "upload-chip", dataset: { progress: "0" } }, thumb, h("span", { class: "name" }, file.name), " ", bar, status, remove);
    const p: Pending = { file, el, done: Promise.resolve(null) };
    const progress = (loaded: number, total: number) => {
      const pct = total > 0 ? Math.min(100, Math.floor((loaded / total) * 100)) : 100;
      bar.value = pct;
      status.textContent = `${pct}%`;
      el.dataset.progress = String(pct);
    };
    p.done = this.o.st.chat.upload(this.o.channel, file, file.name, { onProgress: progress, signal: abort.signal }).then((u) => {
      p.upload = u;
      progress(1, 1);
      bar.remove();
      status.textContent = fmtSize(u.size);
      status.classList.remove("pct");
      el.classList.add("done");
      return u;
    }, (err: any) => {
      bar.remove();
      status.textContent = "failed";
      el.classList.add("failed");
      if (!p.removed) this.o.st.app.toast(`Could not upload ${file.name}: ${err?.message ?? err}`, "error");
      return null;
    });
    this.pending.push(p);
    this.files.append(el);
  }

  private async submit(): Promise<void> {
    const text = this.input.value;
    const files = this.pending;
    if (!text.trim() && !files.length) return;
    this.input.value = "";
    this.autosize();
    this.pending = [];
    this.files.replaceChildren();
    this.closeList();
    this.lastTyping = 0;
    const ups = (await Promise.all(files.filter((p) => !p.removed).map((p) => p.done))).filter((u): u is Upload => !!u);
    if (!text.trim() && !ups.length) return;
    this.o.send(text, ups);
  }
}
