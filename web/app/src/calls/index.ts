import type { App } from "../app.js";

/** install adds the calls screens to the app. */
export function install(_app: App): void {}
