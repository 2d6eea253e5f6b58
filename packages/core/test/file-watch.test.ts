import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileStamp, watchFile } from '@graylane/core/experimental';

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('watchFile: an atomic rename is noticed; after close() nothing is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-file-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  assert.equal(await fileStamp(file), 'missing');
  writeFileSync(file, '1');
  const first = await fileStamp(file);
  assert.notEqual(first, 'missing');
  let changes = 0;
  const watch = watchFile(file, () => changes++, 20, 100, first);
  t.after(() => watch.close());
  writeFileSync(`${file}.tmp`, '22');
  renameSync(`${file}.tmp`, file);
  await until('the change', () => changes > 0);
  assert.notEqual(await fileStamp(file), first);
  watch.close();
  const seen = changes;
  writeFileSync(`${file}.tmp`, '333');
  renameSync(`${file}.tmp`, file);
  // Past several debounce and poll periods: a closed watch reports nothing.
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(changes, seen);
});
