/**
 * A tar-split as containers/storage keeps it beside a layer (`<id>.tar-split.gz`, the
 * format of vbatts/tar-split's tar/storage): gzip of JSON lines, a raw segment
 * (`type` 2) before each entry (`type` 1, its name). No test framework imports.
 */
import { gzipSync } from 'node:zlib'

/** The tar-split of entries `names`, and of `raw` names written as bytes that are not UTF-8. */
export function tarSplit(names: string[], raw: string[] = []): Buffer {
  const lines: string[] = []
  let position = 0
  for (const name of names) {
    lines.push(JSON.stringify({ type: 2, payload: 'AAAA', position: position++ }))
    lines.push(JSON.stringify({ type: 1, name, payload: null, position: position++ }))
  }
  for (const name of raw) {
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from(name)]).toString('base64')
    lines.push(JSON.stringify({ type: 1, name_raw: bytes, payload: null, position: position++ }))
  }
  return gzipSync(`${lines.join('\n')}\n`)
}
