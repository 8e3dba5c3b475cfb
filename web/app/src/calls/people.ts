// People in the calls screens: the shared directory (ui/people.ts) with this
// module's classes.
import type { Conn } from "../../../sdk/src/types.js";
import * as people from "../ui/people.js";

export { person, initials, hue, labelFor } from "../ui/people.js";

/** nameEl is a span showing the user's display name once known. */
export const nameEl = (conn: Conn, id: string, cls = "cl-name"): HTMLSpanElement => people.nameEl(conn, id, cls);

/** avatarEl is a round badge with the user's initials, in the user's color. */
export const avatarEl = (conn: Conn, id: string, cls = "cl-avatar"): HTMLSpanElement => people.avatarEl(conn, id, cls);
