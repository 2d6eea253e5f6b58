export type { LaneFastifyOptions } from './lane-fastify';
export { laneFastify } from './lane-fastify';
export type { LaneFastifyEdgeOptions, LaneFastifyEdgePlugin } from './lane-fastify-edge';
export { laneFastifyEdge } from './lane-fastify-edge';
export type {
  LaneFastifyInstance,
  LaneFastifyPlugin,
  LaneFastifyReply,
  LaneFastifyRequest,
} from './lane-fastify-plugin';
