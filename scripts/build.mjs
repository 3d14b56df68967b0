#!/usr/bin/env node
// Bundles every action (actions/<name>/action.yml) with ncc into dist/<name>/.
// Usage: node scripts/build.mjs [name ...]   (no names: all actions)
import { execFile } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { promisify } from 'node:util'
import { existsSync, readdirSync, renameSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const ncc = join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
const all = readdirSync(join(root, 'actions')).filter(n =>
  existsSync(join(root, 'actions', n, 'action.yml'))
)
const wanted = process.argv.slice(2)
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`build: unknown action "${name}"; known: ${all.join(', ')}`)
    process.exit(2)
  }
}
const names = wanted.length > 0 ? wanted : all

const run = promisify(execFile)
// src/ is compiled once by tsc (tsconfig.build.json: type errors fail the build), then
// ncc bundles the JavaScript: its own TypeScript loader would type-check the whole
// program again for every bundle.
const js = join(root, '.tmp', 'build-js')

async function bundle(entry, next) {
  // Build beside the target and swap it in, so a failed build never leaves dist/ without it.
  rmSync(next, { recursive: true, force: true })
  try {
    const args = [ncc, 'build', entry, '-o', next, '--license', 'licenses.txt']
    args.push('--target', 'es2022', '-q')
    await run(process.execPath, args, {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '' },
      maxBuffer: 64 << 20
    })
  } catch (error) {
    rmSync(next, { recursive: true, force: true })
    process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`)
    console.error(`build: bundling ${entry} failed; dist/ left as it was`)
    process.exit(1)
  }
  // ncc writes a package.json marking the bundle as ESM; normalise its formatting.
  const pkg = join(next, 'package.json')
  if (existsSync(pkg))
    writeFileSync(pkg, JSON.stringify(JSON.parse(readFileSync(pkg, 'utf8'))) + '\n')
  return next
}

rmSync(js, { recursive: true, force: true })
try {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  await run(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    cwd: root,
    maxBuffer: 64 << 20
  })
} catch (error) {
  process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`)
  console.error('build: src/ does not compile (tsc -p tsconfig.build.json); dist/ left as it was')
  process.exit(1)
}

// Every bundle is built first (as many at once as there are cores), then swapped in.
const jobs = names.flatMap(name => {
  const src = join(root, 'src', 'actions', name)
  const post = existsSync(join(src, 'post.ts'))
  const out = join(js, 'actions', name)
  return [
    { name, entry: join(out, 'index.js'), next: join(root, 'dist', `.${name}.next`) },
    ...(post
      ? [{ name, entry: join(out, 'post.js'), next: join(root, 'dist', `.${name}.post.next`) }]
      : [])
  ]
})
const queue = [...jobs]
await Promise.all(
  Array.from({ length: Math.min(availableParallelism(), jobs.length) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await bundle(job.entry, job.next)
  })
)
for (const name of names) {
  const src = join(root, 'src', 'actions', name)
  const out = join(root, 'dist', name)
  const main = join(root, 'dist', `.${name}.next`)
  const post = existsSync(join(src, 'post.ts'))
    ? join(root, 'dist', `.${name}.post.next`)
    : undefined
  rmSync(out, { recursive: true, force: true })
  renameSync(main, out)
  if (post) renameSync(post, join(out, 'post'))
  console.log(`build: dist/${name} ok`)
}
