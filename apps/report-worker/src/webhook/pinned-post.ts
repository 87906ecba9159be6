// One POST to a webhook, connected to the address that was checked: the `lookup` hook answers that
// address instead of asking DNS again, so a name that rebinds between the check and the connection
// cannot send us to 127.0.0.1. TLS still verifies the certificate against the URL's host name.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from '@books/core/webhooks';

export interface PinnedPost {
  url: URL;
  address: ResolvedAddress;
  headers: Record<string, string>;
  body: string;
  /** Aborts the whole exchange (connect, send, the answer's status). */
  signal: AbortSignal;
}

const pinnedLookup =
  ({ address, family }: ResolvedAddress): LookupFunction =>
  (_hostname, options, callback) => {
    // Node asks for every address (options.all) when it may try several (autoSelectFamily).
    if (options.all) (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };

/** Sends the body and answers the receiver's status once it has one; redirects are not followed. */
export function postPinned(post: PinnedPost): Promise<{ status: number }> {
  const client = post.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      post.url,
      {
        method: 'POST',
        headers: { ...post.headers, 'content-length': String(Buffer.byteLength(post.body)) },
        lookup: pinnedLookup(post.address),
        signal: post.signal,
        // A connection of its own, closed after the answer: no pooled socket to a host that may rebind.
        agent: false,
      },
      (response) => {
        // The body is not read: only the status counts, and a receiver may send anything. A body
        // still streaming when the timeout aborts errors here, after the status was answered: ignored.
        response.on('error', () => {});
        response.resume();
        resolve({ status: response.statusCode ?? 0 });
      },
    );
    request.on('error', reject);
    request.end(post.body);
  });
}
