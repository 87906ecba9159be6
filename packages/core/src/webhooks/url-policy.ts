// Which URLs a webhook may point at, checked when it is set (PUT /me/webhook) and again before every
// delivery: a host that resolved to a public address then may resolve to 127.0.0.1 now (DNS
// rebinding), so the sender checks every address it resolves and connects to the one it checked.
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address of a host name, as the sender would connect to it; injectable so tests can rebind. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));

export type WebhookUrlRefusalCode = 'WEBHOOK_URL_INVALID' | 'WEBHOOK_URL_UNRESOLVABLE' | 'WEBHOOK_URL_FORBIDDEN_ADDRESS';

export type WebhookUrlVerdict =
  | {
      ok: true;
      url: URL;
      /** The address to connect to: checked (unless private addresses are allowed), never resolved again. */
      address: ResolvedAddress;
    }
  | { ok: false; code: WebhookUrlRefusalCode; reason: string };

export interface WebhookUrlPolicy {
  /** WEBHOOK_ALLOW_PRIVATE: http and any address allowed (local development and tests). */
  allowPrivate: boolean;
  resolve: HostResolver;
}

// Cloud metadata services (169.254.169.254, fd00:ec2::254), in ipaddr.js's normalized form: named so
// that the refusal says what was at stake; both are also in refused ranges (link-local, unique-local).
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2:0:0:0:0:0:254']);

// ipaddr.js names every special-purpose block; only what it calls plain unicast is the public internet.
const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address',
  uniqueLocal: 'a unique-local address',
  carrierGradeNat: 'a carrier-grade NAT address',
  unspecified: 'the unspecified address',
};

/** Why `address` may not receive webhooks, or null when it is a public unicast address. */
export function refusedAddressReason(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process(): an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it is.
    parsed = ipaddr.process(address);
  } catch {
    return `${address} is not an IP address`;
  }
  if (METADATA_ADDRESSES.has(parsed.toNormalizedString())) {
    return `${address} is a cloud metadata address`;
  }
  const range = parsed.range();
  if (range === 'unicast') return null;
  return `${address} is ${RANGE_NAMES[range] ?? `a special-purpose address (${range})`}`;
}

/**
 * Checks a webhook URL: http(s) only, https unless private addresses are allowed; the host resolved
 * and every one of its addresses public. Answers the address to connect to, so that the caller never
 * resolves the name a second time. WEBHOOK_ALLOW_PRIVATE lifts the https and address rules only.
 */
export async function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): Promise<WebhookUrlVerdict> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, code: 'WEBHOOK_URL_INVALID', reason: 'the webhook URL is not a valid absolute URL' };
  }
  const allowed = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!allowed.includes(url.protocol)) {
    return {
      ok: false,
      code: 'WEBHOOK_URL_INVALID',
      reason: `the webhook URL must use ${policy.allowPrivate ? 'http or https' : 'https'}`,
    };
  }
  if (url.username || url.password) {
    return { ok: false, code: 'WEBHOOK_URL_INVALID', reason: 'the webhook URL must not carry a user name or password' };
  }
  // URL keeps the brackets of an IPv6 literal.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: ResolvedAddress[];
  try {
    addresses = ipaddr.isValid(host) ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await policy.resolve(host);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return {
      ok: false,
      code: 'WEBHOOK_URL_UNRESOLVABLE',
      reason: `the webhook host ${host} could not be resolved${code ? ` (${code})` : ''}`,
    };
  }
  const [first] = addresses;
  if (!first) return { ok: false, code: 'WEBHOOK_URL_UNRESOLVABLE', reason: `the webhook host ${host} has no address` };
  // Resolved and pinned even when private addresses are allowed, so that tests run the path production does.
  if (policy.allowPrivate) return { ok: true, url, address: first };
  // Every address, not only the first: a client may connect to any of them.
  for (const { address } of addresses) {
    const reason = refusedAddressReason(address);
    if (reason) return { ok: false, code: 'WEBHOOK_URL_FORBIDDEN_ADDRESS', reason: `the webhook host ${host} resolves to ${reason}` };
  }
  return { ok: true, url, address: first };
}
