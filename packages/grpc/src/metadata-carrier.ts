import type { CarrierGetter, CarrierSetter } from '@graylane/core';
import type { Metadata } from '@grpc/grpc-js';

// grpc-js's own rules: Metadata.set throws on anything else.
const METADATA_KEY = /^[0-9a-z_.-]+$/;
const METADATA_TEXT_VALUE = /^[ -~]*$/;

/**
 * True when `key` is a text (non-binary) gRPC metadata key grpc-js accepts.
 *
 * @example
 * isTextMetadataKey('x-mse-tag'); // true
 * isTextMetadataKey('trace-bin'); // false
 */
export function isTextMetadataKey(key: string): boolean {
  return METADATA_KEY.test(key) && !key.endsWith('-bin');
}

/** True when `value` is a legal value for a text metadata key (printable ASCII). */
export function isTextMetadataValue(value: string): boolean {
  return METADATA_TEXT_VALUE.test(value);
}

/**
 * Reads text metadata for graylane's ingress. Binary (`-bin`) keys and `Buffer` values are
 * ignored; several values come back as an array of the string ones.
 *
 * @example
 * extractLane(call.metadata, METADATA_GETTER, compileIngress(), 'metadata'); // 'gray'
 */
export const METADATA_GETTER: CarrierGetter<Metadata> = {
  get(carrier, key) {
    if (key.endsWith('-bin')) return undefined;
    const values = carrier.get(key);
    const count = values.length;
    if (count === 0) return undefined;
    if (count === 1) {
      const value = values[0];
      return typeof value === 'string' ? value : undefined;
    }
    let strings: string[] | undefined;
    for (let i = 0; i < count; i++) {
      const value = values[i];
      if (typeof value !== 'string') continue;
      if (strings === undefined) strings = [];
      strings.push(value);
    }
    return strings;
  },
};

/**
 * Writes text metadata; an illegal key or value is skipped, never thrown.
 *
 * @example
 * METADATA_SETTER.set(metadata, 'x-mse-tag', 'gray');
 */
export const METADATA_SETTER: CarrierSetter<Metadata> = {
  set(carrier, key, value) {
    if (isTextMetadataKey(key) && isTextMetadataValue(value)) carrier.set(key, value);
  },
};
