/**
 * What the demo needs from the machine before it starts anything: Node 20 or newer, the npm
 * packages (`npm ci`), and Debian's `orthanc`, `orthanc-dicomweb` and `postgresql`. Missing
 * Debian packages are installed with apt-get when running as root, with a policy-rc.d that
 * keeps their services from starting (as .ci/run does: the demo starts its own servers on
 * loopback); otherwise the exact command is printed and the demo stops.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEBIAN_PACKAGES = ['orthanc', 'orthanc-dicomweb', 'postgresql'] as const;
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/** The files the demo runs, by package, so a half-removed package counts as missing. */
const PACKAGE_FILES: Record<(typeof DEBIAN_PACKAGES)[number], string> = {
  orthanc: '/usr/sbin/Orthanc',
  'orthanc-dicomweb': '/usr/share/orthanc/plugins/libOrthancDicomWeb.so',
  postgresql: '/usr/lib/postgresql/15/bin/postgres',
};

async function installed(name: (typeof DEBIAN_PACKAGES)[number]): Promise<boolean> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Status}', name]);
    return stdout.trim() === 'install ok installed' && existsSync(PACKAGE_FILES[name]);
  } catch {
    return false;
  }
}

export async function missingPackages(): Promise<string[]> {
  const checks = await Promise.all(
    DEBIAN_PACKAGES.map(async (name) => [name, await installed(name)] as const),
  );
  return checks.filter(([, ok]) => !ok).map(([name]) => name);
}

function runVisible(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** apt-get update and install, services kept from starting by a temporary policy-rc.d. */
export async function aptInstall(packages: string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const ownPolicy = !existsSync(POLICY_RC_D);
  if (ownPolicy) await writeFile(POLICY_RC_D, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    await runVisible('apt-get', ['update', '-qq'], env);
    await runVisible(
      'apt-get',
      ['install', '-y', '-qq', '--no-install-recommends', ...packages],
      env,
    );
  } finally {
    if (ownPolicy) await rm(POLICY_RC_D, { force: true });
  }
}

/**
 * Checks (and as root installs) what is missing. Returns the lines to print and whether the
 * demo can go on.
 */
export async function ensurePrerequisites(
  repoRoot: string,
): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) {
    return { ok: false, lines: [`Node.js 20 or newer is needed; this is ${process.version}.`] };
  }
  if (!existsSync(join(repoRoot, 'node_modules', 'onnxruntime-node'))) {
    return { ok: false, lines: ['The npm packages are missing; run `npm ci` first.'] };
  }
  if (!existsSync('/usr/bin/setpriv')) {
    lines.push('Warning: /usr/bin/setpriv (util-linux) is missing; the demo needs it.');
    return { ok: false, lines };
  }

  const missing = await missingPackages();
  if (missing.length === 0) return { ok: true, lines };

  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      lines: [
        `Missing Debian packages: ${missing.join(', ')}. Install them as root, then run the demo again:`,
        '',
        `  sudo apt-get update && sudo ${command}`,
        '',
        'Debian starts Orthanc and PostgreSQL as system services on install; the demo does not',
        'use them (it starts its own on 127.0.0.1). To stop them: sudo systemctl disable --now orthanc postgresql',
      ],
    };
  }
  process.stdout.write(
    `Installing Debian packages (services kept stopped): ${missing.join(' ')}\n`,
  );
  await aptInstall(missing);
  const still = await missingPackages();
  if (still.length > 0) {
    return { ok: false, lines: [`apt-get did not install: ${still.join(', ')}`] };
  }
  lines.push(`Installed ${missing.join(', ')}.`);
  return { ok: true, lines };
}
