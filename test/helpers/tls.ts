import { generate } from 'selfsigned';

/** A self-signed certificate for 127.0.0.1 and its key, PEM. The certificate is its own CA. */
export interface TlsPair {
  readonly key: string;
  readonly cert: string;
}

let pending: Promise<TlsPair> | undefined;

/**
 * A self-signed certificate valid for `127.0.0.1` and `localhost`, generated once per process
 * (key generation is slow). Trust it on the client side with `{ ca: pair.cert }`.
 */
export function selfSignedPair(): Promise<TlsPair> {
  pending ??= generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  }).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return pending;
}
