/**
 * End to end in the viewer radiologists use: the SR of buildMeasurementReport, stored in a real
 * Orthanc next to the knee DX it grades, opened in OHIF 3.12 (the prebuilt `@ohif/app` served
 * on loopback, DICOMweb proxied to Orthanc) in headless Chromium. OHIF must draw the graded
 * region on the knee image, labelled with the KL grade, over a rendered image.
 *
 * The screenshot is kept as test-artifacts/ohif/sr-on-knee.png, or sr-on-knee-failure.png
 * with the page's console errors in the log when the test fails.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { GRADE_UNIT, KL_GRADE, KL_GRADE_CONFIDENCE, PROBABILITY_UNIT } from '../../src/sr/codes.js';
import type { ImageRegion } from '../../src/sr/dataset.js';
import { SR_SERIES_DESCRIPTION, buildMeasurementReport } from '../../src/sr/measurement-report.js';
import { kneeDx } from '../dicomweb/knee-dx.js';
import { launchChromium, type Browser } from '../helpers/chromium.js';
import { ohifDist, startOhifServer, type OhifServer } from '../helpers/ohif.js';
import { useOrthanc } from '../helpers/orthanc.js';
import { repoRoot } from '../helpers/paths.js';
import { algorithm, fakeHeader, grading, rightImage, when } from '../sr/fixtures.js';

const ARTIFACTS = join(repoRoot, 'test-artifacts', 'ohif');
const SCREENSHOT = join(ARTIFACTS, 'sr-on-knee.png');
const FAILURE_SCREENSHOT = join(ARTIFACTS, 'sr-on-knee-failure.png');
/** Each wait on the viewer; the waits together stay well inside TEST_TIMEOUT_MS. */
const STEP_TIMEOUT_MS = 45_000;
const PROMPT_TIMEOUT_MS = 10_000;
/** How long the label may take to appear before the viewer is made to render again. */
const RENDER_PATIENCE_MS = 5_000;
const TEST_TIMEOUT_MS = 170_000;
const WINDOW = { width: 1600, height: 900 };

/**
 * The left half of the joint on the 224 x 224 picture. Away from the right edge, so that the
 * text box OHIF puts right of the region fits in the viewport.
 */
const REGION: ImageRegion = { x: 20, y: 96, width: 100, height: 72 };

/**
 * OHIF's label lines for NUM items: "<meaning>: <value to 2 decimals> <unit code value>"
 * (DICOMSRDisplayTool); the SR puts the grade first and the confidence second.
 */
const GRADE_LINE = `${KL_GRADE.meaning}: ${grading.klGrade.toFixed(2)} ${GRADE_UNIT.value}`;
const CONFIDENCE_LINE = `${KL_GRADE_CONFIDENCE.meaning}: ${grading.confidence.toFixed(2)} ${PROBABILITY_UNIT.value}`;

const orthanc = useOrthanc(test);
let ohif: OhifServer | undefined;
let browser: Browser | undefined;

test.before(async () => {
  const server = await orthanc();
  const dx = await kneeDx();
  await server.uploadInstance(dx.bytes);
  const sr = buildMeasurementReport({
    header: fakeHeader,
    images: [{ ...rightImage, rows: dx.rows, columns: dx.columns }],
    knees: [{ sopInstanceUid: dx.reference.sopInstanceUid, grading, region: REGION }],
    algorithm,
    contentDateTime: when,
  });
  await server.uploadInstance(sr);

  ohif = await startOhifServer({ dist: await ohifDist(), dicomWebUrl: server.dicomWebUrl });
  browser = await launchChromium(WINDOW.width, WINDOW.height);
});

test.after.always(async () => {
  try {
    await browser?.close();
  } finally {
    await ohif?.close();
  }
});

test('OHIF draws the SR region on the knee image, labelled with the KL grade', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  if (browser === undefined || ohif === undefined) throw new Error('setup did not finish');
  const { page } = browser;

  try {
    await openSrInViewer(t, page, ohif.url);
    const layer = annotationLayer(page);

    const lines = await layer.locator('text tspan').allTextContents();
    t.is(lines[0], GRADE_LINE, `label lines: ${JSON.stringify(lines)}`);
    t.is(lines[1], CONFIDENCE_LINE);

    const points = parsePoints(await layer.locator('polyline').first().getAttribute('points'));
    const canvas = page.locator('canvas.cornerstone-canvas').first();
    const pixels = await canvasPixels(canvas);
    t.true(isRegionRectangle(points, pixels), `polyline ${JSON.stringify(points)}`);

    // A rendered radiograph: mostly lit pixels over many grey levels, not a blank canvas.
    t.true(pixels.lit > 0.3 * pixels.width * pixels.height, JSON.stringify(pixels));
    t.true(pixels.levels >= 32, JSON.stringify(pixels));

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    await rm(FAILURE_SCREENSHOT, { force: true });
    if (browser.blocked.length > 0) t.log(`blocked requests: ${browser.blocked.join(', ')}`);
  } catch (error) {
    await keepFailure(t, page, browser, ohif);
    throw error;
  }
});

/**
 * Opens the study, then the SR: OHIF hangs the image series by default and shows the SR as a
 * thumbnail without image, which a double click puts into the viewport. OHIF then asks whether
 * to track the region as a measurement (it takes the closed 5-point POLYLINE for its rectangle
 * tool); the answer "No" keeps the SR's own display, the one with our labels.
 */
async function openSrInViewer(t: ExecutionContext, page: Page, origin: string) {
  const study = encodeURIComponent(fakeHeader.StudyInstanceUID);
  await page.goto(`${origin}/viewer?StudyInstanceUIDs=${study}`, { timeout: STEP_TIMEOUT_MS });

  const thumbnail = page.locator('[data-cy="study-browser-thumbnail-no-image"]', {
    hasText: SR_SERIES_DESCRIPTION,
  });
  await thumbnail.dblclick({ timeout: STEP_TIMEOUT_MS });
  await waitForLabel(t, page);

  const declineTracking = page.getByRole('button', { name: 'No', exact: true });
  const asked = await declineTracking.waitFor({ timeout: PROMPT_TIMEOUT_MS }).then(
    () => true,
    () => false,
  );
  if (asked) {
    await declineTracking.click({ timeout: STEP_TIMEOUT_MS });
    await declineTracking.waitFor({ state: 'hidden', timeout: STEP_TIMEOUT_MS });
  }
  t.log(`OHIF offered to track the region as a measurement: ${asked ? 'yes (declined)' : 'no'}`);
}

/**
 * Waits for the grade label. OHIF 3.12 sometimes renders the SR viewport's image before it has
 * told its SR display tool which measurements to show, and does not render again: the region
 * then appears only at the next render, which any interaction causes (zoom, window level,
 * resizing the window). When the label is late, the window is resized by one pixel, as a user
 * would, until it shows or the step's time is up.
 */
async function waitForLabel(t: ExecutionContext, page: Page) {
  const label = annotationLayer(page).locator('text', { hasText: GRADE_LINE });
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (let nudges = 0; ; nudges++) {
    const patience = Math.min(RENDER_PATIENCE_MS, Math.max(deadline - Date.now(), 1));
    const shown = await label.waitFor({ timeout: patience }).then(
      () => true,
      () => false,
    );
    if (shown) {
      if (nudges > 0) t.log(`the label appeared after ${nudges} re-render(s) by window resize`);
      return;
    }
    if (Date.now() >= deadline) {
      throw new Error(`no label "${GRADE_LINE}" within ${STEP_TIMEOUT_MS} ms`);
    }
    await page.setViewportSize({ width: WINDOW.width - ((nudges + 1) % 2), height: WINDOW.height });
  }
}

/** cornerstone3D's SVG layer over the viewport canvas, the one with a shape drawn in it. */
function annotationLayer(page: Page): Locator {
  return page.locator('svg.svg-layer', { has: page.locator('polyline') });
}

type Point = [number, number];

function parsePoints(attribute: string | null): Point[] {
  const numbers = (attribute ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  const points: Point[] = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) {
    points.push([numbers[i] ?? Number.NaN, numbers[i + 1] ?? Number.NaN]);
  }
  return points;
}

/**
 * The polyline is REGION as drawn: closed, five points, an axis-parallel rectangle with the
 * region's aspect ratio (the image is shown with square pixels), inside the canvas.
 */
function isRegionRectangle(points: Point[], canvas: CanvasPixels): boolean {
  const close = (a: number, b: number) => Math.abs(a - b) < 0.5;
  const [first, , third] = points;
  const last = points.at(-1);
  if (points.length !== 5 || first === undefined || third === undefined || last === undefined) {
    return false;
  }
  if (!close(first[0], last[0]) || !close(first[1], last[1])) return false;

  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const alongEdges = points.every(
    ([x, y]) =>
      [first[0], third[0]].some((edge) => close(x, edge)) &&
      [first[1], third[1]].some((edge) => close(y, edge)),
  );
  const width = Math.max(...xs) - Math.min(...xs);
  const height = Math.max(...ys) - Math.min(...ys);
  const aspect = width / height / (REGION.width / REGION.height);
  const inside =
    Math.min(...xs) >= 0 &&
    Math.max(...xs) <= canvas.width &&
    Math.min(...ys) >= 0 &&
    Math.max(...ys) <= canvas.height;
  return alongEdges && Math.abs(aspect - 1) < 0.02 && width > 50 && inside;
}

interface CanvasPixels {
  width: number;
  height: number;
  /** Pixels that are not black. */
  lit: number;
  /** Distinct grey levels among the lit pixels (red channel). */
  levels: number;
}

/** The parts of a canvas the page function uses (the project compiles without the DOM lib). */
interface CanvasElement {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  } | null;
}

/** Reads the viewport canvas's own pixels, not the screen, so the SVG overlay is left out. */
async function canvasPixels(canvas: Locator): Promise<CanvasPixels> {
  return canvas.evaluate((element: CanvasElement) => {
    const { width, height } = element;
    const data = element.getContext('2d')?.getImageData(0, 0, width, height).data ?? [];
    const levels = new Set<number>();
    let lit = 0;
    for (let i = 0; i + 3 < data.length; i += 4) {
      const red = data[i] ?? 0;
      if (red + (data[i + 1] ?? 0) + (data[i + 2] ?? 0) === 0) continue;
      lit++;
      levels.add(red);
    }
    return { width, height, lit, levels: levels.size };
  });
}

async function keepFailure(
  t: ExecutionContext,
  page: Page,
  browser: Browser,
  server: OhifServer,
): Promise<void> {
  try {
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: FAILURE_SCREENSHOT, timeout: 10_000 });
    t.log(`screenshot: ${FAILURE_SCREENSHOT}`);
  } catch (error) {
    t.log(`no screenshot: ${String(error)}`);
  }
  const labels = await page
    .locator('svg.svg-layer text')
    .allTextContents()
    .catch(() => []);
  t.log(`labels drawn: ${JSON.stringify(labels)}`);
  t.log(`viewer state: ${await viewerState(page)}`);
  t.log(`page errors:\n${browser.errors.join('\n') || '(none)'}`);
  t.log(`blocked requests: ${browser.blocked.join(', ') || '(none)'}`);
  t.log(`server problems: ${server.problems.join(', ') || '(none)'}`);
}

/**
 * What OHIF holds, from the globals its cornerstone extension sets (window.services,
 * window.cornerstoneTools): display sets with their SR measurements, annotations by tool, and
 * the display sets each viewport shows. A string, so that it runs in the page without the DOM
 * types.
 */
async function viewerState(page: Page): Promise<string> {
  const expression = `JSON.stringify({
    displaySets: window.services.displaySetService.getActiveDisplaySets().map((set) => ({
      uid: set.displaySetInstanceUID,
      modality: set.Modality,
      loaded: set.isLoaded,
      rehydratable: set.isRehydratable,
      measurements: (set.measurements || []).map((m) => ({ loaded: m.loaded, imageId: m.imageId })),
    })),
    annotations: window.cornerstoneTools.annotation.state
      .getAllAnnotations()
      .map((a) => a.metadata.toolName),
    viewports: [...window.services.viewportGridService.getState().viewports.values()].map(
      (v) => v.displaySetInstanceUIDs,
    ),
  })`;
  return page
    .evaluate(expression)
    .then(String, (error: unknown) => `unavailable (${String(error)})`);
}
