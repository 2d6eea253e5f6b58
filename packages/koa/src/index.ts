export type { LaneKoaOptions } from './lane-koa';
export { laneKoa } from './lane-koa';
