/**
 * How the CDS Hooks service authenticates the EHRs that call it and where its links point,
 * read from the environment in one pass that reports every problem at once (as
 * src/fhir/settings.ts does for FHIR).
 *
 * CDS Hooks 2.0, Security (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients): the EHR signs
 * a JWT with its private key (RS384 or ES384) and the service checks it against the EHR's public
 * key, expressed as a JWK in a JWK Set. Here the trusted keys come from a local JWK Set file;
 * keys are never fetched from a `jku` URL (the service makes no outbound calls to find keys).
 *
 * `JOINTSPACE_CDS_AUTH=none` turns authentication off for local testing only; the service logs
 * a warning on every start with it.
 *
 * `CDS_CONFIG_VARIABLES` lists the variables in the shape of src/config.ts CONFIG_VARIABLES,
 * so they can be merged into it.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { ConfigurationProblems, VariableReader } from '../config-problems.js';

export type CdsSigningAlgorithm = 'RS384' | 'ES384';

/** One trusted public key of an EHR. */
export interface TrustedKey {
  kid: string;
  algorithm: CdsSigningAlgorithm;
  key: KeyObject;
}

export type CdsAuth =
  | { kind: 'none' }
  | {
      kind: 'jwt';
      /** By `kid`. */
      keys: ReadonlyMap<string, TrustedKey>;
      /** The `iss` values accepted. */
      issuers: ReadonlySet<string>;
      clockSkewS: number;
    };

export interface CdsSettings {
  auth: CdsAuth;
  /**
   * The base URL the EHR calls (ending with `/`); the JWT's `aud` must be
   * `<publicUrl>cds-services/<id>`. Absent: the URL as the request reached the app.
   */
  publicUrl?: string;
  /** A link template with `{studyInstanceUid}`; absent: the study route of this API. */
  reportUrlTemplate?: string;
}

export interface CdsConfigVariable {
  name: string;
  required: boolean;
  default?: string;
  description: string;
  secret: boolean;
}

export const DEFAULT_CLOCK_SKEW_S = 60;
export const MAX_CLOCK_SKEW_S = 300;
/** RSA keys shorter than this are refused (NIST SP 800-131A). */
export const MIN_RSA_BITS = 2048;
export const STUDY_UID_PLACEHOLDER = '{studyInstanceUid}';

export const CDS_CONFIG_VARIABLES = [
  {
    name: 'JOINTSPACE_CDS_AUTH',
    required: false,
    default: 'jwt',
    description:
      'how CDS Hooks callers are authenticated: jwt (signed JWT of a trusted EHR, CDS Hooks 2.0) or none (local testing only, logged as a warning); when no JOINTSPACE_CDS_* variable is set, the CDS Hooks routes are off',
    secret: false,
  },
  {
    name: 'JOINTSPACE_CDS_JWKS_FILE',
    required: false,
    description:
      "absolute path of a JWK Set (JSON) of the trusted EHRs' public keys, each with a kid: RSA of at least 2048 bits (RS384) or EC P-384 (ES384); required with jwt",
    secret: false,
  },
  {
    name: 'JOINTSPACE_CDS_ISSUERS',
    required: false,
    description: 'comma-separated iss values of the trusted EHRs; required with jwt',
    secret: false,
  },
  {
    name: 'JOINTSPACE_CDS_PUBLIC_URL',
    required: false,
    description:
      'http(s) base URL the EHR calls (e.g. behind a reverse proxy); the JWT aud must be <url>cds-services/<service id>; when unset, the URL as the request reached jointspace',
    secret: false,
  },
  {
    name: 'JOINTSPACE_CDS_REPORT_URL',
    required: false,
    description: `http(s) URL of a study report or viewer with ${STUDY_UID_PLACEHOLDER} where the Study Instance UID goes; when unset, the cards link to GET <public url>api/studies/<uid>`,
    secret: false,
  },
  {
    name: 'JOINTSPACE_CDS_CLOCK_SKEW_S',
    required: false,
    default: String(DEFAULT_CLOCK_SKEW_S),
    description: `seconds of clock difference tolerated on the JWT exp and iat, 0..${MAX_CLOCK_SKEW_S}`,
    secret: false,
  },
] as const satisfies readonly CdsConfigVariable[];

export type CdsVariableName = (typeof CDS_CONFIG_VARIABLES)[number]['name'];

/**
 * The CDS Hooks settings, or undefined when no CDS variable is set (the routes are off).
 * Throws one `invalid-configuration` error that lists every problem, each naming its variable.
 */
export function cdsSettingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  /**
   * Where to add problems instead of throwing (src/config.ts reports all of the service's
   * problems in one error); undefined is then returned when there are any.
   */
  shared?: ConfigurationProblems,
): CdsSettings | undefined {
  const problems = shared ?? new ConfigurationProblems('invalid CDS Hooks configuration');
  const before = problems.count;
  const reader = new CdsEnvironment(env, problems);
  if (CDS_CONFIG_VARIABLES.every((v) => reader.given(v.name) === undefined)) return undefined;

  const auth = reader.auth();
  const publicUrl = reader.publicUrl();
  const reportUrlTemplate = reader.reportUrl();
  if (shared === undefined) reader.throwIfProblems();
  if (problems.count > before) return undefined;
  return {
    auth,
    ...(publicUrl === undefined ? {} : { publicUrl }),
    ...(reportUrlTemplate === undefined ? {} : { reportUrlTemplate }),
  };
}

class CdsEnvironment extends VariableReader<CdsVariableName> {
  constructor(env: NodeJS.ProcessEnv, problems: ConfigurationProblems) {
    super(env, problems, CDS_CONFIG_VARIABLES);
  }

  auth(): CdsAuth {
    const name = 'JOINTSPACE_CDS_AUTH';
    const mode = this.given(name) ?? 'jwt';
    if (mode === 'none') {
      for (const other of ['JOINTSPACE_CDS_JWKS_FILE', 'JOINTSPACE_CDS_ISSUERS'] as const) {
        if (this.given(other) !== undefined) {
          this.problem(other, 'expected unset with JOINTSPACE_CDS_AUTH=none (it would be ignored)');
        }
      }
      return { kind: 'none' };
    }
    if (mode !== 'jwt') {
      this.problem(name, `expected jwt or none, got ${JSON.stringify(mode.slice(0, 40))}`);
    }
    return {
      kind: 'jwt',
      keys: this.keys(),
      issuers: this.issuers(),
      clockSkewS: this.clockSkew(),
    };
  }

  publicUrl(): string | undefined {
    const name = 'JOINTSPACE_CDS_PUBLIC_URL';
    const value = this.given(name);
    if (value === undefined) return undefined;
    const parsed = this.httpUrl(name, value);
    if (parsed === undefined) return undefined;
    if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
    return parsed.href;
  }

  reportUrl(): string | undefined {
    const name = 'JOINTSPACE_CDS_REPORT_URL';
    const value = this.given(name);
    if (value === undefined) return undefined;
    if (!value.includes(STUDY_UID_PLACEHOLDER)) {
      this.problem(name, `expected a URL containing ${STUDY_UID_PLACEHOLDER}`);
      return undefined;
    }
    const example = value.replaceAll(STUDY_UID_PLACEHOLDER, '1.2.3');
    return this.httpUrl(name, example, true) === undefined ? undefined : value;
  }

  private issuers(): ReadonlySet<string> {
    const name = 'JOINTSPACE_CDS_ISSUERS';
    const value = this.given(name);
    if (value === undefined) {
      this.problem(name, 'required with JOINTSPACE_CDS_AUTH=jwt (the iss of each trusted EHR)');
      return new Set();
    }
    const issuers = value.split(',').map((entry) => entry.trim());
    if (issuers.includes('')) {
      this.problem(name, 'expected comma-separated issuers without empty entries');
    }
    return new Set(issuers.filter((entry) => entry !== ''));
  }

  private clockSkew(): number {
    const name = 'JOINTSPACE_CDS_CLOCK_SKEW_S';
    const value = this.given(name);
    if (value === undefined) return DEFAULT_CLOCK_SKEW_S;
    const parsed = /^[0-9]{1,4}$/.test(value) ? Number(value) : Number.NaN;
    if (parsed <= MAX_CLOCK_SKEW_S) return parsed;
    this.problem(
      name,
      `expected an integer 0..${MAX_CLOCK_SKEW_S}, got ${JSON.stringify(value.slice(0, 40))}`,
    );
    return DEFAULT_CLOCK_SKEW_S;
  }

  private keys(): ReadonlyMap<string, TrustedKey> {
    const name = 'JOINTSPACE_CDS_JWKS_FILE';
    const path = this.given(name);
    if (path === undefined) {
      this.problem(name, "required with JOINTSPACE_CDS_AUTH=jwt (the trusted EHRs' public keys)");
      return new Map();
    }
    if (!isAbsolute(path)) {
      this.problem(name, `expected an absolute path, got ${JSON.stringify(path.slice(0, 80))}`);
      return new Map();
    }

    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.problem(name, `cannot read the file (${typeof code === 'string' ? code : 'error'})`);
      return new Map();
    }
    const parsed = parseJwkSet(text);
    for (const problem of parsed.problems) this.problem(name, problem);
    return parsed.keys;
  }
}

/**
 * The trusted keys of a JWK Set (RFC 7517 section 5), with every problem found. A key needs a
 * unique `kid`; `use`, when given, must be `sig`; `alg`, when given, must fit the key. Private
 * members (`d`, ...) are refused: the file should hold public keys only.
 */
export function parseJwkSet(text: string): {
  keys: Map<string, TrustedKey>;
  problems: string[];
} {
  const keys = new Map<string, TrustedKey>();
  const problems: string[] = [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { keys, problems: ['expected a JSON JWK Set (the file is not JSON)'] };
  }
  const list = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    return { keys, problems: ['expected a JWK Set: an object with a non-empty "keys" array'] };
  }

  list.forEach((entry: unknown, index) => {
    const at = `keys[${index}]`;
    const key = readJwk(entry, at, problems);
    if (key === undefined) return;
    if (keys.has(key.kid)) {
      problems.push(`${at}: kid ${JSON.stringify(key.kid)} appears twice`);
      return;
    }
    keys.set(key.kid, key);
  });
  return { keys, problems };
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

function readJwk(entry: unknown, at: string, problems: string[]): TrustedKey | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`${at}: expected a JWK object`);
    return undefined;
  }
  const jwk = entry as Record<string, unknown>;
  const kid = jwk.kid;
  if (typeof kid !== 'string' || kid === '') {
    problems.push(`${at}: expected a non-empty "kid" (the EHR names its key in the JWT header)`);
    return undefined;
  }
  const where = `${at} (kid ${JSON.stringify(kid.slice(0, 60))})`;
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
    problems.push(`${where}: expected a public key, got private key members`);
    return undefined;
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') {
    problems.push(`${where}: expected "use" to be "sig" when given`);
    return undefined;
  }

  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    problems.push(`${where}: expected an RSA or EC public key in JWK form (it could not be read)`);
    return undefined;
  }
  const algorithm = algorithmOf(key);
  if (algorithm === undefined) {
    problems.push(
      `${where}: expected an RSA key of at least ${MIN_RSA_BITS} bits (RS384) or an EC P-384 key (ES384)`,
    );
    return undefined;
  }
  if (jwk.alg !== undefined && jwk.alg !== algorithm) {
    problems.push(`${where}: "alg" ${JSON.stringify(jwk.alg)} does not fit the key (${algorithm})`);
    return undefined;
  }
  return { kid, algorithm, key };
}

function algorithmOf(key: KeyObject): CdsSigningAlgorithm | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS) {
    return 'RS384';
  }
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'secp384r1') return 'ES384';
  return undefined;
}
