import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Config } from '../core/config.js';

/** The PEM certificate (chain) and private key every TLS listener (MQTTS, HTTPS, WSS) serves. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads GRIDPATROL_TLS_CERT_FILE and GRIDPATROL_TLS_KEY_FILE and checks that they are PEM and belong
 * together, so that a bad file stops the start with one line naming the setting rather than
 * failing the first handshake. Undefined when TLS is not configured.
 */
export function loadTls(tls: Config['tls']): TlsFiles | undefined {
  if (!tls) return undefined;
  const read = (setting: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`invalid setting ${setting}=${JSON.stringify(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const cert = read('GRIDPATROL_TLS_CERT_FILE', tls.certFile);
  const key = read('GRIDPATROL_TLS_KEY_FILE', tls.keyFile);
  if (!/-----BEGIN CERTIFICATE-----/.test(cert.toString('latin1')))
    throw new Error(`invalid setting GRIDPATROL_TLS_CERT_FILE=${JSON.stringify(tls.certFile)}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1')))
    throw new Error(`invalid setting GRIDPATROL_TLS_KEY_FILE=${JSON.stringify(tls.keyFile)}: not a PEM private key (expected -----BEGIN ... PRIVATE KEY-----)`);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's words: "key values mismatch" when the key is not the certificate's, a bad decrypt for a key with a passphrase
    throw new Error(`invalid setting GRIDPATROL_TLS_KEY_FILE=${JSON.stringify(tls.keyFile)}: cannot be used with GRIDPATROL_TLS_CERT_FILE=${JSON.stringify(tls.certFile)} (${(err as Error).message}; expected the certificate's own key, without a passphrase)`);
  }
  return { cert, key };
}
