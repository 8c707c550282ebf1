/**
 * `npm test`'s check of the machine (run as `pretest`): the Debian packages the tests use.
 * When some are missing it installs them as root (apt-get, their services kept from starting:
 * the tests start their own servers on loopback), and otherwise prints the exact command and
 * stops, so `npm test` on a fresh Debian 12 machine either works or says what to do.
 *
 * | packages | used by |
 * |----------|---------|
 * | python3-torch, python3-torchvision, python3-onnx, python3-pil, python3-numpy | the training smoke test and the PyTorch parity tests |
 * | dcmtk, libgdcm-tools, dicom3tools | the independent DICOM decoders and validators |
 * | fonts-dejavu-core | the text burned into overlays |
 * | orthanc, orthanc-dicomweb, postgresql | the PACS and database the integration tests start |
 * | chromium | OHIF and the operator console in the end-to-end tests |
 * | docker-compose | the check that docker/compose.yml parses (client only) |
 * | time | peak memory in the benchmarks' tests |
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { aptInstall } from './demo/prerequisites.js';

const run = promisify(execFile);

export const TEST_PACKAGES = [
  'python3-torch',
  'python3-torchvision',
  'python3-onnx',
  'python3-pil',
  'python3-numpy',
  'dcmtk',
  'libgdcm-tools',
  'dicom3tools',
  'time',
  'fonts-dejavu-core',
  'orthanc',
  'orthanc-dicomweb',
  'postgresql',
  'chromium',
  'docker-compose',
] as const;

/** The packages of `TEST_PACKAGES` that dpkg does not list as installed. */
async function missing(): Promise<string[]> {
  let listing: string;
  try {
    listing = (await run('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...TEST_PACKAGES]))
      .stdout;
  } catch (error) {
    // dpkg-query exits 1 when a package is unknown; its stdout still lists the known ones.
    const stdout = (error as { stdout?: unknown }).stdout;
    if (typeof stdout !== 'string') throw error;
    listing = stdout;
  }
  const ok = new Set(
    listing
      .split('\n')
      .filter((line) => line.endsWith('install ok installed'))
      .map((line) => line.split(' ')[0]),
  );
  return TEST_PACKAGES.filter((name) => !ok.has(name));
}

const absent = await missing();
if (absent.length > 0) {
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      [
        `The tests need Debian packages that are missing: ${absent.join(', ')}. Install them, then run npm test again:`,
        '',
        `  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${absent.join(' ')}`,
        '',
      ].join('\n'),
    );
    process.exit(1);
  }
  process.stdout.write(`Installing Debian packages for the tests: ${absent.join(' ')}\n`);
  await aptInstall(absent);
  const still = await missing();
  if (still.length > 0) {
    process.stderr.write(`apt-get did not install: ${still.join(', ')}\n`);
    process.exit(1);
  }
}
