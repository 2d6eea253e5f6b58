// Calls `onChange` (debounced) when a file may have changed: fs.watch on its directory (which sees
// atomic renames and Kubernetes ConfigMap symlink swaps) plus a stat poll for filesystems where
// fs.watch is silent. Nothing here keeps the process alive. (The same technique as the static
// registry of @graylane/discovery; rules does not depend on discovery, so it has its own copy.)
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

export function watchFile(
  file: string,
  onChange: () => void,
  debounceMs: number,
  pollIntervalMs: number,
  initialStamp: string,
): FileWatch {
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  let stamp = initialStamp;
  let watcher: FSWatcher | undefined;

  const schedule = (): void => {
    if (closed) return;
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!closed) onChange();
    }, debounceMs);
    debounce.unref();
  };

  try {
    watcher = watch(dirname(file), { persistent: false }, schedule);
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    watcher = undefined; // the poll below still notices changes
  }

  const poll = setInterval(() => {
    void fileStamp(file).then((now) => {
      if (!closed && now !== stamp) {
        stamp = now;
        schedule();
      }
    });
  }, pollIntervalMs);
  poll.unref();

  return {
    close() {
      closed = true;
      watcher?.close();
      clearInterval(poll);
      if (debounce !== undefined) clearTimeout(debounce);
    },
  };
}

/** Identity of a file's current version (inode, size, mtime), or `missing`. Never rejects. */
export function fileStamp(file: string): Promise<string> {
  return stat(file).then(
    (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
    () => 'missing',
  );
}
