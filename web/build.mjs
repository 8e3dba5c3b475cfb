// build.mjs bundles Parley's web parts with esbuild:
//   sdk/src/index.ts  -> sdk/dist/index.js (ESM, for Node 20 and bundlers)
//   app/src/main.ts   -> ../internal/webapp/dist/ (app.js, app.css, index.html),
//                        embedded in the parley binary and committed, so that
//                        `go run ./cmd/parley serve` works on a fresh clone.
// Flags: --sdk-only builds only the SDK; --check rebuilds the app into a
// temporary folder and fails if the committed bundle differs (a stale bundle).
import * as esbuild from "esbuild";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const committed = join(here, "..", "internal", "webapp", "dist");

async function buildSDK() {
  await esbuild.build({
    entryPoints: [join(here, "sdk", "src", "index.ts")],
    outfile: join(here, "sdk", "dist", "index.js"),
    bundle: true, format: "esm", platform: "neutral", target: "es2022",
    sourcemap: false, logLevel: "warning",
  });
}

async function buildApp(out) {
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: { app: join(here, "app", "src", "main.ts") },
    outdir: out,
    bundle: true, format: "esm", platform: "browser", target: ["chrome110", "firefox115", "safari16"],
    minify: true, sourcemap: false, legalComments: "none", charset: "utf8", logLevel: "warning",
  });
  copyFileSync(join(here, "app", "index.html"), join(out, "index.html"));
  // Static files (icons) are copied as they are.
  const pub = join(here, "app", "public");
  for (const f of safeList(pub)) copyFileSync(join(pub, f), join(out, f));
}

function safeList(dir) {
  try { return readdirSync(dir); } catch { return []; }
}

if (args.has("--check")) {
  const tmp = mkdtempSync(join(tmpdir(), "parley-web-"));
  try {
    await buildApp(tmp);
    const want = safeList(tmp).sort();
    const have = safeList(committed).filter((f) => f !== ".gitkeep").sort();
    const stale = [];
    if (want.join() !== have.join()) stale.push(`files ${have.join(",")} != ${want.join(",")}`);
    for (const f of want) {
      let a = null;
      try { a = readFileSync(join(committed, f)); } catch {}
      if (!a || !a.equals(readFileSync(join(tmp, f)))) stale.push(f);
    }
    if (stale.length) {
      console.error(`internal/webapp/dist is stale (${stale.join("; ")}): run \`cd web && npm run build\` and commit the result.`);
      process.exit(1);
    }
    console.log("internal/webapp/dist matches the sources");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  await buildSDK();
  if (!args.has("--sdk-only")) {
    rmSync(committed, { recursive: true, force: true });
    await buildApp(committed);
    writeFileSync(join(committed, ".gitkeep"), "");
  }
}
