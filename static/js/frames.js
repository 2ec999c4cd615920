// Camera frames on a canvas with their boxes. The pixels are fetched only while the server
// holds them; once dropped the server answers 204 and the boxes are drawn on a blank frame.
// Frames known to be dropped are remembered so they are never asked for again.
const dropped = new Set();

async function pixels(frame) {
  if (!frame.has_image || dropped.has(frame.frame)) return null;
  try {
    const response = await fetch(`/manager/frames/${frame.frame}.jpg`, { credentials: 'same-origin' });
    if (response.status !== 200) { dropped.add(frame.frame); return null; }
    return await createImageBitmap(await response.blob());
  } catch (e) {
    return null;
  }
}

export function paintBoxes(ctx, frame, { scale = 1 } = {}) {
  ctx.lineWidth = Math.max(2, frame.width / 200);
  ctx.font = `${Math.max(12, frame.width / 40)}px system-ui`;
  for (const b of frame.boxes || []) {
    const [x1, y1, x2, y2] = b.xyxy.map((v) => v * scale);
    ctx.strokeStyle = b.kind === 'face' ? '#d98a00' : '#00a043';
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = b.label + (b.confidence != null && b.kind !== 'face' ? ` ${Math.round(b.confidence * 100)}%` : '');
    if (!label) continue;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillRect(x1, Math.max(0, y1 - 18), ctx.measureText(label).width + 8, 18);
    ctx.fillStyle = '#fff';
    ctx.fillText(label, x1 + 4, Math.max(14, y1 - 4));
  }
}

// Draws `frame` on `canvas`: the photo when still held, else a light schematic with the boxes.
// Resolves to true when the photo was drawn.
export async function drawFrame(canvas, frame) {
  canvas.width = frame.width;
  canvas.height = frame.height;
  const ctx = canvas.getContext('2d');
  const image = await pixels(frame);
  if (image) {
    ctx.drawImage(image, 0, 0, frame.width, frame.height);
  } else {
    canvas.classList.add('schematic');
    ctx.fillStyle = '#eef1f5';
    ctx.fillRect(0, 0, frame.width, frame.height);
  }
  paintBoxes(ctx, frame);
  return !!image;
}
