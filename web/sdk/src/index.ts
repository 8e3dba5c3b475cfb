// @parley/sdk: the TypeScript SDK of Parley.
export * from "./types.js";
export * from "./client.js";
export * from "./auth.js";
export * from "./backoff.js";
export * from "./queue.js";
export * from "./chat.js";
