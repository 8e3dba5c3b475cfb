// @parley/sdk: the TypeScript SDK of Parley.
export * from "./types.js";
export * from "./client.js";
export * from "./auth.js";
export * from "./backoff.js";
export * from "./queue.js";
export * from "./rooms.js";
export * from "./calls.js";
export * from "./audio.js";
export * from "./chat.js";
