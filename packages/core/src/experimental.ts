// `@graylane/core/experimental`: helpers graylane's own packages share (discovery, rules) and that a
// third-party registry or rule source may use too. Not loaded by `@graylane/core`: a service that
// only needs lanes never loads them. Every export here may change in a minor release.
export type { FileWatch } from './file-watch';
export { fileStamp, watchFile } from './file-watch';
export { positiveOption } from './positive-option';
