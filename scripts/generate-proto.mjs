#!/usr/bin/env node
// Generates TypeScript from proto/*.proto into packages/protocol/src/generated/
// using `buf generate` (buf.yaml + buf.gen.yaml at the repo root) and the
// locally installed protoc-gen-es plugin. Works offline: no remote plugins or
// BSR dependencies are used.
//
//   node scripts/generate-proto.mjs           regenerate in place
//   node scripts/generate-proto.mjs --check   generate into a temp dir and fail
//                                             if it differs from what is committed
//
// No dependencies beyond Node built-ins.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Must match the plugin `out:` in buf.gen.yaml.
const OUT_REL = path.join("packages", "protocol", "src", "generated");
const OUT_DIR = path.join(ROOT, OUT_REL);

class GenerateError extends Error {}

function fail(message) {
  throw new GenerateError(message);
}

/**
 * buf ships its binary in per-platform optional packages, and the registry this project installs from
 * carries only some platforms, so a lock file naming buf cannot pass `npm ci` everywhere. buf is
 * therefore not a dev dependency: it is fetched by version from the npm registry through npx (cached
 * after the first run), unless a copy is already installed under node_modules.
 */
const BUF_VERSION = "1.75.0";

function bufCommand() {
  const exe = process.platform === "win32" ? "buf.exe" : "buf";
  const native = path.join(ROOT, "node_modules", "@bufbuild", `buf-${process.platform}-${process.arch}`, "bin", exe);
  if (existsSync(native)) return { cmd: native, prefix: [] };
  const npx = process.platform === "win32" ? "npx.cmd" : "npx";
  return { cmd: npx, prefix: ["--yes", `@bufbuild/buf@${BUF_VERSION}`] };
}

function runBuf(extraArgs) {
  const { cmd, prefix } = bufCommand();
  const res = spawnSync(cmd, [...prefix, "generate", ...extraArgs], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (res.error) fail(`could not run buf: ${res.error.message}`);
  if (res.status !== 0) {
    fail(`buf generate failed (exit ${res.status}):\n${(res.stderr || "") + (res.stdout || "")}`.trimEnd());
  }
}

/** Relative paths of all files under dir (sorted, '/'-separated); empty if dir is missing. */
function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath ?? d.path, d.name)).split(path.sep).join("/"))
    .sort();
}

function main(args) {
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length > 0) fail(`unknown argument(s): ${unknown.join(" ")}\nusage: node scripts/generate-proto.mjs [--check]`);
  const started = Date.now();
  const outLabel = OUT_REL.split(path.sep).join("/");

  if (!args.includes("--check")) {
    runBuf([]);
    console.log(`generate-proto: wrote ${listFiles(OUT_DIR).length} files to ${outLabel} in ${Date.now() - started} ms`);
    return;
  }

  const tmp = mkdtempSync(path.join(tmpdir(), "nereid-proto-check-"));
  try {
    runBuf(["--output", tmp]);
    const fresh = path.join(tmp, OUT_REL);
    const want = listFiles(fresh);
    const have = listFiles(OUT_DIR);
    const haveSet = new Set(have);
    const wantSet = new Set(want);
    const drift = [];
    for (const f of want) {
      if (!haveSet.has(f)) drift.push(`  missing:  ${f}`);
      else if (!readFileSync(path.join(fresh, f)).equals(readFileSync(path.join(OUT_DIR, f)))) drift.push(`  changed:  ${f}`);
    }
    for (const f of have) if (!wantSet.has(f)) drift.push(`  stale:    ${f}`);
    if (drift.length > 0) {
      fail(
        `generated code in ${outLabel} is out of date with proto/ (${drift.length} file(s)):\n` +
          `${drift.join("\n")}\nRun \`npm run generate\` and commit the result.`,
      );
    }
    console.log(`generate-proto: ${want.length} generated files in ${outLabel} are up to date (${Date.now() - started} ms)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof GenerateError)) throw err;
  process.stderr.write(`generate-proto: ${err.message}\n`);
  process.exitCode = 1;
}
