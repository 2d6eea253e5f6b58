// The etcd tests start a real `etcd` binary. On a fresh machine, install Debian's etcd-server when
// we are root with apt; otherwise say exactly what is missing.
import { spawnSync } from 'node:child_process';

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function ensureEtcd() {
  if (process.env.ETCD_BIN || has('etcd')) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && has('apt-get')) {
    console.log('etcd not found: installing Debian package etcd-server (needed by the etcd registry tests)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', 'etcd-server'], { stdio: 'inherit', env });
    if (r.status === 0 && has('etcd')) return;
  }
  console.error(
    'The etcd registry tests need an `etcd` binary (etcd v3). Install it (Debian/Ubuntu: `sudo apt-get install etcd-server`)\n' +
      'or point ETCD_BIN at one, then run `npm test` again.',
  );
  process.exit(1);
}
