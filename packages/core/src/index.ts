export type { BaggageRead } from './baggage';
export { readBaggage } from './baggage';
export type { CarrierGetter, CarrierSetter, HeaderRecord, HeadersLike } from './carrier';
export { FETCH_HEADERS_GETTER, firstValue, RECORD_GETTER } from './carrier';
export {
  LANE_BAGGAGE_KEY,
  LANE_HEADER,
  LANE_METADATA_KEY,
  MAX_BAGGAGE_ENTRIES,
  MAX_BAGGAGE_LENGTH,
  MAX_CARRY_VALUE_LENGTH,
  MAX_LANE_LENGTH,
} from './constants';
export type { LaneContext } from './context';
export {
  BASE_CONTEXT,
  createLaneContext,
  currentLane,
  currentLaneContext,
  withLane,
  withLaneContext,
} from './context';
export type { IngressCounters } from './counters';
export {
  BASE_LANE_KEY,
  countIngress,
  countInvalidTag,
  ingressCounters,
  MAX_COUNTED_LANES,
  OTHER_LANES,
  resetIngressCounters,
} from './counters';
export type { InvalidTagMessage, InvalidTagReason } from './diagnostics';
export { channels } from './diagnostics';
export { GraylaneError, InvalidLaneError, InvalidOptionError, MissingPeerError } from './errors';
export type { CompiledIngress, IngressOptions, LaneExtractor, LaneSource } from './ingress';
export { compileIngress, extractCarry, extractLane, laneFromHeaders } from './ingress';
export type { Lane } from './lane';
export { isLane, parseLane } from './lane';
