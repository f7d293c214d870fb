// A fake camera for the e2e test: a Y4M video of a device's install-code QR label, for
// Chromium's --use-file-for-fake-video-capture. The label is drawn from the payload the daemon
// reports (it depends on the daemon's seed), so the test scans what the simulated device carries.
//
// Y4M (YUV4MPEG2): a header line, then per frame `FRAME\n` and the Y, U and V planes (4:2:0:
// U and V at half width and height). Grey = equal-ish Y with neutral chroma (128).

import fs from 'node:fs';
import QRCode from 'qrcode';

// Writes `file` and returns {width, height, modules, scale}.
export function writeLabelY4m(payload, file, { width = 640, height = 480, frames = 10 } = {}) {
  const qr = QRCode.create(payload, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const quiet = 4; // modules of white around the code, as the QR spec asks
  const scale = Math.floor((Math.min(width, height) * 0.8) / (n + 2 * quiet));
  if (scale < 3) throw new Error(`QR of ${n} modules does not fit ${width}x${height}`);
  const side = (n + 2 * quiet) * scale;
  const x0 = Math.floor((width - side) / 2);
  const y0 = Math.floor((height - side) / 2);
  const border = Math.max(2, Math.floor(scale / 3));
  const Y = Buffer.alloc(width * height, 70); // a dark desk around the label
  const fill = (x, y, w, h, v) => {
    for (let j = Math.max(0, y); j < Math.min(height, y + h); j++) Y.fill(v, j * width + Math.max(0, x), j * width + Math.min(width, x + w));
  };
  // The label: a light-grey printed border, white inside, the code with its quiet zone.
  fill(x0 - 3 * border, y0 - 3 * border, side + 6 * border, side + 6 * border, 235);
  fill(x0 - 2 * border, y0 - 2 * border, side + 4 * border, side + 4 * border, 150);
  fill(x0 - border, y0 - border, side + 2 * border, side + 2 * border, 255);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.modules.get(r, c)) fill(x0 + (quiet + c) * scale, y0 + (quiet + r) * scale, scale, scale, 16);
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2), 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), Y, chroma, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
  fs.writeFileSync(file, Buffer.concat([header, ...Array(frames).fill(frame)]));
  return { width, height, modules: n, scale };
}
