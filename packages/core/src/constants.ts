/** Default HTTP header that carries the lane tag (Alibaba MSE compatible). */
export const LANE_HEADER = 'x-mse-tag';

/** Default key of the lane entry in the W3C `baggage` header. */
export const LANE_BAGGAGE_KEY = 'x-mse-tag';

/** Default gRPC metadata key that carries the lane tag. */
export const LANE_METADATA_KEY = 'x-mse-tag';

/** A lane tag is a Kubernetes label value: at most 63 characters. */
export const MAX_LANE_LENGTH = 63;

/** The W3C baggage header is bounded at 8192 bytes; a longer header is ignored, not parsed. */
export const MAX_BAGGAGE_LENGTH = 8192;

/** W3C baggage allows at most 180 list members; past that the header is ignored. */
export const MAX_BAGGAGE_ENTRIES = 180;

/** A carried (non-lane) header longer than this is not propagated. */
export const MAX_CARRY_VALUE_LENGTH = 4096;

/**
 * A lane source's whole field (a header with all its repeated values, joined as Node joins them)
 * longer than this is `oversize` before it is split or compared: repeated values cost at most
 * this much to read, however many the client sends.
 */
export const MAX_TAG_FIELD_LENGTH = 1024;
