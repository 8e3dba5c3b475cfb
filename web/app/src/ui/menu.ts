// Keyboard for a <details> menu (a <summary> button and a role="menu" list
// of role="menuitem" buttons): opening it focuses the first item, Up and
// Down (Home, End) move between items, Escape closes it and returns the
// focus to the summary.

/** menuKeys wires the keyboard of the details menu; it returns details. */
export function menuKeys(details: HTMLDetailsElement): HTMLDetailsElement {
  const items = () => [...details.querySelectorAll<HTMLElement>("[role=menuitem]")];
  const summary = () => details.querySelector("summary");
  summary()?.setAttribute("aria-haspopup", "menu");
  details.addEventListener("toggle", () => {
    summary()?.setAttribute("aria-expanded", String(details.open));
    if (details.open && details.matches(":focus-within")) items()[0]?.focus();
  });
  details.addEventListener("keydown", (e) => {
    if (!details.open) return;
    const all = items();
    const at = all.indexOf(document.activeElement as HTMLElement);
    let next = -1;
    if (e.key === "ArrowDown") next = (at + 1) % all.length;
    else if (e.key === "ArrowUp") next = at <= 0 ? all.length - 1 : at - 1;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = all.length - 1;
    else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      details.open = false;
      summary()?.focus();
      return;
    }
    if (next < 0 || !all.length) return;
    e.preventDefault();
    all[next].focus();
  });
  return details;
}
