// @parley/sdk: the TypeScript SDK of Parley.
export * from "./types.js";
export * from "./rooms.js";
export * from "./calls.js";
export * from "./audio.js";
