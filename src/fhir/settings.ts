/**
 * Where the FHIR server is and how jointspace authenticates to it, read from the environment
 * in one pass that reports every problem at once (as src/config.ts does for the service).
 *
 * Authentication is chosen by the variables that are set: none; a static bearer token; HTTP
 * Basic; or SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html):
 * a client id, a private key (RSA for RS384, EC P-384 for ES384) whose public key the
 * authorisation server has registered, and the token endpoint. Setting variables of two
 * methods is refused rather than one being picked silently.
 *
 * `FHIR_CONFIG_VARIABLES` lists the variables in the shape of src/config.ts CONFIG_VARIABLES,
 * so they can be merged into it.
 */
import { ConfigurationProblems, VariableReader } from '../config-problems.js';
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';

export type SigningAlgorithm = 'RS384' | 'ES384';

export interface SmartBackendAuth {
  kind: 'smart-backend-services';
  clientId: string;
  tokenUrl: string;
  privateKey: KeyObject;
  algorithm: SigningAlgorithm;
  /** The `kid` of the JWT header: the key's id in the client's registered JWK Set. */
  keyId: string;
  scope: string;
}

export type FhirAuth =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; username: string; password: string }
  | SmartBackendAuth;

export interface FhirSettings {
  /** Base URL of the FHIR R4 server, ending with `/`. */
  url: string;
  auth: FhirAuth;
  /** Limit of one HTTP exchange (FHIR or token endpoint), body included. */
  timeoutMs: number;
}

export interface FhirConfigVariable {
  name: string;
  required: boolean;
  default?: string;
  description: string;
  secret: boolean;
}

export const DEFAULT_SMART_SCOPE = 'system/*.read system/*.write';
export const DEFAULT_FHIR_TIMEOUT_MS = 30_000;
/** RSA keys shorter than this are refused (NIST SP 800-131A; SMART requires RS384 or ES384). */
export const MIN_RSA_BITS = 2048;

export const FHIR_CONFIG_VARIABLES = [
  {
    name: 'JOINTSPACE_FHIR_URL',
    required: false,
    description:
      'http(s) base URL of the FHIR R4 server, without credentials; when unset, no patient context is read and no care plan is written',
    secret: false,
  },
  {
    name: 'JOINTSPACE_FHIR_TOKEN',
    required: false,
    description: 'static bearer token for the FHIR server (printable ASCII, no whitespace)',
    secret: true,
  },
  {
    name: 'JOINTSPACE_FHIR_USER',
    required: false,
    description: 'user name for the FHIR server (HTTP basic authentication); set with the password',
    secret: false,
  },
  {
    name: 'JOINTSPACE_FHIR_PASSWORD',
    required: false,
    description: 'password for the FHIR server; set with the user name',
    secret: true,
  },
  {
    name: 'JOINTSPACE_FHIR_CLIENT_ID',
    required: false,
    description:
      'SMART Backend Services client id; set with JOINTSPACE_FHIR_PRIVATE_KEY_FILE and JOINTSPACE_FHIR_TOKEN_URL',
    secret: false,
  },
  {
    name: 'JOINTSPACE_FHIR_PRIVATE_KEY_FILE',
    required: false,
    description:
      'absolute path of the PEM private key the client signs its JWT assertion with: RSA (at least 2048 bits, RS384) or EC P-384 (ES384)',
    secret: false,
  },
  {
    name: 'JOINTSPACE_FHIR_TOKEN_URL',
    required: false,
    description:
      "the authorisation server's token endpoint (https; http only on a loopback address)",
    secret: false,
  },
  {
    name: 'JOINTSPACE_FHIR_KEY_ID',
    required: false,
    description:
      'kid of the signing key in the registered JWK Set; the RFC 7638 thumbprint of the key when unset',
    secret: false,
  },
  {
    name: 'JOINTSPACE_FHIR_SCOPE',
    required: false,
    default: DEFAULT_SMART_SCOPE,
    description: 'scopes requested with SMART Backend Services',
    secret: false,
  },
  {
    name: 'JOINTSPACE_FHIR_TIMEOUT_MS',
    required: false,
    default: String(DEFAULT_FHIR_TIMEOUT_MS),
    description: 'milliseconds one FHIR or token request may take, 1000..600000',
    secret: false,
  },
] as const satisfies readonly FhirConfigVariable[];

export type FhirVariableName = (typeof FHIR_CONFIG_VARIABLES)[number]['name'];

const BEARER_VARIABLES: FhirVariableName[] = ['JOINTSPACE_FHIR_TOKEN'];
const BASIC_VARIABLES: FhirVariableName[] = ['JOINTSPACE_FHIR_USER', 'JOINTSPACE_FHIR_PASSWORD'];
const SMART_VARIABLES: FhirVariableName[] = [
  'JOINTSPACE_FHIR_CLIENT_ID',
  'JOINTSPACE_FHIR_PRIVATE_KEY_FILE',
  'JOINTSPACE_FHIR_TOKEN_URL',
  'JOINTSPACE_FHIR_KEY_ID',
  'JOINTSPACE_FHIR_SCOPE',
];

const HEADER_SAFE = /^[\x21-\x7e]+$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The FHIR settings, or undefined when no FHIR variable is set (FHIR is optional). Throws one
 * `invalid-configuration` error that lists every problem, each naming its variable.
 */
export function fhirSettingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  /**
   * Where to add problems instead of throwing (src/config.ts reports the service's and
   * FHIR's problems in one error); undefined is then returned when there are any.
   */
  shared?: ConfigurationProblems,
): FhirSettings | undefined {
  const problems = shared ?? new ConfigurationProblems('invalid FHIR configuration');
  const before = problems.count;
  const reader = new FhirEnvironment(env, problems);
  const anySet = FHIR_CONFIG_VARIABLES.some((v) => reader.given(v.name) !== undefined);
  if (!anySet) return undefined;

  const url = reader.baseUrl();
  const auth = reader.auth();
  const timeoutMs = reader.timeout();
  if (shared === undefined) reader.throwIfProblems();
  return problems.count > before ? undefined : { url, auth, timeoutMs };
}

class FhirEnvironment extends VariableReader<FhirVariableName> {
  constructor(env: NodeJS.ProcessEnv, problems: ConfigurationProblems) {
    super(env, problems, FHIR_CONFIG_VARIABLES);
  }

  baseUrl(): string {
    const name = 'JOINTSPACE_FHIR_URL';
    const value = this.given(name);
    if (value === undefined) {
      this.problem(name, 'required when any other JOINTSPACE_FHIR_* variable is set');
      return '';
    }
    const parsed = this.httpUrl(name, value);
    if (parsed === undefined) return '';
    if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
    return parsed.href;
  }

  auth(): FhirAuth {
    const groups = (
      [
        { method: 'bearer token', names: BEARER_VARIABLES },
        { method: 'basic authentication', names: BASIC_VARIABLES },
        { method: 'SMART Backend Services', names: SMART_VARIABLES },
      ] as const
    ).filter((group) => group.names.some((name) => this.given(name) !== undefined));

    if (groups.length > 1) {
      const set = groups.map((g) => g.names.filter((name) => this.given(name) !== undefined));
      this.problems.add(
        set.flat().join(', '),
        `expected variables of one authentication method, got ${groups.map((g) => g.method).join(' and ')}`,
      );
      return { kind: 'none' };
    }
    switch (groups[0]?.method) {
      case 'bearer token':
        return this.bearer();
      case 'basic authentication':
        return this.basic();
      case 'SMART Backend Services':
        return this.smart();
      case undefined:
        return { kind: 'none' };
    }
  }

  timeout(): number {
    const name = 'JOINTSPACE_FHIR_TIMEOUT_MS';
    const value = this.given(name);
    if (value === undefined) return DEFAULT_FHIR_TIMEOUT_MS;
    const parsed = /^[0-9]{1,9}$/.test(value) ? Number(value) : Number.NaN;
    if (parsed >= 1000 && parsed <= 600_000) return parsed;
    this.problem(
      name,
      `expected an integer 1000..600000, got ${JSON.stringify(value.slice(0, 40))}`,
    );
    return DEFAULT_FHIR_TIMEOUT_MS;
  }

  private bearer(): FhirAuth {
    const token = this.given('JOINTSPACE_FHIR_TOKEN') ?? '';
    if (!HEADER_SAFE.test(token)) {
      this.problem(
        'JOINTSPACE_FHIR_TOKEN',
        'expected printable ASCII characters without whitespace',
      );
    }
    return { kind: 'bearer', token };
  }

  private basic(): FhirAuth {
    const username = this.given('JOINTSPACE_FHIR_USER');
    const password = this.given('JOINTSPACE_FHIR_PASSWORD');
    if (username === undefined) {
      this.problem('JOINTSPACE_FHIR_USER', 'expected together with JOINTSPACE_FHIR_PASSWORD');
    } else if (username.includes(':')) {
      this.problem('JOINTSPACE_FHIR_USER', 'expected a user name without ":" (RFC 7617)');
    }
    if (password === undefined) {
      this.problem('JOINTSPACE_FHIR_PASSWORD', 'expected together with JOINTSPACE_FHIR_USER');
    }
    return { kind: 'basic', username: username ?? '', password: password ?? '' };
  }

  private smart(): FhirAuth {
    const clientId = this.required('JOINTSPACE_FHIR_CLIENT_ID');
    const tokenUrl = this.tokenUrl();
    const key = this.privateKey();
    const scope = this.given('JOINTSPACE_FHIR_SCOPE') ?? DEFAULT_SMART_SCOPE;
    if (key === undefined) return { kind: 'none' };
    return {
      kind: 'smart-backend-services',
      clientId,
      tokenUrl,
      privateKey: key.privateKey,
      algorithm: key.algorithm,
      keyId: this.given('JOINTSPACE_FHIR_KEY_ID') ?? jwkThumbprint(key.privateKey),
      scope,
    };
  }

  private required(name: FhirVariableName): string {
    const value = this.given(name);
    if (value === undefined) this.problem(name, 'required for SMART Backend Services');
    return value ?? '';
  }

  /** SMART requires TLS to the token endpoint; plain http is allowed on loopback only (tests). */
  private tokenUrl(): string {
    const name = 'JOINTSPACE_FHIR_TOKEN_URL';
    const value = this.required(name);
    if (value === '') return '';
    const parsed = this.httpUrl(name, value);
    if (parsed === undefined) return '';
    if (parsed.protocol === 'http:' && !LOOPBACK_HOSTS.has(parsed.hostname)) {
      this.problem(name, 'expected an https URL (http only on a loopback address)');
    }
    return parsed.href;
  }

  private privateKey(): { privateKey: KeyObject; algorithm: SigningAlgorithm } | undefined {
    const name = 'JOINTSPACE_FHIR_PRIVATE_KEY_FILE';
    const path = this.required(name);
    if (path === '') return undefined;
    if (!isAbsolute(path)) {
      this.problem(name, `expected an absolute path, got ${JSON.stringify(path.slice(0, 80))}`);
      return undefined;
    }

    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(readFileSync(path, 'utf8'));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.problem(
        name,
        typeof code === 'string' && code.startsWith('E') && !code.startsWith('ERR_')
          ? `cannot read the file (${code})`
          : 'expected a PEM private key (the file could not be parsed as one)',
      );
      return undefined;
    }

    const details = privateKey.asymmetricKeyDetails ?? {};
    if (privateKey.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS) {
      return { privateKey, algorithm: 'RS384' };
    }
    if (privateKey.asymmetricKeyType === 'ec' && details.namedCurve === 'secp384r1') {
      return { privateKey, algorithm: 'ES384' };
    }
    this.problem(
      name,
      `expected an RSA key of at least ${MIN_RSA_BITS} bits (RS384) or an EC P-384 key (ES384), got ${describeKey(privateKey)}`,
    );
    return undefined;
  }
}

function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return `an RSA key of ${details.modulusLength ?? 0} bits`;
  if (key.asymmetricKeyType === 'ec') return `an EC key on ${details.namedCurve ?? 'no curve'}`;
  return `a ${key.asymmetricKeyType ?? 'symmetric'} key`;
}

/**
 * The JWK thumbprint of the key's public half (RFC 7638 section 3: SHA-256 of the required
 * members in lexicographic order, base64url): a stable `kid` when none is configured.
 */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
