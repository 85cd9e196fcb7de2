/** Reading the load generators' frames straight from their bytes, without parsing the JSON. */
const TILDE = 0x7e;
const COLON = 0x3a;
const QUOTE = 0x22;
const ID_KEY = Buffer.from('"id":"');

/** Reads `~index:sentAt~` from the frame's bytes; null when the frame carries no event. */
export function marker(data: Buffer): [number, number] | null {
  const start = data.indexOf(TILDE);
  if (start < 0) return null;
  let i = start + 1;
  let index = 0;
  for (; data[i] !== COLON; i++) {
    if (i >= data.length) return null;
    index = index * 10 + (data[i] - 48);
  }
  const end = data.indexOf(TILDE, i + 1);
  if (end < 0) return null;
  return [index, Number(data.toString("latin1", i + 1, end))];
}

/** The graphql-ws message's `id`; "" when it has none. */
export function subId(data: Buffer): string {
  const at = data.indexOf(ID_KEY);
  if (at < 0) return "";
  const from = at + ID_KEY.length;
  return data.toString("latin1", from, data.indexOf(QUOTE, from));
}
