// Icons of the calls screens: the app's set (ui/icons.ts).
export { icon } from "../ui/icons.js";
