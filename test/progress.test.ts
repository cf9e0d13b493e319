// The progress of a long command (import-photos) as a person sees it on a terminal, and as
// a log keeps it elsewhere.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { duration, Progress } from '../src/cli/progress.js';

function screen(isTTY: boolean): { out: PassThrough & { isTTY: boolean }; text: () => string } {
  const out = Object.assign(new PassThrough(), { isTTY });
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out, text: () => text };
}

describe('progress of import-photos', () => {
  it('on a terminal: one line redrawn with done/total, rate, time left and a bar; failures printed above it', () => {
    const { out, text } = screen(true);
    let now = 0;
    const progress = new Progress(10, out, () => now);
    now = 1000;
    progress.item('a.jpg', 'written');
    now = 2000;
    progress.item('b.jpg', 'failed', 'no user');
    now = 2050;
    progress.item('c.jpg', 'unchanged'); // within 100 ms of the last redraw: not redrawn
    now = 4000;
    progress.item('d.jpg', 'written');
    const tally = progress.finish();
    const drawn = text().split('\r\x1b[K').filter((part) => part !== '');
    assert.deepEqual(drawn, [
      '[##......................] 1/10  1.0/s  9s left',
      'failed: b.jpg: no user\n',
      '[#####...................] 2/10  1.0/s  8s left',
      '[##########..............] 4/10  1.0/s  6s left\n',
    ]);
    assert.deepEqual(tally, { written: 2, unchanged: 1, wouldWrite: 0, failed: [{ label: 'b.jpg', why: 'no user' }] });
  });

  it('elsewhere: one plain line per photo', () => {
    const { out, text } = screen(false);
    const progress = new Progress(2, out);
    progress.item('a.jpg', 'written');
    progress.item('b.jpg', 'failed', 'TIFF is not a photo format');
    progress.finish();
    assert.equal(text(), 'written: a.jpg\nfailed: b.jpg: TIFF is not a photo format\n');
  });

  it('says time left in the largest units that fit', () => {
    assert.deepEqual([9, 252, 7500, Infinity].map(duration), ['9s', '4m 12s', '2h 05m', '?']);
  });
});
