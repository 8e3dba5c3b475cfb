// @parley/sdk: the TypeScript SDK of Parley.
export * from "./types.js";
export * from "./chat.js";
