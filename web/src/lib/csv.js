// The head of a CSV file as the import API reads it (app/core/csv.c): the encoding
// (a UTF-8 BOM or valid UTF-8 throughout is UTF-8, anything else GBK), the column
// names of the header row, the cells of the first data rows, and the first rows
// as a small file of their own. Scanned as bytes: quotes, commas and line breaks are
// ASCII and never occur inside a multibyte character of UTF-8 or GBK (GB18030).

const QUOTE = 0x22
const COMMA = 0x2c
const LF = 0x0a
const CR = 0x0d

const hasBom = (b) => b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf

function isUtf8(bytes) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return true
  } catch {
    return false
  }
}

// Up to `max` records from byte `p` on: { cells: [[byte ranges of the cell's text]],
// end } each. Blank lines are skipped; a doubled quote inside quotes is one quote. A
// malformed file ends the scan early (the API says what is wrong with it).
function scan(bytes, p, max) {
  const n = bytes.length
  const out = []
  while (out.length < max) {
    while (p < n && (bytes[p] === LF || bytes[p] === CR)) p++
    if (p >= n) break
    const cells = []
    for (;;) {
      const ranges = []
      if (bytes[p] === QUOTE) {
        let from = ++p
        for (;;) {
          if (p >= n) return out
          if (bytes[p] === QUOTE) {
            ranges.push([from, p])
            if (bytes[p + 1] !== QUOTE) break
            from = p + 1   // keep the second quote of the pair
            p += 2
          } else p++
        }
        p++
      } else {
        const from = p
        while (p < n && bytes[p] !== COMMA && bytes[p] !== LF && bytes[p] !== CR) p++
        ranges.push([from, p])
      }
      cells.push(ranges)
      if (bytes[p] !== COMMA) break
      p++
    }
    if (bytes[p] === CR) p++
    if (bytes[p] === LF) p++
    out.push({ cells, end: p })
  }
  return out
}

function cellText(bytes, ranges, decoder) {
  const len = ranges.reduce((a, [s, e]) => a + e - s, 0)
  const buf = new Uint8Array(len)
  let at = 0
  for (const [s, e] of ranges) {
    buf.set(bytes.subarray(s, e), at)
    at += e - s
  }
  return decoder.decode(buf)
}

// { encoding: 'utf-8'|'gbk', headers: [name], samples: [[cell]] (up to `rows` data
// rows), head: a File of the header and those rows } of a File; headers is empty when
// the file has no row.
export async function readCsvHead(file, { rows = 20 } = {}) {
  const bytes = new Uint8Array(await file.arrayBuffer())
  const bom = hasBom(bytes)
  const encoding = bom || isUtf8(bytes) ? 'utf-8' : 'gbk'
  const decoder = new TextDecoder(encoding === 'utf-8' ? 'utf-8' : 'gb18030')
  const records = scan(bytes, bom ? 3 : 0, rows + 1)
  const text = (r) => r.cells.map((c) => cellText(bytes, c, decoder))
  const end = records.length ? records[records.length - 1].end : 0
  return {
    encoding,
    headers: records.length ? text(records[0]) : [],
    samples: records.slice(1).map(text),
    head: new File([bytes.subarray(0, end)], file.name, { type: 'text/csv' }),
  }
}
