/**
 * Debian's Chromium, headless, driven by playwright-core, for the end-to-end tests: a fresh
 * profile per launch (removed on close), service workers off, and every request that is not
 * for 127.0.0.1 aborted and recorded, so a test never reaches beyond this machine and can say
 * what the page tried. Console errors and uncaught page errors are collected for the log.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_BINARY = '/usr/bin/chromium';

const LAUNCH_TIMEOUT_MS = 60_000;

/**
 * Without the background-networking switches Chromium keeps trying to reach Google's
 * services (updates, sync, field trials), which fails noisily on a closed network.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  page: Page;
  /** Requests the page made to anything but 127.0.0.1, all aborted. */
  blocked: string[];
  /** Console errors and uncaught exceptions of the page, in order. */
  errors: string[];
  close(): Promise<void>;
}

/** Launches Chromium with one page of `width` x `height` CSS pixels. */
export async function launchChromium(width = 1600, height = 900): Promise<Browser> {
  if (!existsSync(CHROMIUM_BINARY)) {
    throw new Error(`${CHROMIUM_BINARY} is missing: apt-get install -y chromium`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'jointspace-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_BINARY,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width, height },
      serviceWorkers: 'block',
      timeout: LAUNCH_TIMEOUT_MS,
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }

  const blocked: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') {
      await route.continue();
      return;
    }
    blocked.push(url.href);
    await route.abort('blockedbyclient');
  });

  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));

  return {
    page,
    blocked,
    errors,
    close: async () => {
      try {
        await context.close();
      } finally {
        await rm(profile, { recursive: true, force: true });
      }
    },
  };
}
