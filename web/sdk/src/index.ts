// @parley/sdk: the TypeScript SDK of Parley.
export * from "./types.js";
