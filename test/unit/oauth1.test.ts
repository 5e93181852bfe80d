import { describe, expect, it } from 'vitest';
import { oauth1Header, oauth1Params, parseOAuthHeader, verifyOAuth1Request } from '../../src/http/index.js';

// OAuth Core 1.0 Appendix A (photos.example.net; the example RFC 5849 builds on), with oauth_version
const photos = {
  creds: { consumerKey: 'dpf43f3p2l4k3l03', consumerSecret: 'kd94hf93k423kf44', token: 'nnch734d00sl2jdk', tokenSecret: 'pfkkdhi9sl3r4s00' },
  req: { method: 'GET', url: 'http://photos.example.net/photos?file=vacation.jpg&size=original' },
  opts: { nonce: 'kllo9940pd9333jh', timestamp: 1191242096 },
  expected: 'tR3+Ty81lMeYAr/Fid0kMTYa/WM=',
};

// Twitter's "Creating a signature" page
const twitter = {
  creds: {
    consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
    consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
    token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
    tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
  },
  req: {
    method: 'POST',
    url: 'https://api.twitter.com/1.1/statuses/update.json?include_entities=true',
    form: { status: 'Hello Ladies + Gentlemen, a signed OAuth request!' },
  },
  opts: { nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg', timestamp: 1318622958 },
  expected: 'hCtSmYh+iHYCEqBWrE7C7hYmtUk=',
};

const lookup = (c: { consumerKey: string; consumerSecret: string; token: string; tokenSecret: string }) => ({
  consumerSecret: (k: string) => (k === c.consumerKey ? c.consumerSecret : undefined),
  tokenSecret: (t: string) => (t === c.token ? c.tokenSecret : undefined),
  maxSkewSeconds: Infinity,
});

describe('oauth1 signing', () => {
  it('matches the photos.example.net example', () => {
    expect(oauth1Params(photos.creds, photos.req, photos.opts).oauth_signature).toBe(photos.expected);
  });

  it("matches Twitter's documented example (query + form body signed)", () => {
    expect(oauth1Params(twitter.creds, twitter.req, twitter.opts).oauth_signature).toBe(twitter.expected);
  });

  it('puts the realm in the header but not in the signature', () => {
    const header = oauth1Header(photos.creds, photos.req, { ...photos.opts, realm: 'Example' });
    const parsed = parseOAuthHeader(header);
    expect(header.startsWith('OAuth realm="Example", ')).toBe(true);
    expect(parsed?.oauth_signature).toBe(photos.expected);
    expect(parsed?.oauth_consumer_key).toBe('dpf43f3p2l4k3l03');
  });

  it('gnoss profile signs GET + URL without query + oauth params only', () => {
    const post = { method: 'POST', url: 'https://api.example.es/v3/user/modify-user?community_short_name=x' };
    const gnoss = oauth1Params(photos.creds, post, { ...photos.opts, profile: 'gnoss' }).oauth_signature;
    const bare = oauth1Params(photos.creds, { method: 'GET', url: 'https://api.example.es/v3/user/modify-user' }, photos.opts).oauth_signature;
    expect(gnoss).toBe(bare);
    expect(oauth1Params(photos.creds, post, photos.opts).oauth_signature).not.toBe(gnoss);
  });
});

describe('oauth1 verification', () => {
  it('accepts the published examples', () => {
    const photosHeader = oauth1Header(photos.creds, photos.req, photos.opts);
    expect(verifyOAuth1Request({ ...photos.req, headers: { authorization: photosHeader } }, lookup(photos.creds))).toMatchObject({ ok: true });
    const twitterHeader = oauth1Header(twitter.creds, twitter.req, twitter.opts);
    expect(
      verifyOAuth1Request({ ...twitter.req, headers: { authorization: twitterHeader } }, lookup(twitter.creds)),
    ).toEqual({ ok: true, consumerKey: twitter.creds.consumerKey, token: twitter.creds.token });
  });

  it('refuses a tampered parameter, a wrong secret and an unknown consumer', () => {
    const header = oauth1Header(twitter.creds, twitter.req, twitter.opts);
    const tampered = { ...twitter.req, form: { status: 'Hello Ladies' }, headers: { authorization: header } };
    expect(verifyOAuth1Request(tampered, lookup(twitter.creds))).toEqual({ ok: false, reason: 'Invalid OAuth signature' });
    const wrong = { ...lookup(twitter.creds), tokenSecret: () => 'not-the-secret' };
    expect(verifyOAuth1Request({ ...twitter.req, headers: { authorization: header } }, wrong).ok).toBe(false);
    const unknown = { ...lookup(twitter.creds), consumerSecret: () => undefined };
    expect(verifyOAuth1Request({ ...twitter.req, headers: { authorization: header } }, unknown)).toEqual({ ok: false, reason: 'unknown consumer key' });
  });

  it('checks the timestamp window', () => {
    const header = oauth1Header(photos.creds, photos.req, photos.opts);
    const res = verifyOAuth1Request({ ...photos.req, headers: { authorization: header } }, { ...lookup(photos.creds), maxSkewSeconds: 300 });
    expect(res).toEqual({ ok: false, reason: 'timestamp out of range' });
  });

  it('gnoss: accepts the wrapper signature on a POST, with or without query params, and refuses the RFC one', () => {
    const url = 'http://127.0.0.1:8080/v3/user/modify-user?community_short_name=x';
    const v = { ...lookup(photos.creds), profile: 'gnoss' as const };
    const asWrapper = oauth1Header(photos.creds, { method: 'POST', url }, { ...photos.opts, profile: 'gnoss' });
    expect(verifyOAuth1Request({ method: 'POST', url, headers: { authorization: asWrapper } }, v).ok).toBe(true);
    const withQuery = oauth1Header(photos.creds, { method: 'GET', url }, photos.opts);
    expect(verifyOAuth1Request({ method: 'POST', url, headers: { authorization: withQuery } }, v).ok).toBe(true);
    const rfc = oauth1Header(photos.creds, { method: 'POST', url }, photos.opts);
    expect(verifyOAuth1Request({ method: 'POST', url, headers: { authorization: rfc } }, v).ok).toBe(false);
  });

  it('accepts oauth parameters in the query string', () => {
    const params = oauth1Params(photos.creds, photos.req, photos.opts);
    const url = `${photos.req.url}&${new URLSearchParams(params).toString()}`;
    expect(verifyOAuth1Request({ method: 'GET', url, headers: {} }, lookup(photos.creds)).ok).toBe(true);
  });
});
