// Icons of the rooms screens: the app's set (ui/icons.ts).
export { icon } from "../ui/icons.js";
