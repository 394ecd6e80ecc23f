// Lanyard's icon drawn in code (a badge hanging from a strap), encoded as PNG, so the shell
// needs no binary assets. Pure Node: the Electron side turns the bytes into a NativeImage.
import zlib from 'node:zlib';

export interface IconStyle {
  /** RGB of the shape */
  color: [number, number, number];
}

export const APP_COLOR: [number, number, number] = [79, 70, 229];
/** black shape: macOS template images are recoloured by the system */
export const TEMPLATE_COLOR: [number, number, number] = [0, 0, 0];

/** Coverage (0..1) of the icon shape at (x, y) in a unit square (same drawing as renderer/icon.svg). */
function coverage(x: number, y: number): number {
  // badge: rounded rectangle (x 7..25, y 13..30 of 32) with a slot near its top
  const u = x * 32, v = y * 32;
  const qx = Math.abs(u - 16) - (9 - 3);
  const qy = Math.abs(v - 21.5) - (8.5 - 3);
  const dist = Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - 3;
  if (dist <= 0) {
    const slot = Math.abs(u - 16) <= 3.5 && Math.abs(v - 16.6) <= 1;
    return slot ? 0 : 1;
  }
  // strap: a V from the top corners down to the badge
  const near = (x0: number, y0: number, x1: number, y1: number) => {
    const dx = x1 - x0, dy = y1 - y0;
    const t = Math.max(0, Math.min(1, ((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy)));
    return Math.hypot(u - (x0 + t * dx), v - (y0 + t * dy)) <= 1.3;
  };
  return near(5.5, 2.5, 16, 12.5) || near(26.5, 2.5, 16, 12.5) ? 1 : 0;
}

/** RGBA pixels of the icon at `size`×`size`, 4×4 supersampled. */
export function iconPixels(size: number, style: IconStyle = { color: APP_COLOR }): Buffer {
  const px = Buffer.alloc(size * size * 4);
  const ss = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let cov = 0;
      for (let sy = 0; sy < ss; sy++) for (let sx = 0; sx < ss; sx++) cov += coverage((x + (sx + 0.5) / ss) / size, (y + (sy + 0.5) / ss) / size);
      const i = (y * size + x) * 4;
      px[i] = style.color[0];
      px[i + 1] = style.color[1];
      px[i + 2] = style.color[2];
      px[i + 3] = Math.round((cov / (ss * ss)) * 255);
    }
  }
  return px;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** The icon as a PNG file (8-bit RGBA). */
export function iconPng(size: number, style?: IconStyle): Buffer {
  const px = iconPixels(size, style);
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    px.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
