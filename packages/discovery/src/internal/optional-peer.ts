import { MissingPeerError } from '@graylane/core';
import { errorCode } from './caught';

/**
 * Loads an optional peer dependency synchronously, only when a feature needs it.
 *
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` when it is not installed.
 */
export function loadPeer<T>(name: string, feature: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    if (errorCode(error) === 'MODULE_NOT_FOUND') throw new MissingPeerError(feature, name, { cause: error });
    throw error;
  }
}
