import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';
import { RuleSourceError } from '../errors';
import { asError, describeError } from '../internal/caught';
import { checkFormat, parseRuleDocument, type RuleDocumentFormat } from '../rule-document';
import type { RuleSource, RuleSourceUpdate } from '../rule-source';
import { DEFAULT_ETCD_REQUEST_TIMEOUT_MS, type EtcdConnectionOptions, etcdClient } from './etcd-client';
import { KeyWatch } from './key-watch';

/** Options of {@link etcdRuleSource}. */
export interface EtcdRuleSourceOptions extends EtcdConnectionOptions {
  /** The key holding the rule document (an array of rules or `{ rules: [...] }`, JSON or YAML). Required. */
  readonly key: string;
  /** Default `auto`. */
  readonly format?: RuleDocumentFormat | undefined;
}

const ETCD_RULE_SOURCE_OPTION_KEYS: readonly string[] = Object.keys({
  endpoints: 1,
  client: 1,
  clientOptions: 1,
  requestTimeoutMs: 1,
  key: 1,
  format: 1,
} satisfies Record<keyof EtcdRuleSourceOptions, 1>);

/**
 * A rule source watching one etcd key (the etcd a fleet already runs for discovery). The key is
 * read, then watched from the read's revision, so no change is lost; each value is one rule set,
 * and `RuleSet.revision` is the key's mod revision. etcd unreachable or the key deleted: reported
 * once, the last good set stays, and the source re-reads with backoff (250 ms doubling to 5 s).
 * A change reaches the edge in one watch round trip (milliseconds on a LAN).
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options.
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` when `etcd3` is not installed.
 * @example
 * import { etcdRuleSource } from '@graylane/rules/etcd';
 * app.use(laneEdge({ rules: etcdRuleSource({ endpoints: 'http://10.0.0.5:2379', key: '/graylane/rules/edge' }) }));
 * // etcdctl put /graylane/rules/edge '[{"lane":"gray","weight":30,"sticky":{"cookie":"uid"}}]'
 */
export function etcdRuleSource(options: EtcdRuleSourceOptions): RuleSource {
  assertKnownOptions('etcdRuleSource()', options, ETCD_RULE_SOURCE_OPTION_KEYS);
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'expected { endpoints, key }');
  if (typeof options.key !== 'string' || options.key.length === 0)
    throw new InvalidOptionError('key', 'expected an etcd key');
  const format = checkFormat(options.format, 'format');
  const requestTimeoutMs = positiveOption(
    options.requestTimeoutMs,
    'requestTimeoutMs',
    DEFAULT_ETCD_REQUEST_TIMEOUT_MS,
  );
  const { client, owned } = etcdClient(options, 'etcdRuleSource()');
  const name = `etcd:${options.key}`;
  let watch: KeyWatch | undefined;
  return {
    name,
    start(listener: (update: RuleSourceUpdate) => void) {
      let lastRevision: string | undefined;
      watch = new KeyWatch(client, options.key, requestTimeoutMs, (event) => {
        if (!event.ok) {
          listener({
            ok: false,
            kind: 'unavailable',
            error: new RuleSourceError(name, `cannot read: ${describeError(event.error)}`, {
              cause: event.error,
            }),
          });
          return;
        }
        if (event.modRevision === lastRevision) return;
        lastRevision = event.modRevision;
        if (event.value === undefined) {
          listener({
            ok: false,
            kind: 'unavailable',
            error: new RuleSourceError(name, 'key not found (or deleted)'),
          });
          return;
        }
        let document: unknown;
        try {
          document = parseRuleDocument(event.value, format);
        } catch (error) {
          listener({
            ok: false,
            kind: 'invalid',
            error: new RuleSourceError(name, `cannot parse: ${describeError(error)}`, {
              cause: asError(error),
            }),
          });
          return;
        }
        listener({ ok: true, document, revision: event.modRevision });
      });
      watch.start();
    },
    async close() {
      await watch?.close();
      if (owned) client.close();
    },
  };
}
