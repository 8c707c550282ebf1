/**
 * Optional entry point for `npm run demo` on a fresh clone: `node scripts/demo/launch.mjs`.
 * scripts/demo.ts needs tsx and the other npm packages, so it cannot install them itself;
 * this plain-Node script runs `npm ci` first when they are missing (on CPU only, so the CUDA
 * download of onnxruntime-node is skipped unless asked for), then runs the demo with the same
 * arguments and exits with its status.
 *
 * Ctrl-C in a terminal reaches the demo directly (same process group); a signal sent to this
 * process alone is passed on.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Passed on to the child, whose exit this process waits for. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function run(command, args, env) {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env });
    const pass = (signal) => child.kill(signal);
    for (const signal of SIGNALS) process.on(signal, pass);
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      for (const signal of SIGNALS) process.removeListener(signal, pass);
      done(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGHUP' ? 129 : 143));
    });
  });
}

const installed = ['tsx', 'onnxruntime-node', 'sharp', '@medplum/fhir-router'].every((name) =>
  existsSync(join(root, 'node_modules', name, 'package.json')),
);
if (!installed) {
  process.stdout.write('The npm packages are missing: running `npm ci` first.\n');
  const env = { ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip', ...process.env };
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const code = await run(npm, ['ci', '--no-audit', '--no-fund'], env);
  if (code !== 0) {
    process.stderr.write(`npm ci failed (exit ${code}); the demo cannot start.\n`);
    process.exit(1);
  }
}

const demo = join(root, 'scripts', 'demo.ts');
process.exitCode = await run(
  process.execPath,
  ['--import', 'tsx', demo, ...process.argv.slice(2)],
  process.env,
);
