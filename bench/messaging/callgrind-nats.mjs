// Instructions per consumed NATS message under callgrind (a diagnostic, not part of `npm run bench`):
// a steady measure where throughput on a shared 2-core machine moves by ±20 % between rounds. Each
// round fills a stream with N lane messages as the lane publisher writes them (headers `x-mse-tag`
// and `x-graylane-subject`, on `<prefix>.lane.gray`), then every variant consumes all N from that
// backlog through a durable of its own, in rotated order; the driver (this file, not under
// valgrind) zeroes callgrind's counters before each window and dumps after it, and reports the
// JavaScript thread's instructions per message (median of rounds 1.., round 0 warms up):
//   plain  — the plain pull consumer (fetch 50, ack), reading nothing of the message;
//   tag    — the same, reading the tag with the client's `headers.get` (decodes the headers);
//   lanes  — graylane's lane consumer (`consumeLanes`, lane 'gray'), its handler doing nothing.
//   node bench/messaging/callgrind-nats.mjs [--node <path>] [--n 4000] [--rounds 4] [--keep DIR]
// --keep DIR keeps each window's dump as DIR/<variant>.<round>.out with node's map of JIT code, for
// `node bench/hop/callgrind-diff.mjs DIR plain lanes`. Needs valgrind and the machine's NATS.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { jsThreadTotal } from '../lib/callgrind-dump.mjs';

const { values: args } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    n: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '4' },
    keep: { type: 'string' },
    child: { type: 'boolean', default: false },
  },
});
const N = Number(args.n);
const VARIANTS = ['plain', 'tag', 'lanes'];

if (args.child) await child();
else await driver();

async function driver() {
  const dir = args.keep ?? mkdtempSync(join(os.tmpdir(), 'callgrind-nats-'));
  mkdirSync(dir, { recursive: true });
  const node = [
    args.node,
    ...(args.keep
      ? ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`]
      : []),
  ];
  const proc = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
      ...node,
      import.meta.filename,
      '--child',
      '--n',
      String(N),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const ask = async (line) => {
    if (line !== undefined) proc.stdin.write(`${line}\n`);
    const { value } = await lines.next();
    if (value !== 'done' && value !== 'ready') throw new Error(`child said ${value}`);
  };
  await ask(); // ready
  const control = (flag) => execFileSync('callgrind_control', [flag, String(proc.pid)], { stdio: 'pipe' });
  const result = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  const rounds = Number(args.rounds);
  for (let r = 0; r < rounds; r++) {
    await ask('fill');
    for (const v of VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length])) {
      control('--zero');
      await ask(v);
      control('--dump');
      const total = jsThreadTotal(dir, proc.pid, args.keep ? join(dir, `${v}.${r}.out`) : undefined);
      if (r > 0) result[v].push(total / N);
      console.error(`round ${r}: ${v} ${(total / N).toFixed(0)} instructions per message`);
    }
  }
  await ask('exit');
  if (args.keep) {
    copyFileSync(`/tmp/perf-${proc.pid}.map`, join(dir, 'perf.map'));
    const version = execFileSync(args.node, ['--version'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(dir, 'meta.json'),
      JSON.stringify({ node: `Node ${version}`, rounds: rounds - 1, requests: N }),
    );
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const base = median(result.plain);
  console.log(`| variant | instructions per message (median) | − plain | rounds 1–${rounds - 1} |`);
  console.log('|---|---|---|---|');
  for (const v of VARIANTS) {
    const m = median(result[v]);
    console.log(
      `| ${v} | ${m.toFixed(0)} | ${(m - base >= 0 ? '+' : '') + (m - base).toFixed(0)} | ${result[v].map((x) => x.toFixed(0)).join(', ')} |`,
    );
  }
}

async function child() {
  const { consumeLanes, laneSubject } = await import('@graylane/messaging/nats');
  const { AckPolicy, jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const { connect, headers } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const until = (count) =>
    new Promise((resolve) => {
      const t = setInterval(() => {
        if (count.n < N) return;
        clearInterval(t);
        resolve();
      }, 1);
    });
  let stream;
  let subject;
  let made = 0;
  async function drop() {
    if (stream === undefined) return;
    await jsm.streams.delete(stream);
    await jsm.streams.delete(`${stream}-lanes`);
  }
  async function fill() {
    await drop();
    stream = `callgrind_${process.pid}_${made++}`;
    await jsm.streams.add({ name: stream, subjects: [`${stream}.work`] });
    await jsm.streams.add({ name: `${stream}-lanes`, subjects: [`graylane.${stream}.lane.>`] });
    subject = laneSubject(`graylane.${stream}`, 'gray');
    const h = headers();
    h.set('x-mse-tag', 'gray');
    h.set('x-graylane-subject', `${stream}.work`);
    const acks = [];
    for (let i = 0; i < N; i++) {
      acks.push(js.publish(subject, 'x', { headers: h }));
      if (acks.length >= 256) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
  }
  const perMessage = {
    plain: (m, count) => {
      count.n++;
      m.ack();
    },
    tag: (m, count) => {
      if (m.headers?.get('x-mse-tag') === '') throw new Error('untagged');
      count.n++;
      m.ack();
    },
  };
  let durable = 0;
  async function consume(variant) {
    const count = { n: 0 };
    const name = `${variant}${durable++}`;
    if (variant === 'lanes') {
      const consumer = await consumeLanes(nc, { stream, durable: name, lane: 'gray' }, () => {
        count.n++;
      });
      await until(count);
      await consumer.close();
      return;
    }
    await jsm.consumers.add(`${stream}-lanes`, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      filter_subject: subject,
    });
    const consumer = await js.consumers.get(`${stream}-lanes`, name);
    let stop = false;
    const loop = (async () => {
      while (!stop)
        for await (const m of await consumer.fetch({ max_messages: 50, expires: 1000 }))
          perMessage[variant](m, count);
    })();
    await until(count);
    stop = true;
    await loop;
  }
  console.log('ready');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'exit') break;
    await (line === 'fill' ? fill() : consume(line));
    console.log('done');
  }
  await drop();
  await nc.close();
  console.log('done');
  process.exit(0);
}
