/* global window, document, fetch */
/**
 * The operator console of jointspace, in the browser: the worklist, a study's detail (grades,
 * overlays, refusals, errors, job history, care plan, reprocess) and the model page, over the
 * API of the same origin.
 *
 * The API token is asked for once per tab, kept in sessionStorage and sent as a bearer token
 * on every call; a 401 forgets it and asks again. Everything the server sends is put into the
 * page as text (textContent, attributes set one by one), never parsed as HTML: patient names
 * and study descriptions come from the PACS and may hold markup. The model card's Markdown is
 * rendered by a small subset (headings, lists, tables, bold, code) built from DOM nodes.
 *
 * Plain JavaScript with JSDoc types, checked by `src/console/tsconfig.json`; served as is.
 */

const TOKEN_KEY = 'jointspace.apiToken';
const WORKLIST_REFRESH_MS = 10_000;
const DETAIL_REFRESH_MS = 4_000;
const PAGE_SIZE = 50;
const STATUSES = ['received', 'processing', 'graded', 'refused', 'failed'];
const API = new URL('../api/', window.location.href);

/**
 * @typedef {{ available: boolean, reason: string | null }} PacsNote
 * @typedef {{ jobId: string, outcome: string, startedAt: string, finishedAt: string | null,
 *   durationMs: number | null }} LatestJob
 * @typedef {{ studyInstanceUid: string, status: string, receivedAt: string, updatedAt: string,
 *   latestJob: LatestJob | null, jobs: number, kneesGraded: number, refusals: number,
 *   errors: number, patientName: string | null, patientId: string | null }} WorklistStudy
 * @typedef {{ studies: WorklistStudy[], nextCursor: string | null,
 *   patientDetails: PacsNote }} WorklistPage
 * @typedef {{ laterality: string, klGrade: number, probabilities: number[],
 *   confidence: number, model: string, [field: string]: unknown }} Knee
 * @typedef {{ id?: string, title?: string, strength?: string, source?: string,
 *   clinicianExplanation?: string, patientExplanation?: string,
 *   laterality?: string | null, kind?: string, disagreement?: string,
 *   missing?: string[] }} Recommendation
 * @typedef {{ status: string, reason: string | null, attempts: number,
 *   writtenAt: string | null }} CarePlanState
 * @typedef {{ studyInstanceUid: string, status: string, knees: Knee[],
 *   refusals: { sopInstanceUid: string | null, reason: string }[],
 *   errors: { code: string, reason: string }[],
 *   recommendations?: Recommendation[] | null, carePlan?: CarePlanState | null }} Study
 * @typedef {{ jobId: string, kind: string, attempt: number, outcome: string,
 *   errorCode: string | null, errorMessage: string | null, workerId: string,
 *   startedAt: string, finishedAt: string | null, durationMs: number | null }} Job
 * @typedef {{ sopInstanceUid: string, laterality: string | null, firstWrittenAt: string,
 *   lastWrittenAt: string, writes: number }} Overlay
 * @typedef {{ id: string | null, manifest: Record<string, unknown>,
 *   metrics: Record<string, unknown> | null, card: string | null }} ModelInfo
 */

/** The token was missing or refused. */
class AuthError extends Error {}

/** The API answered with an error; `message` is the server's (safe to show). */
class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---------------------------------------------------------------------------------------------
// Page elements and small helpers

/** @param {string} id @returns {HTMLElement} */
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * An element with text content and attributes; children are appended as they are.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {{ text?: string | number | null, className?: string,
 *   attrs?: Record<string, string> }} [options]
 * @param {(Node | null)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, options = {}, ...children) {
  const element = document.createElement(tag);
  if (options.className !== undefined) element.className = options.className;
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    element.setAttribute(name, value);
  }
  if (options.text !== undefined && options.text !== null) {
    element.textContent = String(options.text);
  }
  for (const child of children) if (child !== null) element.append(child);
  return element;
}

/** @param {string | null | undefined} iso */
function formatTime(iso) {
  if (iso === null || iso === undefined) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** @param {number | null | undefined} ms */
function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** @param {number} value */
function percent(value) {
  return `${(value * 100).toFixed(1)} %`;
}

/** @param {string} text @param {'info' | 'error'} [kind] */
function showMessage(text, kind = 'error') {
  const message = byId('message');
  message.textContent = text;
  message.className = `message ${kind}`;
  message.hidden = false;
}

function clearMessage() {
  const message = byId('message');
  message.textContent = '';
  message.hidden = true;
}

// ---------------------------------------------------------------------------------------------
// The API

function token() {
  return window.sessionStorage.getItem(TOKEN_KEY);
}

/**
 * Calls the API with the bearer token; rejects with AuthError on 401 (forgetting the token)
 * and ApiError on any other failure.
 * @param {string} path relative to /api/
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function call(path, init = {}) {
  const current = token();
  if (current === null) throw new AuthError('an API token is needed');
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${current}`);
  const response = await fetch(new URL(path, API), { ...init, headers });
  if (response.ok) return response;
  const reason = await errorReason(response);
  if (response.status === 401) {
    window.sessionStorage.removeItem(TOKEN_KEY);
    throw new AuthError(reason);
  }
  throw new ApiError(response.status, reason);
}

/** @param {Response} response */
async function errorReason(response) {
  try {
    const body = /** @type {{ error?: { message?: unknown } }} */ (await readJson(response));
    const message = body.error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: fall through
  }
  return `HTTP ${response.status}`;
}

/**
 * The JSON body of a response; callers state its type.
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
async function readJson(response) {
  /** @type {unknown} */
  const body = await response.json();
  return body;
}

/**
 * The JSON body of a GET; callers state its type.
 * @param {string} path
 * @returns {Promise<unknown>}
 */
async function getJson(path) {
  return readJson(await call(path));
}

/** Any JSON value as short text. @param {unknown} value */
function asText(value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '—';
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// Views and routing

/** Bumped on every navigation: a view whose generation is stale stops drawing. */
let generation = 0;
/** @type {number | undefined} */
let refreshTimer;

function autoRefresh() {
  return /** @type {HTMLInputElement} */ (byId('auto-refresh')).checked;
}

/**
 * Runs `tick` again every `ms` while auto refresh is on and the view is still shown.
 * @param {number} ms @param {() => Promise<void>} tick
 */
function repeat(ms, tick) {
  const mine = generation;
  window.clearTimeout(refreshTimer);
  const again = () => {
    refreshTimer = window.setTimeout(() => {
      if (mine !== generation) return;
      if (!autoRefresh()) {
        again();
        return;
      }
      tick().then(again, again);
    }, ms);
  };
  again();
}

/** @param {unknown} error */
function report(error) {
  if (error instanceof AuthError) {
    askForToken(`The API token was not accepted (401): ${error.message}`);
    return;
  }
  const text = error instanceof Error ? error.message : String(error);
  showMessage(error instanceof ApiError ? `${text} (HTTP ${error.status})` : text);
}

/** @param {string} [why] */
function askForToken(why) {
  window.clearTimeout(refreshTimer);
  generation++;
  byId('view').replaceChildren();
  byId('sign-in').hidden = false;
  byId('sign-out').hidden = true;
  if (why === undefined) clearMessage();
  else showMessage(why);
  byId('token').focus();
}

function route() {
  generation++;
  window.clearTimeout(refreshTimer);
  if (token() === null) {
    askForToken();
    return;
  }
  byId('sign-in').hidden = true;
  byId('sign-out').hidden = false;
  clearMessage();
  const hash = window.location.hash.replace(/^#/, '');
  const study = /^\/studies\/([0-9.]{1,64})$/.exec(hash);
  const view = byId('view');
  view.replaceChildren();
  if (study?.[1] !== undefined) {
    void showStudy(view, study[1]);
  } else if (hash === '/model') {
    void showModel(view);
  } else {
    void showWorklist(view);
  }
}

// ---------------------------------------------------------------------------------------------
// Worklist

/** @param {HTMLElement} view */
async function showWorklist(view) {
  const mine = generation;
  const filter = el('select', { attrs: { id: 'status-filter', 'aria-label': 'Status' } });
  filter.append(el('option', { text: 'all statuses', attrs: { value: '' } }));
  for (const status of STATUSES)
    filter.append(el('option', { text: status, attrs: { value: status } }));
  const refresh = el('button', { text: 'Refresh', attrs: { type: 'button' } });
  const note = el('p', { className: 'note', attrs: { id: 'pacs-note' } });
  note.hidden = true;
  const body = el('tbody', { attrs: { id: 'worklist-rows' } });
  const more = el('button', { text: 'Load more', attrs: { type: 'button', id: 'load-more' } });
  more.hidden = true;
  const updated = el('span', { className: 'updated', attrs: { id: 'worklist-updated' } });

  view.append(
    el('h2', { text: 'Worklist' }),
    el('div', { className: 'toolbar' }, el('label', { text: 'Status ' }, filter), refresh, updated),
    note,
    el(
      'table',
      { className: 'worklist' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...[
            'Patient',
            'Patient ID',
            'Study',
            'Status',
            'Received',
            'Started',
            'Finished',
            'Duration',
            'Knees graded',
            'Refusals',
            'Jobs',
          ].map((title) => el('th', { text: title, attrs: { scope: 'col' } })),
        ),
      ),
      body,
    ),
    more,
  );

  /** @type {string | null} */
  let cursor = null;

  /** @param {boolean} append */
  const load = async (append) => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (filter.value !== '') query.set('status', filter.value);
    if (append && cursor !== null) query.set('cursor', cursor);
    const page = /** @type {WorklistPage} */ (await getJson(`studies?${query.toString()}`));
    if (mine !== generation) return;
    if (!append) body.replaceChildren();
    for (const study of page.studies) body.append(worklistRow(study));
    if (body.childElementCount === 0) {
      body.append(el('tr', {}, el('td', { text: 'No studies.', attrs: { colspan: '11' } })));
    }
    cursor = page.nextCursor;
    more.hidden = cursor === null;
    note.hidden = page.patientDetails.available;
    note.textContent = page.patientDetails.available
      ? ''
      : `Patient names are not shown: ${page.patientDetails.reason ?? 'the PACS did not answer'}.`;
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  };

  const reload = () => load(false).catch(report);
  filter.addEventListener('change', () => void reload());
  refresh.addEventListener('click', () => void reload());
  more.addEventListener('click', () => void load(true).catch(report));
  await reload();
  // Auto refresh reloads the first page only while no further page was loaded.
  repeat(WORKLIST_REFRESH_MS, () =>
    body.childElementCount <= PAGE_SIZE ? load(false) : Promise.resolve(),
  );
}

/** @param {WorklistStudy} study */
function worklistRow(study) {
  const link = el('a', {
    text: study.studyInstanceUid,
    className: 'uid',
    attrs: { href: `#/studies/${study.studyInstanceUid}` },
  });
  const job = study.latestJob;
  return el(
    'tr',
    { attrs: { 'data-study': study.studyInstanceUid } },
    el('td', { className: 'patient-name', text: study.patientName ?? '—' }),
    el('td', { className: 'patient-id', text: study.patientId ?? '—' }),
    el('td', {}, link),
    el('td', {}, statusBadge(study.status)),
    el('td', { text: formatTime(study.receivedAt) }),
    el('td', { text: formatTime(job?.startedAt) }),
    el('td', { text: formatTime(job?.finishedAt) }),
    el('td', { text: formatDuration(job?.durationMs) }),
    el('td', { className: 'knees-graded number', text: study.kneesGraded }),
    el('td', { className: 'refusals number', text: study.refusals }),
    el('td', { className: 'jobs number', text: study.jobs }),
  );
}

/** @param {string} status */
function statusBadge(status) {
  const known = STATUSES.includes(status) ? status : 'unknown';
  return el('span', { className: `status status-${known}`, text: status });
}

// ---------------------------------------------------------------------------------------------
// Study detail

/** Object URLs of thumbnails already fetched, by SOP Instance UID and write time. */
/** @type {Map<string, string>} */
const thumbnails = new Map();

/** @param {HTMLElement} view @param {string} uid */
async function showStudy(view, uid) {
  const mine = generation;
  const status = el('span', { attrs: { id: 'study-status' } });
  const reprocess = el('button', {
    text: 'Reprocess',
    attrs: { type: 'button', id: 'reprocess' },
  });
  const queued = el('span', { className: 'queued', attrs: { id: 'reprocess-result' } });
  const content = el('div', { attrs: { id: 'study-content' } });
  view.append(
    el('p', {}, el('a', { text: '← Worklist', attrs: { href: '#/' } })),
    el('h2', { text: 'Study ' }, el('span', { className: 'uid', text: uid })),
    el(
      'div',
      { className: 'toolbar' },
      el('span', { text: 'Status: ' }),
      status,
      reprocess,
      queued,
    ),
    content,
  );

  reprocess.addEventListener('click', () => {
    reprocess.disabled = true;
    call(`studies/${uid}/reprocess`, { method: 'POST' })
      .then(async (response) => {
        const body = /** @type {{ jobId: string | null }} */ (await readJson(response));
        queued.textContent =
          body.jobId === null ? 'A job for this study already waits.' : `Queued job ${body.jobId}.`;
        await draw();
      })
      .catch(report)
      .finally(() => {
        reprocess.disabled = false;
      });
  });

  const draw = async () => {
    const [study, history, overlays] = await Promise.all([
      /** @type {Promise<Study>} */ (getJson(`studies/${uid}`)),
      /** @type {Promise<{ jobs: Job[] }>} */ (getJson(`studies/${uid}/jobs`)),
      /** @type {Promise<{ overlays: Overlay[], pacs: PacsNote }>} */ (
        getJson(`studies/${uid}/overlays`)
      ),
    ]);
    if (mine !== generation) return;
    status.replaceChildren(statusBadge(study.status));
    const sections = [
      kneesSection(uid, study.knees, overlays.overlays, overlays.pacs),
      problemsSection(study),
    ];
    // The care plan is drawn when the API has one: a FHIR server is configured and the
    // study was graded (or recommendations came without the state).
    const recommendations = Array.isArray(study.recommendations) ? study.recommendations : [];
    const carePlan = study.carePlan ?? null;
    if (carePlan !== null || recommendations.length > 0) {
      sections.push(carePlanSection(carePlan, recommendations));
    }
    sections.push(jobsSection(history.jobs));
    content.replaceChildren(...sections);
  };

  try {
    await draw();
  } catch (error) {
    report(error);
    return;
  }
  repeat(DETAIL_REFRESH_MS, draw);
}

/**
 * @param {string} uid @param {Knee[]} knees @param {Overlay[]} overlays
 * @param {PacsNote} pacs
 */
function kneesSection(uid, knees, overlays, pacs) {
  const section = el('section', { attrs: { id: 'knees' } }, el('h3', { text: 'Knees' }));
  if (knees.length === 0) section.append(el('p', { text: 'No knee was graded.' }));
  const shown = new Set();
  for (const knee of knees) {
    const overlay = overlays.find((candidate) => candidate.laterality === knee.laterality);
    if (overlay !== undefined) shown.add(overlay.sopInstanceUid);
    section.append(kneeCard(uid, knee, overlay));
  }
  const others = overlays.filter((overlay) => !shown.has(overlay.sopInstanceUid));
  if (others.length > 0) {
    section.append(
      el('h4', { text: 'Other overlays' }),
      el('div', { className: 'overlays' }, ...others.map((overlay) => thumbnail(uid, overlay))),
    );
  }
  if (!pacs.available) {
    section.append(el('p', { className: 'note', text: pacs.reason ?? 'The PACS did not answer.' }));
  }
  return section;
}

/** @param {string} uid @param {Knee} knee @param {Overlay | undefined} overlay */
function kneeCard(uid, knee, overlay) {
  const side =
    knee.laterality === 'R' ? 'Right knee' : knee.laterality === 'L' ? 'Left knee' : 'Knee';
  const facts = el('dl', { className: 'facts' });
  /** @param {string} term @param {string} value @param {string} [className] */
  const fact = (term, value, className) => {
    facts.append(el('dt', { text: term }), el('dd', { text: value, className: className ?? '' }));
  };
  fact('KL grade', String(knee.klGrade), 'kl-grade');
  fact('Confidence', percent(knee.confidence));
  fact('Model', knee.model);
  for (const [name, value] of Object.entries(knee)) {
    if (/jsw|joint.?space/i.test(name)) fact(measurementName(name), measurementText(value));
  }

  const probabilities = el(
    'table',
    { className: 'probabilities' },
    el('tr', {}, ...knee.probabilities.map((_, grade) => el('th', { text: `KL${grade}` }))),
    el(
      'tr',
      {},
      ...knee.probabilities.map((p, grade) =>
        el('td', { text: percent(p), className: grade === knee.klGrade ? 'chosen' : '' }),
      ),
    ),
  );
  return el(
    'article',
    { className: 'knee', attrs: { 'data-laterality': knee.laterality } },
    el('h4', { text: side }),
    el(
      'div',
      { className: 'knee-body' },
      el('div', {}, facts, probabilities),
      overlay === undefined ? null : thumbnail(uid, overlay),
    ),
  );
}

/** `jswMm` → `JSW (mm)`, `jsw` → `JSW`. @param {string} name */
function measurementName(name) {
  return name.replace(/^jsw/i, 'JSW').replace(/Mm$/, ' (mm)');
}

/** A measurement of unknown shape, as text. @param {unknown} value */
function measurementText(value) {
  if (typeof value === 'number') return value.toFixed(2);
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(
        ([key, item]) =>
          `${key}: ${typeof item === 'number' ? item.toFixed(2) : JSON.stringify(item)}`,
      )
      .join(', ');
  }
  return JSON.stringify(value);
}

/** The overlay's thumbnail, fetched with the token and shown from a blob: URL. */
/** @param {string} uid @param {Overlay} overlay */
function thumbnail(uid, overlay) {
  const image = el('img', {
    className: 'thumbnail',
    attrs: {
      alt: `Heat-map overlay ${overlay.sopInstanceUid}`,
      'data-sop': overlay.sopInstanceUid,
    },
  });
  const figure = el(
    'figure',
    { className: 'overlay' },
    image,
    el('figcaption', { text: `Overlay, written ${formatTime(overlay.lastWrittenAt)}` }),
  );
  const key = `${overlay.sopInstanceUid}@${overlay.lastWrittenAt}`;
  const cached = thumbnails.get(key);
  if (cached !== undefined) {
    image.src = cached;
    return figure;
  }
  call(`studies/${uid}/overlays/${overlay.sopInstanceUid}/thumbnail`)
    .then((response) => response.blob())
    .then((blob) => {
      const url = URL.createObjectURL(blob);
      thumbnails.set(key, url);
      image.src = url;
    })
    .catch((/** @type {unknown} */ error) => {
      figure.append(
        el('p', {
          className: 'note',
          text: `No thumbnail: ${error instanceof Error ? error.message : String(error)}`,
        }),
      );
    });
  return figure;
}

/** @param {Study} study */
function problemsSection(study) {
  const section = el(
    'section',
    { attrs: { id: 'problems' } },
    el('h3', { text: 'Refusals and errors' }),
  );
  if (study.refusals.length === 0 && study.errors.length === 0) {
    section.append(el('p', { text: 'None in the latest attempt.' }));
    return section;
  }
  const list = el('ul', { className: 'problems' });
  for (const refusal of study.refusals) {
    list.append(
      el(
        'li',
        { className: 'refusal' },
        el('strong', { text: 'Refused ' }),
        el('span', {
          className: 'uid',
          text: refusal.sopInstanceUid === null ? 'the whole study' : refusal.sopInstanceUid,
        }),
        el('span', { text: `: ${refusal.reason}` }),
      ),
    );
  }
  for (const error of study.errors) {
    list.append(
      el(
        'li',
        { className: 'error' },
        el('strong', { text: `Error ${error.code}` }),
        el('span', { text: `: ${error.reason}` }),
      ),
    );
  }
  section.append(list);
  return section;
}

/**
 * The care plan's state and its recommendations, knee by knee, as written to the EHR.
 * @param {CarePlanState | null} state @param {Recommendation[]} recommendations
 */
function carePlanSection(state, recommendations) {
  const section = el(
    'section',
    { attrs: { id: 'care-plan' } },
    el('h3', { text: 'Care plan (as the EHR sees it)' }),
  );
  if (state !== null) {
    const facts = el('dl', { className: 'facts' });
    facts.append(
      el('dt', { text: 'State' }),
      el('dd', { text: state.status, attrs: { id: 'care-plan-status' } }),
      el('dt', { text: 'Written' }),
      el('dd', { text: formatTime(state.writtenAt) }),
      el('dt', { text: 'Attempts' }),
      el('dd', { text: state.attempts }),
    );
    if (state.reason !== null)
      facts.append(el('dt', { text: 'Reason' }), el('dd', { text: state.reason }));
    section.append(facts);
  }
  if (recommendations.length === 0) {
    section.append(el('p', { text: 'No recommendations.' }));
    return section;
  }
  for (const item of recommendations) {
    const meta = [
      item.laterality === undefined || item.laterality === null ? null : `Knee: ${item.laterality}`,
      item.kind === undefined ? null : `Kind: ${item.kind}`,
      item.strength === undefined ? null : `Strength: ${item.strength}`,
      item.source === undefined ? null : `Source: ${item.source}`,
    ].filter((part) => part !== null);
    /** @param {string} label @param {string | undefined} text */
    const labelled = (label, text) =>
      text === undefined || text === ''
        ? null
        : el('p', {}, el('strong', { text: `${label}: ` }), el('span', { text }));
    section.append(
      el(
        'article',
        {
          className: 'recommendation',
          attrs: { 'data-id': item.id ?? '', 'data-laterality': item.laterality ?? '' },
        },
        el('h4', { text: item.title ?? item.id ?? 'Recommendation' }),
        el('p', { className: 'meta', text: meta.join(' · ') }),
        labelled('For the clinician', item.clinicianExplanation),
        labelled('For the patient', item.patientExplanation),
        labelled('Sources disagree', item.disagreement),
        labelled('Missing data', item.missing?.join('; ')),
      ),
    );
  }
  return section;
}

/** @param {Job[]} jobs */
function jobsSection(jobs) {
  const rows = jobs.map((job) =>
    el(
      'tr',
      { attrs: { 'data-job': job.jobId } },
      el('td', { className: 'uid', text: job.jobId }),
      el('td', { text: job.kind }),
      el('td', { className: 'number', text: job.attempt }),
      el('td', { className: `outcome outcome-${job.outcome}`, text: job.outcome }),
      el('td', { text: formatTime(job.startedAt) }),
      el('td', { text: formatTime(job.finishedAt) }),
      el('td', { text: formatDuration(job.durationMs) }),
      el('td', {
        text: job.errorCode === null ? '' : `${job.errorCode}: ${job.errorMessage ?? ''}`,
      }),
    ),
  );
  return el(
    'section',
    { attrs: { id: 'jobs' } },
    el('h3', { text: `Job history (${jobs.length})` }),
    el(
      'table',
      { className: 'jobs' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Job', 'Kind', 'Attempt', 'Outcome', 'Started', 'Finished', 'Duration', 'Error'].map(
            (title) => el('th', { text: title, attrs: { scope: 'col' } }),
          ),
        ),
      ),
      el('tbody', { attrs: { id: 'job-rows' } }, ...rows),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Model

/** @param {HTMLElement} view */
async function showModel(view) {
  const mine = generation;
  /** @type {ModelInfo} */
  let model;
  try {
    model = /** @type {ModelInfo} */ (await getJson('model'));
  } catch (error) {
    report(error);
    return;
  }
  if (mine !== generation) return;
  view.append(
    el(
      'h2',
      { text: 'Model ' },
      el('span', { attrs: { id: 'model-id' }, text: model.id ?? 'unknown' }),
    ),
  );

  const manifest = el('dl', { className: 'facts' });
  for (const key of ['name', 'version', 'sha256', 'temperature']) {
    const value = model.manifest[key];
    if (value === undefined) continue;
    manifest.append(el('dt', { text: key }), el('dd', { text: asText(value) }));
  }
  view.append(el('section', {}, el('h3', { text: 'Manifest' }), manifest));
  view.append(metricsSection(model.metrics));

  const card = el(
    'section',
    { className: 'card', attrs: { id: 'model-card' } },
    el('h3', { text: 'Model card' }),
  );
  if (model.card === null)
    card.append(el('p', { text: 'No model card is shipped with this model.' }));
  else card.append(markdown(model.card));
  view.append(card);
}

/** @param {Record<string, unknown> | null} metrics */
function metricsSection(metrics) {
  const section = el(
    'section',
    { attrs: { id: 'metrics' } },
    el('h3', { text: 'Validation figures' }),
  );
  if (metrics === null) {
    section.append(el('p', { text: 'No metrics.json is shipped with this model.' }));
    return section;
  }
  /** @type {[string, string, (value: number) => string][]} */
  const figures = [
    ['split', 'Split', String],
    ['n', 'Images', String],
    ['accuracy', 'Accuracy', percent],
    ['qwk', 'Quadratic weighted kappa', (v) => v.toFixed(3)],
    ['mae', 'Mean absolute error (grades)', (v) => v.toFixed(3)],
    ['auc_kl2', 'AUC, KL ≥ 2', (v) => v.toFixed(3)],
    ['ece', 'Expected calibration error', (v) => v.toFixed(3)],
  ];
  const list = el('dl', { className: 'facts' });
  for (const [key, title, format] of figures) {
    const value = metrics[key];
    if (value === undefined) continue;
    list.append(
      el('dt', { text: title }),
      el('dd', { text: typeof value === 'number' ? format(value) : asText(value) }),
    );
  }
  section.append(list);

  const recall = metrics.recall;
  if (Array.isArray(recall)) {
    section.append(
      el('h4', { text: 'Recall per grade' }),
      el(
        'table',
        { className: 'probabilities' },
        el('tr', {}, ...recall.map((_, grade) => el('th', { text: `KL${grade}` }))),
        el(
          'tr',
          {},
          ...recall.map((value) =>
            el('td', { text: typeof value === 'number' ? percent(value) : '—' }),
          ),
        ),
      ),
    );
  }
  const confusion = metrics.confusion;
  if (Array.isArray(confusion)) {
    const rows = /** @type {unknown[]} */ (confusion).map((row, truth) =>
      el(
        'tr',
        {},
        el('th', { text: `KL${truth}`, attrs: { scope: 'row' } }),
        ...(Array.isArray(row) ? row : []).map((count) =>
          el('td', { className: 'number', text: String(count) }),
        ),
      ),
    );
    section.append(
      el('h4', { text: 'Confusion (rows: reference grade, columns: predicted)' }),
      el(
        'table',
        { className: 'confusion' },
        el('tr', {}, el('th', {}), ...rows.map((_, grade) => el('th', { text: `KL${grade}` }))),
        ...rows,
      ),
    );
  }
  return section;
}

/**
 * A small, safe subset of Markdown, built from DOM nodes: `#` headings, `-` lists (with
 * indented continuation lines), `|` tables, paragraphs, and inline **bold** and `code`.
 * Anything else (links, images, HTML) stays literal text.
 * @param {string} source
 */
function markdown(source) {
  const root = el('div', { className: 'markdown' });
  /** @type {HTMLUListElement | null} */
  let list = null;
  /** @type {HTMLTableElement | null} */
  let table = null;
  /**
   * The list item or paragraph being read: its lines are joined first, so that bold or code
   * spanning a line break is still recognised.
   * @type {{ element: HTMLElement, lines: string[] } | null}
   */
  let open = null;
  const flush = () => {
    if (open !== null) inline(open.element, open.lines.join(' '));
    open = null;
  };
  const close = () => {
    flush();
    list = null;
    table = null;
  };

  for (const line of source.split(/\r?\n/)) {
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    if (heading?.[1] !== undefined) {
      close();
      const level = Math.min(heading[1].length + 2, 6);
      const tag = /** @type {'h3' | 'h4' | 'h5' | 'h6'} */ (`h${level}`);
      root.append(inline(el(tag), heading[2] ?? ''));
      continue;
    }
    const item = /^\s?[-*]\s+(.*)$/.exec(line);
    if (item !== null) {
      flush();
      table = null;
      if (list === null) {
        list = el('ul');
        root.append(list);
      }
      const element = el('li');
      list.append(element);
      open = { element, lines: [item[1] ?? ''] };
      continue;
    }
    if (/^\s*\|/.test(line)) {
      flush();
      list = null;
      const cells = line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|');
      if (cells.every((cell) => /^\s*:?-+:?\s*$/.test(cell))) continue;
      const header = table === null;
      if (table === null) {
        table = el('table', { className: 'markdown-table' });
        root.append(table);
      }
      const row = el('tr');
      for (const cell of cells) row.append(inline(el(header ? 'th' : 'td'), cell.trim()));
      table.append(row);
      continue;
    }
    if (line.trim() === '') {
      close();
      continue;
    }
    // A continuation line of the open list item or paragraph.
    if (open !== null && (list === null || /^\s+\S/.test(line))) {
      open.lines.push(line.trim());
      continue;
    }
    close();
    const paragraph = el('p');
    root.append(paragraph);
    open = { element: paragraph, lines: [line.trim()] };
  }
  close();
  return root;
}

/**
 * Appends `text` to `target` with **bold** and `code` spans as elements, the rest as text.
 * @template {HTMLElement} E
 * @param {E} target @param {string} text
 * @returns {E}
 */
function inline(target, text) {
  for (const part of text.split(/(\*\*[^*]+\*\*|`[^`]+`)/)) {
    if (part === '') continue;
    if (part.startsWith('**') && part.endsWith('**') && part.length > 4) {
      target.append(el('strong', { text: part.slice(2, -2) }));
    } else if (part.startsWith('`') && part.endsWith('`') && part.length > 2) {
      target.append(el('code', { text: part.slice(1, -1) }));
    } else {
      target.append(document.createTextNode(part));
    }
  }
  return target;
}

// ---------------------------------------------------------------------------------------------
// Start

function start() {
  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ (byId('token'));
    const value = input.value.trim();
    if (value === '') return;
    window.sessionStorage.setItem(TOKEN_KEY, value);
    input.value = '';
    route();
  });
  byId('sign-out').addEventListener('click', () => {
    window.sessionStorage.removeItem(TOKEN_KEY);
    askForToken();
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
