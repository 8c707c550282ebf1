/**
 * `node scripts/fetch-ohif.mjs`: puts the prebuilt OHIF viewer (the `dist/` folder of the npm
 * package `@ohif/app`) into `.cache/ohif/<version>/dist` and prints that folder's path.
 *
 * The end-to-end test test/e2e/ohif-sr.test.ts serves it against a test Orthanc. The package
 * cannot be installed as a dependency (its own dependencies, @ohif/core and friends, are not
 * all on the registry we use), so only its tarball is fetched, with `npm pack`, and unpacked
 * with the system's `tar`. Nothing happens when the folder is already there.
 *
 * Plain Node, no dependencies. Exit status 0 with the path on stdout; 1 with the reason on
 * stderr.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The one place the viewer's version is pinned. */
export const OHIF_VERSION = '3.12.10';

const PACKAGE = '@ohif/app';
const PACK_TIMEOUT_MS = 300_000;
const TAR_TIMEOUT_MS = 120_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `.cache/ohif/<version>/dist` under the repository root. */
export function ohifDistDirectory(version = OHIF_VERSION) {
  return join(root, '.cache', 'ohif', version, 'dist');
}

/**
 * Makes sure the viewer of `version` is unpacked and returns its `dist` folder.
 * A partial download never becomes the cache: the tarball is unpacked in a scratch folder
 * beside the target and moved into place only when `index.html` is there.
 */
export async function fetchOhif(version = OHIF_VERSION) {
  const target = ohifDistDirectory(version);
  if (existsSync(join(target, 'index.html'))) return target;

  const versionDir = dirname(target);
  await mkdir(versionDir, { recursive: true });
  const scratch = await mkdtemp(join(versionDir, '.fetch-'));
  try {
    const tarball = await pack(`${PACKAGE}@${version}`, scratch);
    await run('tar', ['-xzf', tarball, '-C', scratch], { timeout: TAR_TIMEOUT_MS });
    const unpacked = join(scratch, 'package', 'dist');
    if (!existsSync(join(unpacked, 'index.html'))) {
      throw new Error(`${PACKAGE}@${version} has no dist/index.html`);
    }
    await moveIntoPlace(unpacked, target);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return target;
}

/** `npm pack` fetches the tarball alone, without installing (or resolving) dependencies. */
async function pack(spec, destination) {
  await run('npm', ['pack', spec, '--pack-destination', destination, '--silent'], {
    timeout: PACK_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  const tarballs = (await readdir(destination)).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) {
    throw new Error(`npm pack ${spec} left ${tarballs.length} tarballs, expected 1`);
  }
  return join(destination, tarballs[0]);
}

/** Another process may have finished first; its copy is as good as ours. */
async function moveIntoPlace(from, to) {
  try {
    await rename(from, to);
  } catch (error) {
    if (!existsSync(join(to, 'index.html'))) throw error;
  }
}

function isMain() {
  const script = process.argv[1];
  return script !== undefined && import.meta.url === pathToFileURL(resolve(script)).href;
}

if (isMain()) {
  try {
    process.stdout.write(`${await fetchOhif()}\n`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`fetch-ohif: could not fetch ${PACKAGE}@${OHIF_VERSION}: ${reason}\n`);
    process.exitCode = 1;
  }
}
