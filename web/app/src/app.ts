// App is what the app's feature modules (chat/, rooms/, calls/) get from the
// shell (main.ts). Each module exports install(app) and adds its routes and
// sidebar section; modules never import each other.
import type { Conn, User } from "../../sdk/src/types.js";
import type { ParleyClient } from "../../sdk/src/client.js";

/** Render draws a screen into main for a matched route; it may return a
 * cleanup function, called when the route changes. */
export type Render = (main: HTMLElement, match: RegExpMatchArray) => (() => void) | void;

export interface App {
  /** The signed-in connection (reconnects by itself). */
  readonly conn: Conn;
  readonly user: User;
  /** route shows render for location hashes matching pattern ("#/..."). */
  route(pattern: RegExp, render: Render): void;
  /** navigate goes to a hash route, e.g. "#/rooms". */
  navigate(hash: string): void;
  /** sidebarSection returns the element of a sidebar section that the
   * module fills (created once; order sorts sections). */
  sidebarSection(id: string, title: string, order: number): HTMLElement;
  /** toast shows a short message (errors in red), announced to screen readers. */
  toast(message: string, kind?: "info" | "error"): void;
  /** onSignOut registers cleanup run when the user signs out. */
  onSignOut(cb: () => void): void;
  /** The same connection as conn, with the client's extras (state,
   * pending count, setActive, session). */
  readonly client: ParleyClient;
}
