/**
 * The opaque directories of an overlay layer, from tar-splits shaped as containers/storage
 * writes them: markers at any depth and with `./` or `/` prefixes, whiteouts and
 * look-alike names that are not markers, a marker under a name that is not UTF-8, a
 * broken file, and the stream fed in chunks of any size (a marker across chunks).
 * storage-buildah.test.ts reads the tar-splits real buildah stores hold.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import {
  OpaqueScanner,
  opaqueDirsOf,
  readOpaqueDirs
} from '../../../../src/image/attest/tar-split.js'
import { tarSplit } from '../../../support/tar-split.js'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-tar-split-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('tar-split: the opaque directories of a layer', () => {
  it.each([
    [['usr/', 'usr/lib/', 'usr/lib/os-release'], []],
    [['var/lib/dpkg/', 'var/lib/dpkg/.wh..wh..opq', 'var/lib/dpkg/status'], ['var/lib/dpkg']],
    [
      ['./etc/.wh..wh..opq', '/lib/apk/.wh..wh..opq', '.wh..wh..opq'],
      ['etc', 'lib/apk', '']
    ],
    // A whiteout is not an opaque marker, nor a file that only contains the name.
    [['etc/.wh.os-release', 'doc/.wh..wh..opq.txt'], []]
  ])('%j', (names, want) => {
    expect([...(opaqueDirsOf(tarSplit(names)) as Set<string>)].sort()).toEqual(want.sort())
  })
  it('a marker under a name that is not UTF-8 is a reason, other such names are fine', () => {
    expect(opaqueDirsOf(tarSplit(['a/'], ['/x']))).toEqual(new Set())
    expect(opaqueDirsOf(tarSplit(['a/'], ['/.wh..wh..opq']))).toMatch(/not UTF-8/)
  })
  it('not gzip, or a broken line', () => {
    expect(opaqueDirsOf(Buffer.from('plain'))).toMatch(/not gzip/)
    expect(opaqueDirsOf(gzipSync('{"type":1,"name":"a/.wh..wh..opq"\n'))).toMatch(/not JSON/)
  })
  it('fed in chunks of any size, a marker split across chunks included', () => {
    const names = Array.from({ length: 300 }, (_, i) => `usr/share/doc/p${i}/copyright`)
    names.splice(150, 0, 'var/lib/dpkg/.wh..wh..opq')
    names.push('etc/.wh..wh..opq')
    const text = gunzipSync(tarSplit(names))
    for (const size of [1, 7, 512, 4096, text.length]) {
      const scanner = new OpaqueScanner()
      for (let at = 0; at < text.length; at += size) scanner.push(text.subarray(at, at + size))
      expect([...(scanner.end() as Set<string>)].sort()).toEqual(['etc', 'var/lib/dpkg'])
    }
  })
  it('read from a file as a stream; a missing or broken file is a reason', async () => {
    const file = join(tmp, 'layer.tar-split.gz')
    writeFileSync(file, tarSplit(['a/', 'a/.wh..wh..opq', 'a/b']))
    expect(await readOpaqueDirs(file)).toEqual(new Set(['a']))
    expect(await readOpaqueDirs(join(tmp, 'none.tar-split.gz'))).toMatch(
      /no readable tar-split \(ENOENT/
    )
    writeFileSync(file, 'not gzip')
    expect(await readOpaqueDirs(file)).toMatch(/no readable tar-split \(incorrect header check/)
  })
})
