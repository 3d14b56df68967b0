/**
 * The opaque directories of an overlay layer, from the tar-split containers/storage kept
 * when it applied the layer's tar (`<driver>-layers/<id>.tar-split.gz`, the format of
 * vbatts/tar-split's tar/storage: gzip of JSON lines, `{"type":1,"name":...}` for each
 * tar entry and `{"type":2,"payload":<base64>}` for the raw bytes between). A directory
 * is opaque where the tar held `<dir>/.wh..wh..opq`; the kernel's overlay format keeps
 * that only in an extended attribute, which Node cannot read.
 *
 * Only lines naming the marker are parsed: raw bytes are base64, so a name is the only
 * place it can appear. A marker under a name that is not UTF-8 (`name_raw`) cannot be
 * matched against a path and is a reason. The file is decompressed as a stream (in
 * zlib's thread pool), never whole: a layer of many files has a tar-split of megabytes.
 */
import { createReadStream } from 'node:fs'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, gunzipSync } from 'node:zlib'
import { errorMessage } from '../../core/errors.js'

/** The opaque marker's name. */
export const OPAQUE = '.wh..wh..opq'
const NEEDLES = [Buffer.from(OPAQUE), Buffer.from('"name_raw"')]
const NEWLINE = 0x0a
/** Bytes either side of a chunk boundary where a needle may straddle it. */
const SEAM = Math.max(...NEEDLES.map(n => n.length)) - 1

/** A tar entry's name as a path relative to the layer's root (`./a/b/` → `a/b`). Pure. */
function entryName(name: string): string {
  return name
    .split('/')
    .filter(p => p !== '' && p !== '.')
    .join('/')
}

/** Finds the opaque markers in decompressed tar-split text fed in chunks of any size. */
export class OpaqueScanner {
  private carry = Buffer.alloc(0)
  /** Whether the partial line kept holds a needle. */
  private marked = false
  private readonly dirs = new Set<string>()
  private failed?: string

  push(chunk: Buffer): void {
    if (this.failed) return
    // Most chunks hold no marker: keep only the partial line at their end.
    const seam = Buffer.concat([this.carry.subarray(-SEAM), chunk.subarray(0, SEAM)])
    if (!this.marked && !NEEDLES.some(n => chunk.includes(n) || seam.includes(n))) {
      const end = chunk.lastIndexOf(NEWLINE)
      this.carry =
        end < 0 ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk.subarray(end + 1))
      return
    }
    const data = Buffer.concat([this.carry, chunk])
    const end = data.lastIndexOf(NEWLINE)
    if (end >= 0) this.lines(data.subarray(0, end))
    this.carry = Buffer.from(data.subarray(end + 1))
    // A needle in the partial line is parsed once its line is whole.
    this.marked = NEEDLES.some(n => this.carry.includes(n))
  }

  /** The opaque directories (relative, '' for the root), or why they cannot be told. */
  end(): Set<string> | string {
    if (this.carry.length > 0) this.lines(this.carry)
    this.carry = Buffer.alloc(0)
    return this.failed ?? this.dirs
  }

  /** Parse the lines of `block` (whole lines) that hold a needle. */
  private lines(block: Buffer): void {
    for (const needle of NEEDLES) {
      for (let at = block.indexOf(needle); at >= 0 && !this.failed;) {
        const start = block.lastIndexOf(NEWLINE, at) + 1
        const found = block.indexOf(NEWLINE, at)
        const stop = found < 0 ? block.length : found
        this.line(block.toString('utf8', start, stop))
        at = block.indexOf(needle, stop)
      }
    }
  }

  private line(text: string): void {
    let entry: { type?: unknown; name?: unknown; name_raw?: unknown }
    try {
      entry = JSON.parse(text) as typeof entry
    } catch {
      this.failed = 'a tar-split line that is not JSON'
      return
    }
    if (entry.type !== 1) return
    if (typeof entry.name_raw === 'string') {
      const raw = Buffer.from(entry.name_raw, 'base64').toString('latin1')
      if (raw.endsWith(OPAQUE)) this.failed = 'an opaque directory whose name is not UTF-8'
      return
    }
    if (typeof entry.name !== 'string') return
    const name = entryName(entry.name)
    const slash = name.lastIndexOf('/')
    if (name.slice(slash + 1) === OPAQUE) this.dirs.add(slash < 0 ? '' : name.slice(0, slash))
  }
}

/** The opaque directories of a tar-split held in memory (gzip). Pure. */
export function opaqueDirsOf(tarSplitGz: Buffer): Set<string> | string {
  let text: Buffer
  try {
    text = gunzipSync(tarSplitGz)
  } catch (error) {
    return `a tar-split that is not gzip (${errorMessage(error)})`
  }
  const scanner = new OpaqueScanner()
  scanner.push(text)
  return scanner.end()
}

/** The opaque directories of the tar-split file `path`, streamed; the reason when unreadable. */
export async function readOpaqueDirs(path: string): Promise<Set<string> | string> {
  const scanner = new OpaqueScanner()
  try {
    await pipeline(
      createReadStream(path),
      createGunzip({ chunkSize: 256 * 1024 }),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          scanner.push(chunk)
          done()
        }
      })
    )
  } catch (error) {
    return `no readable tar-split (${errorMessage(error)})`
  }
  return scanner.end()
}
