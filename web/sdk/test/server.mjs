// server.mjs starts a real Parley node for the SDK's tests: it builds the
// parley binary (once per source tree; `go build` is a no-op when nothing
// changed) or uses PARLEY_TEST_BIN, runs `parley serve` on a free loopback
// port with a temporary data directory (SQLite and embedded NATS), and waits
// for /readyz.
import { spawn, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { memoryStorage, saveSession } from "../dist/index.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const running = new Set();

process.on("exit", () => {
  for (const p of running) {
    try {
      p.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

let built = null;

/** binary returns the path of a parley binary built from this source tree. */
export function binary() {
  if (process.env.PARLEY_TEST_BIN) return process.env.PARLEY_TEST_BIN;
  if (built) return built;
  const key = createHash("sha256").update(repo).digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `parley-sdk-test-${key}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "parley");
  execFileSync("go", ["build", "-o", out, "./cmd/parley"], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  built = out;
  return out;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * startServer runs a node. env adds PARLEY_* settings (e.g.
 * {PARLEY_AUTH_ACCESS_TTL: "10s"}). Returns {url, stop(), restart(), signUp(name)}.
 */
export async function startServer({ env = {} } = {}) {
  const bin = binary();
  const dataDir = mkdtempSync(join(tmpdir(), "parley-sdk-data-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc = null;
  let log = "";

  // The server refuses unknown PARLEY_* variables: pass only the test's own.
  const childEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PARLEY_")) childEnv[k] = v;
  // The media UDP port is picked by the kernel, so test servers (and a
  // developer's own node) never collide on the default 7882.
  Object.assign(childEnv, { PARLEY_AUTH_SIGNIN_PER_IP: "100000", PARLEY_LOG_LEVEL: "warn", PARLEY_MEDIA_UDP_ADDR: "127.0.0.1:0" }, env);

  async function start() {
    log = "";
    proc = spawn(bin, ["serve", "--http-addr", `127.0.0.1:${port}`, "--data-dir", dataDir], {
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(proc);
    const p = proc;
    p.stdout.on("data", (d) => (log += d));
    p.stderr.on("data", (d) => (log += d));
    let exited = false;
    p.on("exit", () => {
      exited = true;
      running.delete(p);
    });
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`parley serve exited early:\n${log}`);
      try {
        const r = await fetch(`${url}/readyz`);
        if (r.ok) return;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    p.kill("SIGKILL");
    throw new Error(`parley serve not ready within 60s:\n${log}`);
  }

  async function halt(signal = "SIGTERM") {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    const t = setTimeout(() => p.kill("SIGKILL"), 15000);
    await done;
    clearTimeout(t);
  }

  await start();

  let n = 0;
  return {
    url,
    /** The server's output so far (for failure messages). */
    get log() {
      return log;
    },
    /** stop ends the node and removes its data. */
    async stop() {
      await halt();
      rmSync(dataDir, { recursive: true, force: true });
    },
    /** restart stops the node (SIGTERM, or SIGKILL with {kill: true}) and
     * starts it again on the same port and data directory. downMs keeps it
     * down for a while before starting again; whileDown runs (and is
     * awaited) while the node is down, so a test can act offline without
     * racing the clients' reconnect. */
    async restart({ kill = false, downMs = 0, whileDown = null } = {}) {
      await halt(kill ? "SIGKILL" : "SIGTERM");
      if (downMs) await sleep(downMs);
      if (whileDown) await whileDown();
      await start();
    },
    /** signUp makes an account; options are ParleyClient options signed in as it. */
    async signUp(name = "user") {
      const tag = `${name}${++n}${randomBytes(3).toString("hex")}`.toLowerCase().replace(/[^a-z0-9_.-]/g, "");
      const email = `${tag}@example.com`;
      const password = "correct horse battery";
      const r = await fetch(`${url}/v1/auth/signup`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email, password, handle: tag, display_name: name }),
      });
      const body = await r.json();
      if (r.status !== 201) throw new Error(`signup ${r.status}: ${JSON.stringify(body)}`);
      const session = {
        user: body.user,
        access_token: body.access_token,
        refresh_token: body.refresh_token,
        expires_at: body.expires_at,
      };
      const storage = memoryStorage();
      saveSession(storage, session);
      return { session, email, password, handle: tag, user: body.user, options: { baseUrl: url, WebSocket, storage } };
    },
  };
}
