// Message-lane throughput per broker: publish N messages and consume them all, with graylane
// (lane publisher + consumeLanes: one base and two lane consumers) against the plain client, in the
// same run, alternating rounds (which side goes first alternates too); the median of each is
// reported with the ratio lanes / plain, and the median of the per-round ratios.
//
// Mixes: "base" (all untagged, three base consumers vs three plain competing consumers: what the
// lane machinery costs when nobody is in a lane); "mixed" (a quarter gray, a quarter blue, half
// untagged: a base, a gray and a blue consumer vs three plain competing consumers, which cannot
// route lanes — the base consumer alone handles half of all messages, a plain one a third);
// "thirds" (a third each: every consumer handles the share a plain one does); and the like-for-like
// baselines "mixed-routed" / "thirds-routed": the same traffic against the plain client routing
// lanes by hand the way the lane publisher does (a queue / stream / subject per lane, one consumer
// each). Every broker publishes lane messages through its lane publisher (createLanePublisher: a
// live lane's messages go straight to its queue / stream / subject, not moved by the base consumer).
// Handlers do nothing. Besides the rates it reports this process's CPU per message and, for a
// broker running on this machine (Linux: read from /proc), the broker process's. Needs the
// machine's brokers. Not a test: run it by hand. It prints a Markdown table; results go to
// bench/results/messaging.md, which `npm run bench` copies into bench/RESULTS.md.
//
//   npx tsc -b && node bench/messaging/throughput.mjs [amqp|redis-streams|nats|bullmq ...] [--n N] [--rounds 3]
//                  [--nats-layout two|one]   (one: graylane keeps NATS lane messages in the work stream)
//   profile one side: node --cpu-prof bench/messaging/throughput.mjs amqp --only lanes --mix base --n 8000

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { withLane } from '@graylane/core';
import * as amqpLanes from '@graylane/messaging/amqp';
import * as bullLanes from '@graylane/messaging/bullmq';
import * as natsLanes from '@graylane/messaging/nats';
import * as streamLanes from '@graylane/messaging/redis-streams';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect, headers as natsHeaders } from '@nats-io/transport-node';
import amqplib from 'amqplib';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    // Profiling (`node --cpu-prof`): run only one side and one mix; prints no table.
    only: { type: 'string' },
    mix: { type: 'string' },
    // NATS: where graylane keeps lane messages — `two` (default: its own `<stream>-lanes`) or `one`
    // (the work stream itself, `laneStream: stream`, as the plain client routed by hand keeps them).
    'nats-layout': { type: 'string', default: 'two' },
  },
});
const ROUNDS = Number(args.rounds);
const BROKERS = positionals.length > 0 ? positionals : ['amqp', 'redis-streams', 'nats', 'bullmq'];
// Per broker, enough messages that a round lasts about 0.3 s or more on a quiet machine: shorter rounds
// (Redis Streams does 100,000+ msg/s) are moved by one scheduling hiccup or the round's first reads.
const N = { amqp: 16000, 'redis-streams': 40000, nats: 12000, bullmq: 4000 };
const cpuMicros = ({ user, system }) => user + system;
const unique = (p) => `${p}-${process.pid}-${randomBytes(3).toString('hex')}`;
// base: all untagged; mixed: a quarter gray, a quarter blue, half untagged (the base consumer
// handles half of all messages, a plain consumer a third); thirds: a third each gray, blue and
// untagged (every consumer handles the share a plain consumer does).
const tagOf = (mix, i) => {
  if (mix === 'base') return undefined;
  if (mix === 'thirds' || mix === 'thirds-routed')
    return i % 3 === 0 ? 'gray' : i % 3 === 1 ? 'blue' : undefined;
  return i % 4 === 0 ? 'gray' : i % 4 === 1 ? 'blue' : undefined;
};
const MIX_NAMES = {
  base: 'all untagged',
  mixed: 'half in lanes gray/blue',
  thirds: 'thirds: gray/blue/untagged',
  'mixed-routed': 'half in lanes gray/blue, plain routed by hand (a queue per lane, one consumer each)',
  'thirds-routed': 'thirds: gray/blue/untagged, plain routed by hand (a queue per lane, one consumer each)',
};

// The lane side publishes each lane message from that lane's context, as a service does from a
// request already in its lane: the context is entered once per lane (a snapshot), not once per
// message — a new context per message (`withLane`) costs an async-context frame the plain side
// does not pay and a real publisher would not either.
const LANE_SCOPES = new Map(
  ['gray', 'blue'].map((lane) => [lane, withLane(lane, () => AsyncLocalStorage.snapshot())]),
);
const inLane = (lane, fn) => LANE_SCOPES.get(lane)(fn);

function waitCount(counter, n) {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (counter.n >= n) {
        clearInterval(t);
        resolve();
      }
    }, 2);
  });
}

// The timed part of a round (first publish to last message consumed): its wall time, and this
// process's CPU over the same span. A round's setup (streams, durables, the lane machinery's
// liveness reads, waiting for lanes to show live) and teardown are outside it: the lane side has
// more of them, a fixed cost per round, not per message.
let clockCpu;
let timedCpu = 0;
let clockBroker = 0;
let timedBroker = 0;
// The broker's CPU over the timed part too (from /proc: Linux, a broker on this machine), so a
// difference in throughput can be told apart from a difference in the work the broker does.
const BROKER_PROCESS = {
  amqp: 'beam.smp',
  'redis-streams': 'redis-server',
  nats: 'nats-server',
  bullmq: 'redis-server',
};
let brokerPid = null;
function findBrokerPid(name) {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === BROKER_PROCESS[name]) return pid;
      } catch {}
    }
  } catch {}
  return null;
}
/** The broker process's user + system CPU in µs (clock ticks of 10 ms), or NaN when unknown. */
function brokerMicros() {
  if (brokerPid === null) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${brokerPid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}
function startClock() {
  clockCpu = process.cpuUsage();
  clockBroker = brokerMicros();
  return performance.now();
}
function stopClock(t0) {
  const ms = performance.now() - t0;
  timedCpu = cpuMicros(process.cpuUsage(clockCpu));
  timedBroker = brokerMicros() - clockBroker;
  return ms;
}

// ---- per broker: setup(), plain(n, mix) and lanes(n, mix), each returning ms for n messages ----

const brokers = {
  async amqp() {
    const conn = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
    const pub = await conn.createConfirmChannel();
    const made = [];
    async function queue() {
      const q = unique('bench-amqp');
      await pub.assertQueue(q, { durable: false });
      made.push(
        q,
        ...['gray', 'blue'].flatMap((l) => [
          amqpLanes.laneQueueName(q, l),
          amqpLanes.presenceQueueName(q, l),
        ]),
      );
      return q;
    }
    /** Plain consumers, one channel per queue (the same queue more than once: competing consumers); closes them on `stop()`. */
    async function plainConsumers(queues, c) {
      const chans = [];
      for (const target of queues) {
        const ch = await conn.createChannel();
        await ch.assertQueue(target, { durable: false });
        await ch.prefetch(100); // as consumeLanes (DEFAULT_AMQP_PREFETCH)
        await ch.consume(target, (m) => {
          c.n++;
          ch.ack(m);
        });
        chans.push(ch);
      }
      return async () => {
        for (const ch of chans) await ch.close();
      };
    }
    // The plain client routing lanes by hand, as graylane's lane publisher does: a queue per lane,
    // one consumer each (base, gray, blue).
    async function plainRouted(n, mix) {
      const q = await queue();
      const c = { n: 0 };
      const stop = await plainConsumers(
        [q, amqpLanes.laneQueueName(q, 'gray'), amqpLanes.laneQueueName(q, 'blue')],
        c,
      );
      const t0 = startClock();
      for (let i = 0; i < n; i++) {
        const tag = tagOf(mix, i);
        if (tag === undefined) pub.sendToQueue(q, Buffer.from('x'), {});
        else
          pub.sendToQueue(amqpLanes.laneQueueName(q, tag), Buffer.from('x'), {
            headers: { 'x-mse-tag': tag },
          });
      }
      await pub.waitForConfirms();
      await waitCount(c, n);
      const ms = stopClock(t0);
      await stop();
      return ms;
    }
    return {
      mixes: ['base', 'mixed', 'thirds', 'mixed-routed', 'thirds-routed'],
      async plain(n, mix) {
        if (mix.endsWith('-routed')) return plainRouted(n, mix);
        const q = await queue();
        const c = { n: 0 };
        const stop = await plainConsumers([q, q, q], c); // three competing consumers
        const t0 = startClock();
        for (let i = 0; i < n; i++) {
          const tag = tagOf(mix, i);
          pub.sendToQueue(q, Buffer.from('x'), tag === undefined ? {} : { headers: { 'x-mse-tag': tag } });
        }
        await pub.waitForConfirms();
        await waitCount(c, n);
        const ms = stopClock(t0);
        await stop();
        return ms;
      },
      async lanes(n, mix) {
        const q = await queue();
        const c = { n: 0 };
        const handler = () => {
          c.n++;
        };
        const consumers = [
          await amqpLanes.consumeLanes(conn, { queue: q, lane: null }, handler),
          await amqpLanes.consumeLanes(conn, { queue: q, lane: mix === 'base' ? null : 'gray' }, handler),
          await amqpLanes.consumeLanes(conn, { queue: q, lane: mix === 'base' ? null : 'blue' }, handler),
        ];
        // The lane publisher: lane messages straight to a live lane's queue (no move by base).
        const lanePub = await amqpLanes.createLanePublisher(conn, { queue: q, lanes: ['gray', 'blue'] });
        while (mix !== 'base' && lanePub.liveLanes().length < 2) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 300));
        const t0 = startClock();
        for (let i = 0; i < n; i++) {
          const tag = tagOf(mix, i);
          if (tag === undefined) lanePub.sendToQueue(Buffer.from('x'));
          else inLane(tag, () => lanePub.sendToQueue(Buffer.from('x')));
        }
        await lanePub.waitForConfirms();
        await waitCount(c, n);
        const ms = stopClock(t0);
        await lanePub.close();
        for (const x of consumers) await x.close();
        return ms;
      },
      async sweep() {
        const ch = await conn.createChannel();
        for (const q of made.splice(0)) await ch.deleteQueue(q).catch(() => undefined);
        await ch.close();
      },
      async close() {
        await this.sweep();
        await conn.close();
      },
    };
  },

  async 'redis-streams'() {
    const redis = new Redis({ host: '127.0.0.1', port: 6379 });
    const made = [];
    async function stream() {
      const s = unique('bench-stream');
      await redis.xgroup('CREATE', s, 'g', '0', 'MKSTREAM');
      made.push(
        s,
        streamLanes.presenceKey(s),
        streamLanes.lanesKey(s),
        streamLanes.laneStreamName(s, 'gray'),
        streamLanes.laneStreamName(s, 'blue'),
      );
      return s;
    }
    async function publish(s, n, mix, lanePub) {
      const p = redis.pipeline();
      for (let i = 0; i < n; i++) {
        const tag = tagOf(mix, i);
        if (lanePub !== undefined) {
          // The lane publisher's routing, in the same pipeline: lane entries straight to a live lane's stream.
          const add = () => {
            const e = lanePub.route(['v', 'x']);
            p.xadd(e.stream, '*', ...e.fields);
          };
          if (tag === undefined) add();
          else inLane(tag, add);
        } else p.xadd(s, '*', ...(tag === undefined ? ['v', 'x'] : ['v', 'x', 'x-mse-tag', tag]));
      }
      await p.exec();
    }
    /**
     * Plain readers, one per key (the same key more than once: competing consumers), each on its
     * own connection, connected before the clock starts as consumeLanes' readers are; `stop()` ends them.
     */
    async function plainReaders(keys, c) {
      let stop = false;
      const clients = keys.map(() => redis.duplicate());
      await Promise.all(clients.map((r) => r.ping()));
      const readers = clients.map(async (r, k) => {
        while (!stop) {
          const reply = await r.xreadgroup(
            'GROUP',
            'g',
            `c${k}`,
            'COUNT',
            50,
            'BLOCK',
            100,
            'STREAMS',
            keys[k],
            '>',
          );
          if (reply === null) continue;
          const ids = reply[0][1].map(([id]) => id);
          await r.xack(keys[k], 'g', ...ids);
          c.n += ids.length;
        }
        r.disconnect();
      });
      return () => {
        stop = true;
        return Promise.all(readers);
      };
    }
    // The plain client routing lanes by hand, as graylane's lane publisher does: a stream per lane,
    // one consumer each (base, gray, blue), the same group on each.
    async function plainRouted(n, mix) {
      const s = await stream();
      const keys = [s, streamLanes.laneStreamName(s, 'gray'), streamLanes.laneStreamName(s, 'blue')];
      for (const key of keys.slice(1)) await redis.xgroup('CREATE', key, 'g', '0', 'MKSTREAM');
      const c = { n: 0 };
      const stop = await plainReaders(keys, c);
      const t0 = startClock();
      const p = redis.pipeline();
      for (let i = 0; i < n; i++) {
        const tag = tagOf(mix, i);
        if (tag === undefined) p.xadd(s, '*', 'v', 'x');
        else p.xadd(streamLanes.laneStreamName(s, tag), '*', 'v', 'x', 'x-mse-tag', tag);
      }
      await p.exec();
      await waitCount(c, n);
      const ms = stopClock(t0);
      await stop();
      return ms;
    }
    return {
      mixes: ['base', 'mixed', 'thirds', 'mixed-routed', 'thirds-routed'],
      async plain(n, mix) {
        if (mix.endsWith('-routed')) return plainRouted(n, mix);
        const s = await stream();
        const c = { n: 0 };
        const stop = await plainReaders([s, s, s], c); // three competing consumers
        const t0 = startClock();
        await publish(s, n, mix, undefined);
        await waitCount(c, n);
        const ms = stopClock(t0);
        await stop();
        return ms;
      },
      async lanes(n, mix) {
        const s = await stream();
        const c = { n: 0 };
        const handler = () => {
          c.n++;
        };
        const consumers = [
          await streamLanes.consumeLanes(redis, { stream: s, group: 'g', lane: null }, handler),
          await streamLanes.consumeLanes(
            redis,
            { stream: s, group: 'g', lane: mix === 'base' ? null : 'gray' },
            handler,
          ),
          await streamLanes.consumeLanes(
            redis,
            { stream: s, group: 'g', lane: mix === 'base' ? null : 'blue' },
            handler,
          ),
        ];
        const lanePub = await streamLanes.createLanePublisher(redis, { stream: s });
        while (mix !== 'base' && (consumers[0].liveLanes().length < 2 || lanePub.liveLanes().length < 2))
          await new Promise((r) => setTimeout(r, 20));
        const t0 = startClock();
        await publish(s, n, mix, lanePub);
        await waitCount(c, n);
        const ms = stopClock(t0);
        await lanePub.close();
        for (const x of consumers) await x.close();
        return ms;
      },
      async sweep() {
        if (made.length > 0) await redis.del(...made.splice(0));
      },
      async close() {
        await this.sweep();
        redis.disconnect();
      },
    };
  },

  async nats() {
    const nc = await natsConnect({ servers: '127.0.0.1:4222' });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const made = [];
    const oneStream = args['nats-layout'] === 'one';
    // A work stream; `holdsLanes`: it also holds the lane subjects (`--nats-layout one`).
    async function stream(holdsLanes = false) {
      const s = unique('bench_js').replace(/[^A-Za-z0-9_-]/g, '_');
      const subjects = [`${s}.work`, ...(holdsLanes ? [`graylane.${s}.lane.>`] : [])];
      await jsm.streams.add({ name: s, subjects });
      made.push(s, `${s}-lanes`);
      return s;
    }
    async function publish(s, n, mix, helper) {
      const acks = [];
      for (let i = 0; i < n; i++) {
        const tag = tagOf(mix, i);
        if (helper) {
          // half in lanes: the lane publisher (straight to a live lane's subject); untagged: the header helper
          const pub =
            typeof helper === 'object'
              ? () => helper.publish(`${s}.work`, 'x')
              : () => js.publish(`${s}.work`, 'x', { headers: natsLanes.laneHeaders() });
          acks.push(tag === undefined ? pub() : inLane(tag, pub));
        } else {
          const h = natsHeaders();
          if (tag !== undefined) h.set('x-mse-tag', tag);
          acks.push(js.publish(`${s}.work`, 'x', { headers: h }));
        }
        if (acks.length >= 256) await Promise.all(acks.splice(0));
      }
      await Promise.all(acks);
    }
    // The plain client routing lanes by hand, as graylane's lane publisher does: a subject and a
    // durable per lane on one stream, one consumer each (base, gray, blue).
    async function plainRouted(n, mix) {
      const s = unique('bench_js').replace(/[^A-Za-z0-9_-]/g, '_');
      const parts = ['work', 'gray', 'blue'];
      await jsm.streams.add({ name: s, subjects: parts.map((p) => `${s}.${p}`) });
      made.push(s);
      const c = { n: 0 };
      let stop = false;
      const loops = parts.map(async (p) => {
        await jsm.consumers.add(s, {
          durable_name: p,
          ack_policy: AckPolicy.Explicit,
          filter_subject: `${s}.${p}`,
        });
        const consumer = await js.consumers.get(s, p);
        while (!stop) {
          const it = await consumer.fetch({ max_messages: 50, expires: 1000 });
          for await (const m of it) {
            c.n++;
            m.ack();
          }
        }
      });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = startClock();
      const acks = [];
      for (let i = 0; i < n; i++) {
        const tag = tagOf(mix, i);
        const h = natsHeaders();
        if (tag !== undefined) h.set('x-mse-tag', tag);
        acks.push(js.publish(`${s}.${tag ?? 'work'}`, 'x', { headers: h }));
        if (acks.length >= 256) await Promise.all(acks.splice(0));
      }
      await Promise.all(acks);
      await waitCount(c, n);
      const ms = stopClock(t0);
      stop = true;
      await Promise.all(loops);
      return ms;
    }
    return {
      mixes: ['base', 'mixed', 'thirds', 'mixed-routed', 'thirds-routed'],
      async plain(n, mix) {
        if (mix.endsWith('-routed')) return plainRouted(n, mix);
        const s = await stream();
        await jsm.consumers.add(s, { durable_name: 'g', ack_policy: AckPolicy.Explicit });
        const c = { n: 0 };
        let stop = false;
        const loops = [0, 1, 2].map(async () => {
          const consumer = await js.consumers.get(s, 'g');
          while (!stop) {
            const it = await consumer.fetch({ max_messages: 50, expires: 1000 });
            for await (const m of it) {
              c.n++;
              m.ack();
            }
          }
        });
        const t0 = startClock();
        await publish(s, n, mix, undefined);
        await waitCount(c, n);
        const ms = stopClock(t0);
        stop = true;
        await Promise.all(loops);
        return ms;
      },
      async lanes(n, mix) {
        const s = await stream(oneStream);
        const layout = oneStream ? { laneStream: s, filterSubject: `${s}.work` } : {};
        const c = { n: 0 };
        const handler = () => {
          c.n++;
        };
        const consumers = [
          await natsLanes.consumeLanes(nc, { stream: s, durable: 'g', lane: null, ...layout }, handler),
          await natsLanes.consumeLanes(
            nc,
            { stream: s, durable: 'g', lane: mix === 'base' ? null : 'gray', ...layout },
            handler,
          ),
          await natsLanes.consumeLanes(
            nc,
            { stream: s, durable: 'g', lane: mix === 'base' ? null : 'blue', ...layout },
            handler,
          ),
        ];
        await new Promise((r) => setTimeout(r, 300));
        const publisher =
          mix === 'base'
            ? true
            : await natsLanes.createLanePublisher(nc, { stream: s, laneStream: layout.laneStream });
        while (publisher !== true && publisher.liveLanes().length < 2)
          await new Promise((r) => setTimeout(r, 20));
        const t0 = startClock();
        await publish(s, n, mix, publisher);
        await waitCount(c, n);
        const ms = stopClock(t0);
        if (publisher !== true) await publisher.close();
        for (const x of consumers) await x.close();
        return ms;
      },
      async sweep() {
        for (const s of made.splice(0)) await jsm.streams.delete(s).catch(() => undefined);
      },
      async close() {
        await this.sweep();
        await nc.close();
      },
    };
  },

  async bullmq() {
    const connection = { host: '127.0.0.1', port: 6379 };
    const made = [];
    function queue() {
      const name = unique('bench-bull');
      const q = new Queue(name, { connection });
      made.push(
        q,
        ...['gray', 'blue'].map((l) => new Queue(bullLanes.laneQueueName(name, l), { connection })),
      );
      return { name, q };
    }
    async function publish(q, n, mix, helper) {
      const jobs = [];
      if (typeof helper === 'object') {
        // half in lanes: the lane publisher (straight to a live lane's queue), in bulks as the plain client
        for (let i = 0; i < n; i += 500) {
          const bulk = [];
          for (let k = i; k < Math.min(n, i + 500); k++) {
            const tag = tagOf(mix, k);
            bulk.push(
              tag === undefined
                ? { name: 'j', data: { v: 'x' } }
                : inLane(tag, () => ({ name: 'j', data: bullLanes.laneJobData({ v: 'x' }) })),
            );
          }
          await helper.addBulk(bulk);
        }
        return;
      }
      for (let i = 0; i < n; i++) {
        const tag = tagOf(mix, i);
        const data = { v: 'x' };
        if (helper)
          jobs.push({
            name: 'j',
            data:
              tag === undefined
                ? bullLanes.laneJobData(data)
                : inLane(tag, () => bullLanes.laneJobData(data)),
          });
        else jobs.push({ name: 'j', data: tag === undefined ? data : { ...data, 'x-mse-tag': tag } });
      }
      for (let i = 0; i < jobs.length; i += 500) await q.addBulk(jobs.slice(i, i + 500));
    }
    // The plain client routing lanes by hand, as graylane's lane publisher does: a queue per lane,
    // one worker each (base, gray, blue).
    async function plainRouted(n, mix) {
      const { name, q } = queue();
      const lanes = { gray: made.at(-2), blue: made.at(-1) };
      const c = { n: 0 };
      const workers = [
        name,
        bullLanes.laneQueueName(name, 'gray'),
        bullLanes.laneQueueName(name, 'blue'),
      ].map(
        (queueName) =>
          new Worker(
            queueName,
            async () => {
              c.n++;
            },
            { connection, concurrency: 10 },
          ),
      );
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      const t0 = startClock();
      for (let i = 0; i < n; i += 500) {
        const by = new Map();
        for (let k = i; k < Math.min(n, i + 500); k++) {
          const tag = tagOf(mix, k);
          const target = tag === undefined ? q : lanes[tag];
          if (!by.has(target)) by.set(target, []);
          by.get(target).push({
            name: 'j',
            data: tag === undefined ? { v: 'x' } : { v: 'x', 'x-mse-tag': tag },
          });
        }
        await Promise.all([...by].map(([target, jobs]) => target.addBulk(jobs)));
      }
      await waitCount(c, n);
      const ms = stopClock(t0);
      for (const w of workers) await w.close();
      return ms;
    }
    return {
      mixes: ['base', 'mixed', 'thirds', 'mixed-routed'],
      async plain(n, mix) {
        if (mix === 'mixed-routed') return plainRouted(n, mix);
        const { name, q } = queue();
        const c = { n: 0 };
        const workers = [0, 1, 2].map(
          () =>
            new Worker(
              name,
              async () => {
                c.n++;
              },
              { connection, concurrency: 10 },
            ),
        );
        await Promise.all(workers.map((w) => w.waitUntilReady()));
        const t0 = startClock();
        await publish(q, n, mix, false);
        await waitCount(c, n);
        const ms = stopClock(t0);
        for (const w of workers) await w.close();
        return ms;
      },
      async lanes(n, mix) {
        const { name, q } = queue();
        const c = { n: 0 };
        const handler = () => {
          c.n++;
        };
        const consumers = [
          await bullLanes.consumeLanes({ queue: name, connection, lane: null }, handler),
          await bullLanes.consumeLanes(
            { queue: name, connection, lane: mix === 'base' ? null : 'gray' },
            handler,
          ),
          await bullLanes.consumeLanes(
            { queue: name, connection, lane: mix === 'base' ? null : 'blue' },
            handler,
          ),
        ];
        await new Promise((r) => setTimeout(r, 500));
        const publisher =
          mix === 'base'
            ? true
            : await bullLanes.createLanePublisher({ queue: name, connection, lanes: ['gray', 'blue'] });
        const t0 = startClock();
        await publish(q, n, mix, publisher);
        await waitCount(c, n);
        const ms = stopClock(t0);
        if (publisher !== true) await publisher.close();
        for (const x of consumers) await x.close();
        return ms;
      },
      async sweep() {
        for (const q of made.splice(0)) {
          await q.obliterate({ force: true }).catch(() => undefined);
          await q.close();
        }
      },
      close() {
        return this.sweep();
      },
    };
  },
};

const brokerCell = (us) => (Number.isNaN(us) ? '–' : us.toFixed(1));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const name of BROKERS) {
  const n = Number(args.n ?? N[name]);
  const b = await brokers[name]();
  brokerPid = findBrokerPid(name);
  try {
    if (args.only !== undefined) {
      for (let r = 0; r < ROUNDS; r++) {
        const ms = await b[args.only](n, args.mix ?? 'base');
        await b.sweep();
        console.error(
          `${name} ${args.only} ${args.mix ?? 'base'}: ${(n / (ms / 1000)).toFixed(0)} msg/s, ${(timedCpu / n).toFixed(1)} µs CPU/msg (timed part), broker ${brokerCell(timedBroker / n)} µs/msg`,
        );
      }
      continue;
    }
    for (const mix of args.mix === undefined ? (b.mixes ?? ['base', 'mixed', 'thirds']) : [args.mix]) {
      // Per side, per round: msg/s; this process's CPU per message (setup and teardown of the round
      // included, brokers not: less exposed than throughput to the other processes of a shared
      // machine), the same over the timed part, and the broker's over the timed part.
      const measures = () => ({ rate: [], cpu: [], timed: [], broker: [] });
      const sides = { plain: measures(), lanes: measures() };
      await b.plain(Math.min(n, 500), mix); // warm-up
      await b.lanes(Math.min(n, 500), mix);
      await b.sweep();
      // Each run's queues / streams are deleted after it (outside the measures): left in place, a
      // run's 4,000–40,000 stored messages pile up in the broker round after round.
      const run = async (side) => {
        const m = sides[side];
        const cpu = process.cpuUsage();
        m.rate.push(n / ((await b[side](n, mix)) / 1000));
        m.cpu.push(cpuMicros(process.cpuUsage(cpu)) / n);
        m.timed.push(timedCpu / n);
        m.broker.push(timedBroker / n);
        await b.sweep();
      };
      for (let r = 0; r < ROUNDS; r++) {
        // Which side goes first alternates: the second side of a round runs against a broker
        // still busy with the first side's round (its stream's storage, acks, deletes).
        for (const side of r % 2 === 0 ? ['plain', 'lanes'] : ['lanes', 'plain']) await run(side);
      }
      const { plain, lanes } = sides;
      const row = { broker: name, mix, n, plain: median(plain.rate), lanes: median(lanes.rate) };
      row.ratio = row.lanes / row.plain;
      // Each round runs both sides back to back: its ratio is less exposed to the machine's load
      // swings than the ratio of medians; their spread says how far to trust either.
      const ratios = plain.rate.map((p, r) => lanes.rate[r] / p);
      row.roundRatio = median(ratios);
      row.lo = Math.min(...ratios);
      row.hi = Math.max(...ratios);
      row.plainCpu = median(plain.cpu);
      row.lanesCpu = median(lanes.cpu);
      row.plainTimed = median(plain.timed);
      row.lanesTimed = median(lanes.timed);
      row.plainBroker = median(plain.broker);
      row.lanesBroker = median(lanes.broker);
      rows.push(row);
      console.error(
        `${name} ${mix}: plain ${row.plain.toFixed(0)} msg/s, lanes ${row.lanes.toFixed(0)} msg/s, ratio ${row.ratio.toFixed(2)}, per round ${ratios.map((x) => x.toFixed(2)).join(' ')}`,
      );
    }
  } finally {
    await b.close();
  }
}

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`\n### Message lanes: publish + consume throughput (${new Date().toISOString().slice(0, 10)})\n`);
console.log(
  `Node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length} × ${cpu}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; median of ${ROUNDS} rounds; brokers on loopback.\n`,
);
console.log(
  '| broker | traffic | messages | plain client msg/s | graylane msg/s | ratio | per-round ratio: median (min–max) | Node CPU µs/msg plain / graylane: whole round | timed part | broker CPU µs/msg plain / graylane (timed part) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.broker === 'nats' && args['nats-layout'] === 'one' ? 'nats (one stream)' : r.broker} | ${MIX_NAMES[r.mix]} | ${r.n} | ${r.plain.toFixed(0)} | ${r.lanes.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.roundRatio.toFixed(2)} (${r.lo.toFixed(2)}–${r.hi.toFixed(2)}) | ${r.plainCpu.toFixed(0)} / ${r.lanesCpu.toFixed(0)} | ${r.plainTimed.toFixed(0)} / ${r.lanesTimed.toFixed(0)} | ${brokerCell(r.plainBroker)} / ${brokerCell(r.lanesBroker)} |`,
  );
}
process.exit(0);
