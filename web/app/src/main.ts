// The Parley web app: the shell (sign in, layout, routes) and the feature
// modules. See app.ts for the contract between them.
import "./styles.css";
import * as chat from "./chat/index.js";
import * as rooms from "./rooms/index.js";
import * as calls from "./calls/index.js";

export const modules = [chat, rooms, calls];

const root = document.getElementById("app");
if (root) root.textContent = "Parley";
