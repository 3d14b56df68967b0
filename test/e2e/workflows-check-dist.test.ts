/**
 * scripts/check-dist.mjs (what the check-dist workflow runs) on a small throwaway
 * repository: a fresh build equals dist/, two builds are byte-identical, and a changed
 * byte, a stale file or a missing bundle is named and fails the check.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
let repo = ''

function checkDist(...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [join(repo, 'scripts', 'check-dist.mjs'), ...args], {
    cwd: repo,
    encoding: 'utf8'
  })
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` }
}

function git(...args: string[]): void {
  execFileSync('git', args, {
    cwd: repo,
    stdio: 'ignore',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
      GIT_CONFIG_GLOBAL: '/dev/null'
    }
  })
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'conveyor-check-dist-repo-'))
  mkdirSync(join(repo, 'scripts'))
  cpSync(join(ROOT, 'scripts', 'build.mjs'), join(repo, 'scripts', 'build.mjs'))
  cpSync(join(ROOT, 'scripts', 'check-dist.mjs'), join(repo, 'scripts', 'check-dist.mjs'))
  cpSync(join(ROOT, 'tsconfig.build.json'), join(repo, 'tsconfig.build.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'), 'dir')
  writeFileSync(join(repo, 'package.json'), '{"name":"tiny","type":"module","private":true}\n')
  writeFileSync(join(repo, 'package-lock.json'), '{"lockfileVersion":3}\n')
  writeFileSync(
    join(repo, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        types: ['node'],
        skipLibCheck: true,
        noEmit: true
      },
      include: ['src/**/*.ts']
    })
  )
  mkdirSync(join(repo, 'actions', 'tiny'), { recursive: true })
  writeFileSync(
    join(repo, 'actions', 'tiny', 'action.yml'),
    'name: tiny\ndescription: tiny\nruns:\n  using: node24\n  main: ../../dist/tiny/index.js\n  post: ../../dist/tiny/post/index.js\n'
  )
  mkdirSync(join(repo, 'src', 'actions', 'tiny'), { recursive: true })
  writeFileSync(
    join(repo, 'src', 'actions', 'tiny', 'index.ts'),
    "import { hello } from './main.js'\n\nvoid hello()\n"
  )
  writeFileSync(
    join(repo, 'src', 'actions', 'tiny', 'main.ts'),
    "import { writeFileSync } from 'node:fs'\n\nexport async function hello(): Promise<void> {\n  writeFileSync(1, 'hello\\n')\n}\n"
  )
  writeFileSync(
    join(repo, 'src', 'actions', 'tiny', 'post.ts'),
    "process.stdout.write('post\\n')\n"
  )
  execFileSync(process.execPath, [join(repo, 'scripts', 'build.mjs')], {
    cwd: repo,
    stdio: 'ignore'
  })
}, 120_000)

afterAll(() => rmSync(repo, { recursive: true, force: true }))

describe('check-dist', { timeout: 240_000 }, () => {
  it('passes when dist/ is a fresh build, and two builds are byte-identical', () => {
    const r = checkDist('--twice')
    expect(r.out).toContain('check-dist: 4 files in dist/ equal a fresh build')
    expect(r.out).toContain('two builds are byte-identical')
    expect(r.code).toBe(0)
  })

  it('names a bundle that differs by one byte, a stale file and a missing one', () => {
    const index = join(repo, 'dist', 'tiny', 'index.js')
    const original = readFileSync(index)
    const postPkg = join(repo, 'dist', 'tiny', 'post', 'package.json')
    const postPkgText = readFileSync(postPkg)
    try {
      appendFileSync(index, ' ')
      writeFileSync(join(repo, 'dist', 'tiny', 'stale.js'), 'old\n')
      rmSync(postPkg)
      const r = checkDist()
      expect(r.code).toBe(1)
      expect(r.out).toContain('tiny/index.js: differs')
      expect(r.out).toContain('tiny/stale.js: in dist/, not produced by a fresh build')
      expect(r.out).toContain(
        'tiny/post/package.json: produced by a fresh build, missing from dist/'
      )
    } finally {
      writeFileSync(index, original)
      rmSync(join(repo, 'dist', 'tiny', 'stale.js'), { force: true })
      writeFileSync(postPkg, postPkgText)
    }
    expect(checkDist().code).toBe(0)
  })

  it('--head checks the last commit: source changed without a rebuild fails', () => {
    git('init', '-q', '-b', 'main')
    git('add', '-A')
    git('commit', '-q', '-m', 'tiny')
    expect(checkDist('--head').code).toBe(0)
    writeFileSync(
      join(repo, 'src', 'actions', 'tiny', 'main.ts'),
      "import { writeFileSync } from 'node:fs'\n\nexport async function hello(): Promise<void> {\n  writeFileSync(1, 'changed\\n')\n}\n"
    )
    // uncommitted: HEAD is still consistent
    expect(checkDist('--head').code).toBe(0)
    git('commit', '-q', '-am', 'change source, forget the build')
    const r = checkDist('--head')
    expect(r.code).toBe(1)
    expect(r.out).toContain('dist/ at HEAD is not the build of the committed source')
    expect(r.out).toContain('tiny/index.js: differs')
  })

  it('a build that fails is reported as such', () => {
    writeFileSync(join(repo, 'src', 'actions', 'tiny', 'post.ts'), 'const x: number = "no"\n')
    try {
      const r = checkDist()
      expect(r.code).toBe(1)
      expect(r.out).toContain('check-dist: the build failed')
    } finally {
      writeFileSync(
        join(repo, 'src', 'actions', 'tiny', 'post.ts'),
        "process.stdout.write('post\\n')\n"
      )
    }
  })
})
