/** Redaction finds a registered secret in every form it is written in, not only the literal. */
import { describe, expect, it } from 'vitest';
import { redact, registerSecret } from '../../src/log.js';

const secret = 'Zx9/redact+me "SÉCRET" &=%\\ ~*';
registerSecret(secret);

function forms(s: string): Record<string, string> {
  const b = Buffer.from(s, 'utf8');
  return {
    literal: s,
    'percent-encoded': encodeURIComponent(s),
    'percent-encoded, lower-case hex': encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    'form-encoded': new URLSearchParams({ k: s }).toString().slice(2),
    'JSON-escaped': JSON.stringify(s).slice(1, -1),
    'JSON-escaped, ASCII only': JSON.stringify(s).slice(1, -1).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    base64: b.toString('base64'),
    base64url: b.toString('base64url'),
  };
}

describe('redact', () => {
  for (const [name, form] of Object.entries(forms(secret))) {
    it(`hides the ${name} form`, () => {
      const out = redact(`before ${form} after`);
      expect(out).toMatch(/^before .*\[REDACTED\].* after$/);
      expect(out).not.toContain(form);
    });
  }

  it('hides the secret inside a longer base64 string, at every byte offset', () => {
    for (const prefix of ['user:', 'us:', 'u:']) {
      for (const suffix of ['', ':x', ':xy']) {
        const b64 = Buffer.from(`${prefix}${secret}${suffix}`, 'utf8').toString('base64');
        const out = redact(`authorization: Basic ${b64}`);
        expect(out, `${prefix}…${suffix}`).toContain('[REDACTED]');
        // at most the few characters that mix the secret's bits with its neighbours' remain
        expect(out.replace(/\[REDACTED\]/, '').length).toBeLessThan(`authorization: Basic `.length + 12);
      }
    }
  });

  it('hides a JSON document that holds the secret, as serialized', () => {
    const body = JSON.stringify({ error: 'refused', echo: { api_key: secret } });
    expect(redact(body)).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(redact(body)).toContain('[REDACTED]');
  });

  it('leaves text without secrets alone', () => {
    expect(redact('nothing to see: abc, 123, base64 aGVsbG8=')).toBe('nothing to see: abc, 123, base64 aGVsbG8=');
  });
});
