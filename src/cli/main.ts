#!/usr/bin/env node
/**
 * The `verigate` command (bin of the gateway package: `npx verigate …`).
 * A pure client of the admin HTTP API, configured by VERIGATE_ADMIN_URL and
 * VERIGATE_ADMIN_TOKEN; see `verigate --help`.
 */
import { runCli } from './run';

runCli(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`verigate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
