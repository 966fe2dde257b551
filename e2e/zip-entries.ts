/**
 * Reads a zip's entries for the e2e checks of the HF-folder export: the end-of-central-
 * directory record, then each central-directory entry and its local header. Only what the
 * studio writes (client-zip: stored, no compression; ZIP64 when large) is read; anything else
 * throws, so a different zip fails the test loudly.
 */
export function zipEntries(zip: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = zip.byteLength - 22;
  while (eocd >= 0 && view.getUint32(eocd, true) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('zip: no end-of-central-directory record');
  let count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  if (count === 0xffff || at === 0xffffffff) {
    const locator = eocd - 20; // ZIP64 end-of-central-directory locator
    if (view.getUint32(locator, true) !== 0x07064b50) throw new Error('zip: no ZIP64 locator');
    const record = Number(view.getBigUint64(locator + 8, true));
    count = Number(view.getBigUint64(record + 32, true));
    at = Number(view.getBigUint64(record + 48, true));
  }
  const out = new Map<string, Uint8Array>();
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error(`zip: bad central directory entry ${i}`);
    const method = view.getUint16(at + 10, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let local = view.getUint32(at + 42, true);
    const name = decoder.decode(zip.subarray(at + 46, at + 46 + nameLength));
    // ZIP64 extra field (0x0001): the 64-bit sizes / offset that hold 0xffffffff above.
    for (let x = at + 46 + nameLength; x < at + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(x, true);
      const length = view.getUint16(x + 2, true);
      if (id === 1) {
        let field = x + 4;
        if (size === 0xffffffff) {
          field += 8; // uncompressed size first
          size = Number(view.getBigUint64(field, true)); // compressed size (stored: the same)
          field += 8;
        }
        if (local === 0xffffffff) local = Number(view.getBigUint64(field, true));
      }
      x += 4 + length;
    }
    if (method !== 0) throw new Error(`zip: '${name}' uses compression method ${method}, expected 0 (stored)`);
    if (view.getUint32(local, true) !== 0x04034b50) throw new Error(`zip: bad local header for '${name}'`);
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    out.set(name, zip.subarray(dataStart, dataStart + size));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}
