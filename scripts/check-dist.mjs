#!/usr/bin/env node
// Rebuilds every bundle in a temporary copy of the repository (src, actions, scripts,
// test, package.json, package-lock.json, tsconfig.json, *.config.ts and node_modules) and
// compares it byte for byte with dist/. Exits 1 and lists the differing files on any difference.
//
// Usage: node scripts/check-dist.mjs [--head] [--twice] [--root <dir>] [--keep]
//   --head   check the last commit (git archive HEAD) instead of the working tree
//   --twice  also build a second time and require both builds to be identical
//            (the build is deterministic)
//   --keep   keep the temporary copies and print where they are
import { execFileSync, spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'

// What the build reads (tsc compiles src/ by tsconfig.build.json, which extends
// tsconfig.json; ncc bundles the result). test/ and the root *.config.ts files are
// copied too, as tsconfig.json names them.
const INPUTS = [
  'src',
  'actions',
  'scripts',
  'test',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json'
]

/** Every file under `dir`: relative path → Buffer. */
export function readTree(dir) {
  const out = new Map()
  const walk = d => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry)
      const st = statSync(path)
      if (st.isDirectory()) walk(path)
      else out.set(relative(dir, path), readFileSync(path))
    }
  }
  if (existsSync(dir)) walk(dir)
  return out
}

/** The dist/ tree of a commit: relative path → Buffer. */
function readCommittedTree(root, rev) {
  const out = new Map()
  const list = execFileSync(
    'git',
    ['-C', root, 'ls-tree', '-r', '-z', '--name-only', rev, 'dist'],
    {
      encoding: 'utf8'
    }
  )
  for (const path of list.split('\0').filter(Boolean)) {
    const content = execFileSync('git', ['-C', root, 'show', `${rev}:${path}`], {
      maxBuffer: 256 * 1024 * 1024
    })
    out.set(relative('dist', path), content)
  }
  return out
}

/** Differences between two trees, as lines. */
export function compareTrees(expected, actual, names = { expected: 'dist/', actual: 'the build' }) {
  const lines = []
  const paths = [...new Set([...expected.keys(), ...actual.keys()])].sort()
  for (const path of paths) {
    const a = expected.get(path)
    const b = actual.get(path)
    if (a === undefined)
      lines.push(`  ${path}: produced by ${names.actual}, missing from ${names.expected}`)
    else if (b === undefined)
      lines.push(`  ${path}: in ${names.expected}, not produced by ${names.actual}`)
    else if (!a.equals(b)) {
      let at = 0
      while (at < a.length && at < b.length && a[at] === b[at]) at++
      const line = a.subarray(0, at).toString('utf8').split('\n').length
      lines.push(`  ${path}: differs (${a.length} vs ${b.length} bytes, first at line ${line})`)
    }
  }
  return lines
}

/**
 * node_modules for the copy. A symlink would not do: webpack resolves it to the real
 * path, and ncc's module ids hash the path relative to the build, so the bundle bytes
 * would differ. Hard links are instant and give the same relative paths; a plain copy
 * is the fallback across file systems.
 */
function linkNodeModules(from, to) {
  const hard = spawnSync('cp', ['-al', from, to], { encoding: 'utf8' })
  if (hard.status === 0) return
  rmSync(to, { recursive: true, force: true })
  cpSync(from, to, { recursive: true, verbatimSymlinks: true })
}

/** Make a temporary copy of the build inputs and run the build there; returns dist/. */
function buildCopy(root, head) {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-check-dist-'))
  if (head) {
    const top = execFileSync('git', ['-C', root, 'ls-tree', '--name-only', 'HEAD'], {
      encoding: 'utf8'
    }).split('\n')
    const paths = top.filter(p => INPUTS.includes(p) || /\.config\.ts$/.test(p))
    const tar = execFileSync(
      'git',
      ['-C', root, 'archive', '--format=tar', 'HEAD', '--', ...paths],
      {
        maxBuffer: 512 * 1024 * 1024
      }
    )
    execFileSync('tar', ['-x', '-C', dir], { input: tar })
  } else {
    const configs = readdirSync(root).filter(f => /\.config\.ts$/.test(f))
    for (const name of [...INPUTS, ...configs]) {
      const from = join(root, name)
      if (existsSync(from)) cpSync(from, join(dir, name), { recursive: true })
    }
  }
  linkNodeModules(join(root, 'node_modules'), join(dir, 'node_modules'))
  mkdirSync(join(dir, 'dist'), { recursive: true })
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'build.mjs')], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' }
  })
  if (r.status !== 0) {
    throw new Error(`the build failed in ${dir}:\n${(r.stderr || r.stdout).trim()}`)
  }
  return dir
}

function main(argv) {
  let root = resolve(import.meta.dirname, '..')
  let head = false
  let twice = false
  let keep = false
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--head') head = true
    else if (argv[i] === '--twice') twice = true
    else if (argv[i] === '--keep') keep = true
    else if (argv[i] === '--root') root = resolve(argv[++i] ?? '.')
    else {
      console.error(`check-dist: unknown argument ${argv[i]}`)
      return 2
    }
  }
  const temps = []
  try {
    const first = buildCopy(root, head)
    temps.push(first)
    const built = readTree(join(first, 'dist'))
    const committed = head ? readCommittedTree(root, 'HEAD') : readTree(join(root, 'dist'))
    const where = head ? 'dist/ at HEAD' : 'dist/'
    const diff = compareTrees(committed, built, { expected: where, actual: 'a fresh build' })
    let failed = false
    if (diff.length > 0) {
      console.error(
        `check-dist: ${where} is not the build of the ${head ? 'committed' : 'current'} source (run "npm run build" and commit dist/):\n${diff.join('\n')}`
      )
      failed = true
    } else {
      console.log(`check-dist: ${built.size} files in ${where} equal a fresh build`)
    }
    if (twice) {
      const second = buildCopy(root, head)
      temps.push(second)
      const again = compareTrees(built, readTree(join(second, 'dist')), {
        expected: 'the first build',
        actual: 'the second build'
      })
      if (again.length > 0) {
        console.error(`check-dist: the build is not deterministic:\n${again.join('\n')}`)
        failed = true
      } else {
        console.log('check-dist: two builds are byte-identical')
      }
    }
    if (keep) console.log(`check-dist: kept ${temps.join(', ')}`)
    return failed ? 1 : 0
  } finally {
    if (!keep) for (const t of temps) rmSync(t, { recursive: true, force: true })
  }
}

if (process.argv[1]?.endsWith('/check-dist.mjs')) {
  try {
    process.exitCode = main(process.argv.slice(2))
  } catch (error) {
    console.error(`check-dist: ${error.message}`)
    process.exitCode = 1
  }
}
