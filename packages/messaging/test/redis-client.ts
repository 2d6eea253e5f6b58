import { Redis } from 'ioredis';
import { brokerOrFail } from './helpers';

/** The Redis the Redis Streams and BullMQ tests share. */
export const REDIS = { host: '127.0.0.1', port: 6379 } as const;

/**
 * A connected ioredis client on {@link REDIS} that fails fast (one attempt, no reconnect), or a
 * failure naming `broker` when Redis is not running.
 */
export function redisOrFail(broker: string): Promise<Redis> {
  return brokerOrFail(
    broker,
    `${REDIS.host}:${REDIS.port}`,
    'redis-server --daemonize yes --port 6379 ...',
    async () => {
      const client = new Redis({
        ...REDIS,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
  );
}
