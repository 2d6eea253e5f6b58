export type { LaneKoaContext, LaneKoaOptions } from './lane-koa';
export { laneKoa } from './lane-koa';
