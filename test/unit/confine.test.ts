import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isWithin, resolveWithin, symlinkOnPath } from '../../src/lib/confine.js'

let dir: string
let root: string
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-confine-')))
  root = join(dir, 'root')
  mkdirSync(join(root, 'a', 'b'), { recursive: true })
  writeFileSync(join(root, 'a', 'b', 'f.yaml'), 'x')
  writeFileSync(join(dir, 'outside.txt'), 'secret')
  symlinkSync(join(dir, 'outside.txt'), join(root, 'a', 'out.txt'))
  symlinkSync('b', join(root, 'a', 'inner'))
  symlinkSync(dir, join(root, 'up'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('isWithin', () => {
  it.each([
    ['/w', '/w', true],
    ['/w', '/w/x/y', true],
    ['/w', '/w/..x', true],
    ['/w', '/wx', false],
    ['/w', '/', false],
    ['/w', '/w/../etc', false]
  ])('%s contains %s: %s', (r, p, ok) => {
    expect(isWithin(r, p)).toBe(ok)
  })
})

describe('resolveWithin', () => {
  it('resolves paths inside, symlinks included', () => {
    expect(resolveWithin(root, 'a/b/f.yaml')).toBe(join(root, 'a', 'b', 'f.yaml'))
    expect(resolveWithin(root, 'a/inner/f.yaml')).toBe(join(root, 'a', 'b', 'f.yaml'))
    expect(resolveWithin(root, 'a/new/file')).toBe(join(root, 'a', 'new', 'file'))
  })
  it('refuses traversal, absolute paths and symlinks out', () => {
    expect(resolveWithin(root, '../outside.txt')).toBeUndefined()
    expect(resolveWithin(root, '/etc/passwd')).toBeUndefined()
    expect(resolveWithin(root, 'a/out.txt')).toBeUndefined()
    expect(resolveWithin(root, 'up/outside.txt')).toBeUndefined()
    expect(resolveWithin(root, 'up/not-yet/x')).toBeUndefined()
  })
})

describe('symlinkOnPath', () => {
  it('names the first symlink on the way', () => {
    expect(symlinkOnPath(root, 'a/b/f.yaml')).toBeUndefined()
    expect(symlinkOnPath(root, 'a/out.txt')).toBe('a/out.txt')
    expect(symlinkOnPath(root, 'a/inner/f.yaml')).toBe('a/inner')
    expect(symlinkOnPath(root, './up/x')).toBe('up')
    expect(symlinkOnPath(root, 'missing/x')).toBeUndefined()
  })
})
