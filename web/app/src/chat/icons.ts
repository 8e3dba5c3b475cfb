// Icons of the chat screens: the app's set (ui/icons.ts), with the class
// that chat.css sizes them by.
import { icon as uiIcon } from "../ui/icons.js";

export function icon(name: string): SVGSVGElement {
  return uiIcon(name, 18, "icon");
}
