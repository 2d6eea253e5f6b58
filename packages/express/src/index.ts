export type { LaneMiddlewareOptions } from './lane-middleware';
export { laneMiddleware } from './lane-middleware';
