// Section "upload": PUT …/photo/$value of three real-sized images, one at a time
// and four at a time, against reference-upload.ts doing only sharp's essential
// work on the same bytes in the same run; plus how busy the server's CPU was.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from './children.js';
import type { BenchContext } from './context.js';
import { expectStatus } from './http.js';
import { dimensionsOf, oneMegabytePng, PHONE_PHOTO, twelveMegapixelJpeg } from './images.js';
import type { LoadResult } from './load.js';
import { cpuSecondsOf } from './proc.js';
import { startPortrait, userToken } from './servers.js';
import { atLeast, atMost, formatMB, formatMs, formatRate, ratioOf, type Row } from './table.js';

const REFERENCE_UPLOAD = fileURLToPath(new URL('./reference-upload.js', import.meta.url));
const CONCURRENCIES = [1, 4] as const;

interface Input {
  readonly label: string;
  readonly file: string;
}

interface ReferenceResult {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly perSecond: number;
  readonly cpuPercent: number;
}

interface Measured {
  readonly ours: LoadResult;
  readonly serverCpuPercent: number;
  readonly reference: ReferenceResult;
}

export async function benchUpload(context: BenchContext): Promise<Row[]> {
  const { settings, log } = context;
  const inputs = await prepareInputs(context.folder('upload-inputs'));
  const dataDir = context.folder('upload-portrait');
  const portrait = await startPortrait({ dataDir, tls: false });
  try {
    const { token } = await userToken(dataDir, 'bench@contoso.com');
    const url = `${portrait.origin}/v1.0/me/photo/$value`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' };
    const rows: Row[] = [];
    for (const input of inputs) {
      const body = readFileSync(input.file);
      await expectStatus(200, url, { method: 'PUT', headers, body }); // warm-up, and a check
      for (const concurrency of CONCURRENCIES) {
        const amount = settings.uploadsPerConnection * concurrency;
        // CPU time over the load's own duration: the server idles while the load process starts.
        const cpuBefore = cpuSecondsOf(portrait.pid);
        const ours = await context.load.counted({ url, method: 'PUT', connections: concurrency, amount, headers, bodyFile: input.file, timeoutSeconds: 300 });
        const serverCpuPercent = ((cpuSecondsOf(portrait.pid) - cpuBefore) / ours.seconds) * 100;
        const reference = JSON.parse(await runChild(process.execPath, [REFERENCE_UPLOAD, input.file, String(concurrency), String(amount)])) as ReferenceResult;
        log(
          `upload: ${input.label}, ${concurrency} at a time: Portrait p50 ${formatMs(ours.p50Ms)} ${formatRate(ours.perSecond, 'uploads/s')} ` +
            `(CPU ${serverCpuPercent.toFixed(0)}%), reference p50 ${formatMs(reference.p50Ms)} ${formatRate(reference.perSecond, 'uploads/s')}`,
        );
        rows.push(...uploadRows(input, concurrency, { ours, serverCpuPercent, reference }));
      }
    }
    return rows;
  } finally {
    await portrait.stop();
  }
}

async function prepareInputs(folder: string): Promise<Input[]> {
  const phone = await dimensionsOf(readFileSync(PHONE_PHOTO));
  const jpeg = await twelveMegapixelJpeg();
  const png = await oneMegabytePng();
  const jpegFile = join(folder, 'twelve-megapixel.jpg');
  const pngFile = join(folder, 'one-megabyte.png');
  writeFileSync(jpegFile, jpeg.bytes);
  writeFileSync(pngFile, png.bytes);
  return [
    { label: `phone photo ${phone.width}×${phone.height} JPEG, ${formatMB(readFileSync(PHONE_PHOTO).length)}`, file: PHONE_PHOTO },
    { label: `generated ${jpeg.width}×${jpeg.height} ${jpeg.description}, ${formatMB(jpeg.bytes.length)}`, file: jpegFile },
    { label: `generated ${png.width}×${png.height} ${png.description}, ${formatMB(png.bytes.length)}`, file: pngFile },
  ];
}

function uploadRows(input: Input, concurrency: number, { ours, serverCpuPercent, reference }: Measured): Row[] {
  const at = concurrency === 1 ? 'one at a time' : `${concurrency} at a time`;
  const figure = `PUT …/photo/$value, ${input.label}, ${at}`;
  const failed = ours.failures > 0 ? ` · **${ours.failures} failed**` : '';
  const p50Ratio = ratioOf(ours.p50Ms, reference.p50Ms);
  const rateRatio = ratioOf(ours.perSecond, reference.perSecond);
  const rows: Row[] = [
    {
      section: 'upload',
      figure: `${figure}: p50`,
      portrait: `p50 ${formatMs(ours.p50Ms)} · p99 ${formatMs(ours.p99Ms)}${failed}`,
      reference: `sharp only: p50 ${formatMs(reference.p50Ms)} · p99 ${formatMs(reference.p99Ms)}`,
      ratio: p50Ratio,
      target: atMost(p50Ratio, 1.25),
    },
    {
      section: 'upload',
      figure: `${figure}: throughput`,
      portrait: `${formatRate(ours.perSecond, 'uploads/s')} (${ours.requests} uploads)`,
      reference: `sharp only: ${formatRate(reference.perSecond, 'uploads/s')}`,
      ratio: rateRatio,
      target: concurrency === 4 ? atLeast(rateRatio, 0.8) : undefined,
    },
  ];
  if (concurrency > 1) {
    const cores = cpus().length;
    const busy = serverCpuPercent >= cores * 90 ? 'all cores busy' : `${(serverCpuPercent / 100).toFixed(1)} of ${cores} cores`;
    rows.push({
      section: 'upload',
      figure: `${figure}: CPU of the process`,
      portrait: `${serverCpuPercent.toFixed(0)}% (${busy})`,
      reference: `sharp only: ${reference.cpuPercent.toFixed(0)}%`,
      ratio: ratioOf(serverCpuPercent, reference.cpuPercent),
    });
  }
  return rows;
}
