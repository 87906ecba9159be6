// The webhook URL rules: https only, and every resolved address public (ipaddr.js's ranges).
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, type HostResolver, refusedAddressReason } from '../src/webhooks/url-policy.js';

const resolvesTo =
  (...addresses: string[]): HostResolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
const strict = (resolve: HostResolver = resolvesTo('93.184.215.14')) => ({ allowPrivate: false, resolve });

describe('webhook URL policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.10.10', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['169.254.169.254', 'cloud metadata'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(refusedAddressReason(address)).toContain(kind);
  });

  it.each(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'])('accepts the public address %s', (address) => {
    expect(refusedAddressReason(address)).toBeNull();
  });

  it('accepts an https URL whose every address is public, and answers the address to connect to', async () => {
    const verdict = await checkWebhookUrl('https://hooks.example.com/books', strict(resolvesTo('93.184.215.14', '2606:2800::1')));
    expect(verdict).toMatchObject({ ok: true, address: { address: '93.184.215.14', family: 4 } });
  });

  it('refuses http, credentials and non-URLs', async () => {
    expect(await checkWebhookUrl('http://hooks.example.com/', strict())).toMatchObject({ ok: false, code: 'WEBHOOK_URL_INVALID' });
    expect(await checkWebhookUrl('https://u:p@hooks.example.com/', strict())).toMatchObject({ ok: false, code: 'WEBHOOK_URL_INVALID' });
    expect(await checkWebhookUrl('not a url', strict())).toMatchObject({ ok: false, code: 'WEBHOOK_URL_INVALID' });
    expect(await checkWebhookUrl('ftp://hooks.example.com/', strict())).toMatchObject({ ok: false, code: 'WEBHOOK_URL_INVALID' });
  });

  it('refuses a host with one private address among public ones', async () => {
    const verdict = await checkWebhookUrl('https://hooks.example.com/', strict(resolvesTo('93.184.215.14', '10.0.0.5')));
    expect(verdict).toMatchObject({ ok: false, code: 'WEBHOOK_URL_FORBIDDEN_ADDRESS' });
    if (!verdict.ok) expect(verdict.reason).toContain('10.0.0.5 is a private address');
  });

  it('refuses IP literals in refused ranges without resolving them', async () => {
    const never: HostResolver = async () => {
      throw new Error('must not resolve a literal');
    };
    expect(await checkWebhookUrl('https://[::1]:8443/', strict(never))).toMatchObject({ ok: false, code: 'WEBHOOK_URL_FORBIDDEN_ADDRESS' });
    expect(await checkWebhookUrl('https://169.254.169.254/latest', strict(never))).toMatchObject({
      ok: false,
      code: 'WEBHOOK_URL_FORBIDDEN_ADDRESS',
    });
  });

  it('refuses a host that does not resolve', async () => {
    const fails: HostResolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    expect(await checkWebhookUrl('https://nowhere.invalid/', strict(fails))).toMatchObject({ ok: false, code: 'WEBHOOK_URL_UNRESOLVABLE' });
  });

  it('WEBHOOK_ALLOW_PRIVATE: http and loopback allowed, other schemes still refused', async () => {
    const lax = { allowPrivate: true, resolve: resolvesTo('127.0.0.1') };
    expect(await checkWebhookUrl('http://127.0.0.1:4000/hook', lax)).toMatchObject({ ok: true });
    expect(await checkWebhookUrl('ftp://127.0.0.1/', lax)).toMatchObject({ ok: false, code: 'WEBHOOK_URL_INVALID' });
  });
});
