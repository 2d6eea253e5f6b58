export type { LaneFastifyOptions } from './lane-fastify';
export { laneFastify } from './lane-fastify';
