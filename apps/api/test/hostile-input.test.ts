// Hostile input, generated: every route of the live OpenAPI document is driven with generated path
// parameters, query strings, headers and bodies (wrong types, control characters, lone surrogates,
// huge numbers, long strings, deep nesting, __proto__ keys, junk tokens), with a real user's token
// and without. Whatever comes in: never a 5xx, every error is the envelope, no stack trace or SQL
// in any body, and nothing stored for a rejected write. A new route is covered without editing this.
import { createHmac } from 'node:crypto';
import { scanKeys, verifyEmail } from '@books/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, addBook, signup, startApi, type TestUser } from './helpers.js';

const RUNS_PER_ARM = 30;
const ADMIN_EMAIL = 'hostile-admin@example.com';

type Schema = Record<string, unknown> & { $ref?: string };
interface Operation {
  method: string;
  path: string;
  parameters: { in: string; name: string; schema?: Schema }[];
  body?: Schema;
}

let h: ApiHarness;
let user: TestUser;
let admin: TestUser;
let bookId: string;
let operations: Operation[];
let components: Record<string, Schema>;
beforeAll(async () => {
  h = await startApi('hostile-input', { ADMIN_EMAILS: ADMIN_EMAIL });
  [user, admin] = await Promise.all([signup(h.app), signup(h.app, { email: ADMIN_EMAIL })]);
  await verifyEmail(h.ctx.database.url, admin.id);
  bookId = (await addBook(h.app, user, { title: 'Existing', author: 'A' })).id;
  const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json();
  components = doc.components?.schemas ?? {};
  operations = [];
  for (const [path, ops] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const content = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content;
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters as Operation['parameters']) ?? [],
        body: content?.['application/json']?.schema,
      });
    }
  }
});
afterAll(() => h?.close());

// ---- values ---------------------------------------------------------------------------------

// A JSON literal JSON.stringify cannot write (1e999, -0, a 30-digit integer, deep nesting): a marker
// string in the value, replaced by the raw text once the body is serialised.
const RAW = (text: string) => `\u0001RAW:${text}\u0001`;
const toJsonText = (value: unknown) =>
  JSON.stringify(value).replace(/"\\u0001RAW:(.*?)\\u0001"/g, (_m, raw: string) => raw.replace(/\\"/g, '"'));

const forbiddenChar = fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0085', '\u007f', '\n', '\r', '\t', '\u001b', '\u2028', '\ufeff');
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), forbiddenChar), { maxLength: 8 }).map((parts) => parts.join('')),
  fc.constantFrom(201, 501, 5_000, 300_000).map((n) => 'x'.repeat(n)),
  fc.constantFrom("'; drop table books; --", "' OR '1'='1", '%', '_', '\\', '<script>', '   ', ''),
  fc.uuid().map((id) => `urn:uuid:${id}`),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(
    RAW('1e308'),
    RAW('-1e308'),
    RAW('1e999'),
    RAW('-0'),
    RAW('123456789012345678901234567890'),
    RAW('2147483648'),
    RAW('0.5'),
  ),
  fc.double(),
  fc.integer(),
);
const deepNesting = fc.integer({ min: 10, max: 20_000 }).map((depth) => RAW(`${'['.repeat(depth)}${']'.repeat(depth)}`));
const poisonedObject = fc.constantFrom(
  RAW('{"__proto__":{"admin":true}}'),
  RAW('{"constructor":{"prototype":{"admin":true}}}'),
  RAW('{"__proto__":null,"title":"T","author":"A"}'),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
  deepNesting,
  poisonedObject,
);

const KNOWN_GOOD: Record<string, fc.Arbitrary<unknown>> = {
  isbn: fc.constantFrom('9780441172719', '0-306-40615-2', '080442957X', null),
};

const resolve = (schema: Schema): Schema => {
  if (!schema.$ref) return schema;
  const name = schema.$ref.split('/').pop()!;
  return components[name] ?? {};
};

/**
 * Values for a schema: valid ones when `hostile` is false (so requests also get past validation),
 * otherwise valid ones with hostile values mixed in at every level.
 */
function fromSchema(raw: Schema, hostile: boolean, depth = 0, name = ''): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  // A random string almost never passes a checksum: known good values let some requests through.
  const known = KNOWN_GOOD[name];
  if (known && !hostile) return known;
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (variants) {
    const valid = fc.oneof(...variants.map((s) => fromSchema(s, hostile, depth)));
    return hostile ? fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: hostileValue }) : valid;
  }
  let valid: fc.Arbitrary<unknown>;
  switch (schema.type) {
    case 'string': {
      const max = Math.min(Number(schema.maxLength ?? 40), 40);
      const min = Number(schema.minLength ?? 0);
      if (schema.format === 'email') valid = fc.emailAddress();
      else if (schema.format === 'uuid') valid = fc.uuid();
      else if (typeof schema.pattern === 'string')
        valid = fc.stringMatching(new RegExp(schema.pattern, 'u')).filter((s) => s.length >= min && s.length <= Math.max(max, min));
      else valid = fc.string({ minLength: min, maxLength: Math.max(max, min) });
      break;
    }
    case 'integer':
      valid = fc.integer({ min: Number(schema.minimum ?? -1000), max: Number(schema.maximum ?? 1000) });
      break;
    case 'number':
      valid = fc.double({ noNaN: true });
      break;
    case 'boolean':
      valid = fc.boolean();
      break;
    case 'null':
      valid = fc.constant(null);
      break;
    case 'array':
      valid = depth > 3 ? fc.constant([]) : fc.array(fromSchema((schema.items as Schema) ?? {}, hostile, depth + 1), { maxLength: 4 });
      break;
    case 'object': {
      const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
      const fields = Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, fromSchema(s, hostile, depth + 1, k)]));
      const required = ((schema.required as string[] | undefined) ?? []).filter((k) => k in fields);
      const known = hostile ? fc.record(fields, { requiredKeys: [] }) : fc.record(fields, { requiredKeys: required });
      const extra = hostile
        ? fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', 'userId', 'version', 'x'), hostileValue, {
            maxKeys: 2,
          })
        : fc.constant({});
      valid = fc.tuple(known, extra).map(([k, e]) => ({ ...e, ...k }));
      break;
    }
    default:
      valid = hostile ? hostileValue : fc.jsonValue({ maxDepth: 2 });
  }
  return hostile ? fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: hostileValue }) : valid;
}

const bodyText = (schema: Schema | undefined) =>
  fc.oneof(
    { weight: 2, arbitrary: (schema ? fromSchema(schema, false) : hostileValue).map(toJsonText) },
    { weight: 4, arbitrary: (schema ? fromSchema(schema, true) : hostileValue).map(toJsonText) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('{', '{"title":', '[]', 'null', '"text"', '{"a":1}{"b":2}', '\u0000', '{"title":"\\ud800"}', ''),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 50 }) },
  );

/** Percent-encodes any string, lone surrogates included (as the invalid UTF-8 a client could send). */
function percentEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const pair = unit >= 0xd800 && unit <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    if (pair) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else out += encodeURIComponent(text[i]!);
  }
  return out;
}

const rawUrlJunk = fc.constantFrom('%', '%E0%A4%A', '%zz', '%00', '%C0%80', '%ED%A0%80', '..%2F..%2Fetc', '%2e%2e', '%FF%FE');
const pathValue = fc.oneof(
  fc.uuid(),
  fc.constant('<book>'),
  fc.uuid().map((id) => `urn:uuid:${id}`),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.uuid().map((id) => `{${id}}`),
  hostileString.filter((s) => s.length < 1000).map(percentEncode),
  rawUrlJunk,
  fc.integer({ min: 90, max: 2000 }).map((n) => 'a'.repeat(n)),
);
const queryValue = fc.oneof(
  hostileString.filter((s) => s.length < 5000).map(percentEncode),
  fc.constantFrom('1e308', '-0', '99999999999999999999', 'NaN', 'Infinity', '0x10', '%201', '1.5', '-1', '', '1&limit=2'),
  rawUrlJunk,
);
const queryKey = (op: Operation) =>
  fc.oneof(
    fc.constantFrom(...op.parameters.filter((p) => p.in === 'query').map((p) => p.name), 'limit', 'search'),
    fc.constantFrom('__proto__', 'constructor', 'limit[]', 'a[b]', ''),
    rawUrlJunk,
  );

// Header values Node accepts (visible ASCII, space, tab and obs-text): invalid bytes are the raw-socket test's.
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  fc.constant('\t'),
);
const headerString = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 60 }),
  fc.constantFrom(300, 5_000).map((n) => 'x'.repeat(n)),
);

const signRaw = (claims: Record<string, unknown>) => {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', h.ctx.config.jwt.secret).update(unsigned).digest('base64url')}`;
};
const junkAuthorization = fc.oneof(
  fc.constant(undefined),
  headerString,
  headerString.map((s) => `Bearer ${s}`),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Bearer ${'a'.repeat(10_000)}`, 'Bearer a.b.c', 'bearer  x'),
  fc
    .constantFrom<(id: string) => Record<string, unknown>>(
      (id) => ({ sub: [id], role: 'user', iat: 1, exp: 9_999_999_999 }),
      (id) => ({ sub: id, role: 'user', iat: 1, exp: '9999999999' }),
      (id) => ({ sub: id, role: ['admin'], iat: 1, exp: 9_999_999_999 }),
      (id) => ({ sub: `urn:uuid:${id}`, role: 'admin', iat: 1, exp: 9_999_999_999 }),
      (id) => ({ sub: id, role: 'admin', iat: 1, exp: 2 }),
      () => ({ sub: { $ne: null }, role: 'admin', iat: 1, exp: 9_999_999_999 }),
    )
    .map((claims) => `Bearer ${signRaw(claims(user.id))}`),
);
const ifMatch = fc.oneof(
  headerString,
  fc.constantFrom('"99999999999"', '"1e308"', '1e308', '*', 'W/"1"', '"1"', '"-0"', '"', '""', ',,,', '"1", "2"', `"${'9'.repeat(400)}"`),
);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  fc.constantFrom(
    'application/json; charset=utf-8',
    'application/json; charset=utf-16',
    'APPLICATION/JSON',
    'application/json;;;',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    '*/*',
  ),
);

const requestArb = (op: Operation, authorization: fc.Arbitrary<string | undefined>) =>
  fc.record({
    pathValues: fc.array(pathValue, { minLength: 8, maxLength: 8 }),
    query: fc.array(fc.tuple(queryKey(op), queryValue), { maxLength: 4 }),
    authorization,
    ifMatch: fc.option(ifMatch),
    idempotencyKey: fc.option(fc.oneof(headerString, fc.constantFrom('', ' ', 'x'.repeat(201)))),
    requestId: fc.option(headerString),
    contentType: fc.option(contentType, { freq: 10 }),
    body: fc.option(bodyText(op.body), { freq: op.body ? 8 : 2 }),
  });

// ---- what must hold -----------------------------------------------------------------------------

const LEAK =
  /\n\s+at |\bat \S+ \(|node:internal|\/work\/|node_modules|\.[cm]?[jt]s:\d+|syntax error|violates|relation "|invalid input syntax|SQLSTATE|\\x00|FST_ERR|DrizzleQueryError|PostgresError|ECONNREFUSED/;

async function storedState() {
  const [[books], [users]] = await Promise.all([
    h.app
      .sql`select count(*)::int as n, coalesce(sum(version), 0)::int as versions, coalesce(max(updated_at)::text, '') as changed from books`,
    h.app.sql`select count(*)::int as n from users`,
  ]);
  const bulkKeys = (await scanKeys(h.app.redis, `${h.ctx.namespace.prefix}bulk`)).sort();
  // DUMP: the exact serialised value, so a changed list or hash shows, not only a new key.
  const values = await Promise.all(bulkKeys.map(async (key) => `${key}=${(await h.app.redis.dumpBuffer(key))?.toString('base64')}`));
  return { books, users, bulk: values };
}

function expectWellBehaved(label: string, res: { statusCode: number; body: string; headers: Record<string, unknown> }) {
  expect(res.statusCode, `${label} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
  expect(res.body, label).not.toMatch(LEAK);
  if (res.statusCode >= 400) {
    let body: unknown;
    expect(() => {
      body = JSON.parse(res.body);
    }, `${label}: error body is JSON`).not.toThrow();
    expect(body, label).toMatchObject({ success: false, code: expect.any(String), error: expect.any(String) });
  }
}

// Per route: how many requests, by status, so a run shows it reached past validation too.
const sent = new Map<string, Map<number, number>>();
const count = (route: string, status: number) => {
  const byStatus = sent.get(route) ?? new Map<number, number>();
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  sent.set(route, byStatus);
};

async function renewEndedSessions() {
  for (const account of [user, admin]) {
    const me = await h.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${account.token}` } });
    if (me.statusCode !== 401) continue;
    const login = await h.app.inject({ method: 'POST', url: '/auth/login', payload: { email: account.email, password: account.password } });
    expect(login.statusCode, 'signing in again after a logout').toBe(200);
    account.token = login.json().token;
    account.auth = { authorization: `Bearer ${account.token}` };
  }
}

async function drive(op: Operation, arm: 'authenticated' | 'unauthenticated') {
  const token = op.path.startsWith('/admin') ? admin.token : user.token;
  // A valid token on DELETE /auth/me would delete the user every other request relies on.
  if (arm === 'authenticated' && op.method === 'DELETE' && op.path === '/auth/me') return;
  const authorization = arm === 'authenticated' ? fc.constant(`Bearer ${token}`) : junkAuthorization;
  const key = `${op.method} ${op.path}`;
  await fc.assert(
    fc.asyncProperty(requestArb(op, authorization), async (r) => {
      let i = 0;
      const path = op.path.replace(/\{[^}]+\}/g, () => {
        const value = r.pathValues[i++]!;
        return value === '<book>' ? bookId : value;
      });
      const query = r.query.map(([k, v]) => `${k}=${v}`).join('&');
      const url = query ? `${path}?${query}` : path;
      const headers: Record<string, string> = {};
      if (r.authorization !== undefined) headers.authorization = r.authorization;
      if (r.ifMatch !== null) headers['if-match'] = r.ifMatch;
      if (r.idempotencyKey !== null) headers['idempotency-key'] = r.idempotencyKey;
      if (r.requestId !== null) headers['x-request-id'] = r.requestId;
      if (r.contentType !== null) headers['content-type'] = r.contentType;
      const writes = op.method !== 'GET';
      const before = writes ? await storedState() : undefined;
      const res = await h.app.inject({
        method: op.method as 'GET',
        url,
        headers,
        ...(r.body !== null && op.method !== 'GET' ? { payload: r.body } : {}),
      });
      count(key, res.statusCode);
      const label = `${op.method} ${url.slice(0, 200)} [${arm}]`;
      expectWellBehaved(label, res);
      if (writes && res.statusCode >= 400) expect(await storedState(), `${label}: nothing stored`).toEqual(before);
    }),
    { numRuns: RUNS_PER_ARM },
  );
}

describe('every route in the OpenAPI document, driven with generated hostile requests', () => {
  it('lists the routes it drives', () => {
    expect(operations.length).toBeGreaterThanOrEqual(10);
  });

  for (const arm of ['authenticated', 'unauthenticated'] as const) {
    it(`never answers 5xx, a stack trace or SQL, and stores nothing it refuses (${arm})`, async () => {
      for (const op of operations) {
        await drive(op, arm);
        // A logout (or logout-all) with the valid token ends its session: sign in again, so the
        // routes driven next still get past authentication.
        await renewEndedSessions();
      }
    }, 120_000);
  }

  it('serves the docs assets without a 5xx for any path under /docs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(pathValue, fc.constantFrom('', 'json', 'yaml', 'static/index.html', 'static/../../package.json')),
        async (tail) => {
          const res = await h.app.inject({ method: 'GET', url: `/docs/${tail}` });
          count('GET /docs/*', res.statusCode);
          expect(res.statusCode, `/docs/${tail} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
          // A stack frame, not prose: the YAML document folds long descriptions, so a line may begin with "at".
          expect(res.body).not.toMatch(/\n\s+at (\S+ \()?\S+:\d+:\d+|node:internal|\/work\//);
        },
      ),
      { numRuns: RUNS_PER_ARM },
    );
  });

  afterAll(() => {
    let total = 0;
    const lines = [...sent].map(([route, byStatus]) => {
      const n = [...byStatus.values()].reduce((a, b) => a + b, 0);
      total += n;
      const statuses = [...byStatus].sort(([a], [b]) => a - b).map(([status, k]) => `${status}×${k}`);
      return `  ${route.padEnd(28)} ${String(n).padStart(4)}  ${statuses.join(' ')}`;
    });
    console.log(`hostile-input: requests sent per route (by status)\n${lines.join('\n')}\n  total ${total}`);
  });
});
