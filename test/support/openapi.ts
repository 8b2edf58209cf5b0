/**
 * Checks HTTP responses against `openapi.yaml`, the contract of record.
 *
 * The document is loaded once and compiled with Ajv (JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1). The whole document is registered as one schema
 * under {@link SPEC_ID}, so every `$ref: '#/components/…'` inside it resolves
 * against the document itself, and a response schema is validated by
 * referencing its JSON pointer.
 *
 * @example
 * const res = await request(app).post('/live_api/s2s/v1/users/verification').send({});
 * expect(res.status).toBe(401);
 * expectResponseToMatchSpec(res);
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const SPEC_PATH = join(__dirname, '..', '..', 'openapi.yaml');
const SPEC_ID = 'https://verigate.test/openapi.json';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Json = Record<string, unknown>;

/** The parts of a supertest response this module reads; fake ones work too. */
export interface ResponseLike {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  text?: string;
  req?: { method?: string; path?: string };
}

/** A documented operation, for route-coverage tests. */
export interface DocumentedOperation {
  /** Upper case, as on the wire: `GET`, `POST`, … */
  method: string;
  /** The path template as written in the document, e.g. `/admin/v1/{environment}/sites/{siteId}`. */
  path: string;
  /** Which listeners serve it, from the servers' `x-verigate-listener`. */
  listeners: string[];
}

interface Loaded {
  doc: Json;
  ajv: Ajv2020;
  templates: { template: string; regex: RegExp; literalSegments: number }[];
  validators: Map<string, ValidateFunction>;
}

let loaded: Loaded | undefined;

function load(): Loaded {
  if (loaded) return loaded;
  const doc = parse(readFileSync(SPEC_PATH, 'utf8')) as Json;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: SPEC_ID });
  const templates = Object.keys(asObject(doc['paths'], 'paths')).map((template) => {
    const segments = template.split('/');
    const pattern = segments
      .map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]+' : escapeRegExp(segment)))
      .join('/');
    return {
      template,
      regex: new RegExp(`^${pattern}$`),
      literalSegments: segments.filter((s) => !s.startsWith('{')).length,
    };
  });
  // Prefer the most literal template when several match.
  templates.sort((a, b) => b.literalSegments - a.literalSegments);
  loaded = { doc, ajv, templates, validators: new Map() };
  return loaded;
}

/** The parsed `openapi.yaml`. */
export function openApiDocument(): Json {
  return load().doc;
}

/** Every (method, path) the document describes. */
export function documentedOperations(): DocumentedOperation[] {
  const { doc } = load();
  const topServers = (doc['servers'] as Json[] | undefined) ?? [];
  const out: DocumentedOperation[] = [];
  for (const [path, rawItem] of Object.entries(asObject(doc['paths'], 'paths'))) {
    const item = asObject(rawItem, path);
    const servers = (item['servers'] as Json[] | undefined) ?? topServers;
    const listeners = servers.map((s) => String(s['x-verigate-listener'] ?? s['url']));
    for (const method of HTTP_METHODS) {
      if (item[method] !== undefined) out.push({ method: method.toUpperCase(), path, listeners });
    }
  }
  return out;
}

/**
 * Throws a readable Error unless the response is documented for this method,
 * path, status and media type, (for JSON media types) its body matches the
 * documented schema, and every header the response object marks `required`
 * is present and matches its schema (`X-Request-Id`, `Cache-Control: no-store`,
 * `Retry-After`, `Allow`, `Location`, `WWW-Authenticate`). Optional headers
 * are checked only when present. Method and path default to those of `res.req`.
 *
 * Two answers any path may give are accepted without an operation of their
 * own, as the document's introduction promises: 405 `method_not_allowed` on a
 * documented path for an undocumented method (checked against that path's 405
 * response), and 404 `not_found` on an undocumented path (checked against
 * `components.responses.NotFound`).
 */
export function expectResponseToMatchSpec(res: ResponseLike, method?: string, path?: string): void {
  const r = res;
  const { doc } = load();
  const m = (method ?? r.req?.method ?? '').toLowerCase();
  const rawPath = path ?? r.req?.path ?? '';
  const concretePath = rawPath.split('?')[0] ?? '';
  const where = `${m.toUpperCase()} ${concretePath} -> ${r.status}`;
  if (!m || !concretePath) {
    throw new Error(`openapi: cannot tell the method and path of the response (${where}); pass them explicitly`);
  }

  const template = matchTemplate(concretePath);
  if (template === undefined) {
    if (r.status === 404 && isNotFoundProblem(r.body)) {
      checkResponseObject(r, ['components', 'responses', 'NotFound'], where);
      return;
    }
    throw new Error(`openapi: path not documented: ${where}`);
  }
  const pathItemPointer = ['paths', template];
  const pathItem = asObject(resolvePointer(doc, pathItemPointer), template);

  let responsesPointer: string[];
  if (pathItem[m] !== undefined) {
    responsesPointer = [...pathItemPointer, m, 'responses'];
  } else {
    const sibling = HTTP_METHODS.find((x) => isObject(pathItem[x]) && hasResponse(pathItem[x] as Json, '405'));
    if (r.status === 405 && sibling !== undefined) {
      responsesPointer = [...pathItemPointer, sibling, 'responses'];
    } else {
      throw new Error(`openapi: operation not documented: ${m.toUpperCase()} ${template} (${where})`);
    }
  }

  const responses = asObject(resolvePointer(doc, responsesPointer), 'responses');
  const statusKey = String(r.status);
  const wildcardKey = `${statusKey[0]}XX`;
  const key = [statusKey, wildcardKey, 'default'].find((k) => responses[k] !== undefined);
  if (key === undefined) {
    throw new Error(
      `openapi: status ${r.status} not documented for ${m.toUpperCase()} ${template} ` +
        `(documented: ${Object.keys(responses).join(', ')}) (${where})${describeBody(r.body)}`,
    );
  }
  checkResponseObject(r, [...responsesPointer, key], `${where} [${m.toUpperCase()} ${template}]`);
}

// ---------------------------------------------------------------- internals

function checkResponseObject(r: ResponseLike, pointer: string[], where: string): void {
  const { doc } = load();
  const [responsePointer, response] = deref(doc, pointer);
  checkHeaders(r, responsePointer, response, where);
  const content = response['content'] as Json | undefined;
  const contentType = headerValue(r.headers, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();

  if (content === undefined || Object.keys(content).length === 0) {
    if (hasBody(r)) {
      throw new Error(`openapi: response has a body (${contentType ?? 'no content-type'}) but none is documented (${where})`);
    }
    return;
  }
  if (mediaType === undefined || mediaType === '') {
    throw new Error(
      `openapi: response has no content-type; documented: ${Object.keys(content).join(', ')} (${where})`,
    );
  }
  const mediaKey = Object.keys(content).find((k) => mediaTypeMatches(k, mediaType));
  if (mediaKey === undefined) {
    throw new Error(
      `openapi: media type ${mediaType} not documented (documented: ${Object.keys(content).join(', ')}) (${where})`,
    );
  }
  if (!isJsonMediaType(mediaType)) return;

  const media = asObject(content[mediaKey], mediaKey);
  if (media['schema'] === undefined) return;
  const validate = validatorFor([...responsePointer, 'content', mediaKey, 'schema']);
  if (!validate(r.body)) {
    throw new Error(
      `openapi: body does not match the schema for ${mediaKey} (${where}):\n` +
        formatErrors(validate.errors ?? []) +
        describeBody(r.body),
    );
  }
}

function checkHeaders(r: ResponseLike, responsePointer: string[], response: Json, where: string): void {
  const { doc } = load();
  const documented = response['headers'];
  if (!isObject(documented)) return;
  for (const name of Object.keys(documented)) {
    if (name.toLowerCase() === 'content-type') continue; // OpenAPI ignores it; the media type is checked instead
    const [headerPointer, header] = deref(doc, [...responsePointer, 'headers', name]);
    const value = headerValue(r.headers, name);
    if (value === undefined) {
      if (header['required'] === true) throw new Error(`openapi: required header ${name} is missing (${where})`);
      continue;
    }
    if (header['schema'] === undefined) continue;
    const [, schema] = deref(doc, [...headerPointer, 'schema']);
    const numeric = schema['type'] === 'integer' || schema['type'] === 'number';
    const candidate: unknown = numeric && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
    const validate = validatorFor([...headerPointer, 'schema']);
    if (!validate(candidate)) {
      throw new Error(
        `openapi: header ${name}: ${JSON.stringify(value)} does not match its schema (${where}):\n` +
          formatErrors(validate.errors ?? []),
      );
    }
  }
}

function validatorFor(pointer: string[]): ValidateFunction {
  const state = load();
  const ref = `${SPEC_ID}#${toJsonPointer(pointer)}`;
  let validate = state.validators.get(ref);
  if (validate === undefined) {
    validate = state.ajv.compile({ $ref: ref });
    state.validators.set(ref, validate);
  }
  return validate;
}

function matchTemplate(concretePath: string): string | undefined {
  return load().templates.find((t) => t.regex.test(concretePath))?.template;
}

/** Follows `$ref`s (local ones only) starting at `pointer`; returns the final pointer and object. */
function deref(doc: Json, pointer: string[]): [string[], Json] {
  let current = pointer;
  for (let hops = 0; hops < 20; hops++) {
    const value = asObject(resolvePointer(doc, current), current.join('/'));
    const ref = value['$ref'];
    if (typeof ref !== 'string') return [current, value];
    if (!ref.startsWith('#/')) throw new Error(`openapi: only local $refs are supported, got ${ref}`);
    current = ref.slice(2).split('/').map(unescapePointerSegment);
  }
  throw new Error(`openapi: $ref loop at ${pointer.join('/')}`);
}

function resolvePointer(doc: Json, pointer: string[]): unknown {
  let value: unknown = doc;
  for (const segment of pointer) {
    if (!isObject(value)) return undefined;
    value = value[segment];
  }
  return value;
}

function hasResponse(operation: Json, status: string): boolean {
  return isObject(operation['responses']) && operation['responses'][status] !== undefined;
}

function isNotFoundProblem(body: unknown): boolean {
  return isObject(body) && body['code'] === 'not_found';
}

function hasBody(r: ResponseLike): boolean {
  if (typeof r.text === 'string' && r.text.length > 0) return true;
  if (r.body === undefined || r.body === null || r.body === '') return false;
  if (isObject(r.body) && Object.keys(r.body).length === 0) return false;
  if (Buffer.isBuffer(r.body) && r.body.length === 0) return false;
  return true;
}

function headerValue(headers: ResponseLike['headers'] | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  const key = Object.keys(headers).find((k) => k.toLowerCase() === wanted);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

function mediaTypeMatches(documented: string, actual: string): boolean {
  const d = documented.toLowerCase();
  if (d === actual || d === '*/*') return true;
  if (d.endsWith('/*')) return actual.startsWith(d.slice(0, -1));
  return false;
}

function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

function formatErrors(errors: ErrorObject[]): string {
  return errors
    .map((e) => `  - ${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)} [${e.schemaPath}]`)
    .join('\n');
}

function describeBody(body: unknown): string {
  if (body === undefined) return '';
  const text = JSON.stringify(body);
  return `\nbody: ${text === undefined ? String(body) : text.slice(0, 2000)}`;
}

function toJsonPointer(segments: string[]): string {
  // JSON pointer escaping, then URI-fragment percent-encoding (paths hold `{…}`).
  return segments.map((s) => '/' + encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('');
}

function unescapePointerSegment(segment: string): string {
  return decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown, what: string): Json {
  if (!isObject(value)) throw new Error(`openapi: expected an object at ${what}`);
  return value;
}
