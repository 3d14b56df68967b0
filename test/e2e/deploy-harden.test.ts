/**
 * deploy (GitOps over file:// and the loopback smart-HTTP server) where a user's
 * mistake or an attacker's file name used to mislead: a list output that a file name
 * with a newline could split (now a JSON array), input "targets" against the services
 * file's deploy: (the input wins, and the log says so), a kustomize directory that is a
 * symlink (named as one), a services-file mistake (an annotation on the file), and
 * repository URLs whose credentials hide outside userinfo (never echoed).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { cleanup, sh, tempDir, type TestRepo } from '../support/gitrepo.js'
import { makeConfigRemote, readTree, EXAMPLE_CONFIG_REPO } from '../support/git-http.js'
import { runAction, type ActionRun } from '../support/harness.js'

afterAll(() => cleanup())

function remoteFile(repo: TestRepo, path: string, ref = 'main'): string {
  return sh(repo.origin, ['show', `${ref}:${path}`])
}

function deploy(
  inputs: Record<string, string>,
  options: { workspace?: string } = {}
): Promise<ActionRun> {
  return runAction('deploy', {
    inputs,
    workspace: options.workspace,
    sha: 'c0ffee0000000000000000000000000000000001'
  })
}

/** A workspace holding only a services file. */
function servicesWorkspace(text: string): string {
  const ws = tempDir()
  mkdirSync(join(ws, '.github'))
  writeFileSync(join(ws, '.github', 'conveyor.yml'), text)
  return ws
}

describe('changed-files is a JSON array: a file name with a newline stays one name', () => {
  it('a manifest named "a\\n::warning::pwned.yaml" is one element, and issues no command', async () => {
    const evil = 'apps/a\n::warning::pwned.yaml'
    const repo = makeConfigRemote({
      [evil]:
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          image: ghcr.io/acme/shop-cart:1.0\n'
    })
    const run = await deploy({
      repository: repo.url,
      images: 'cart=ghcr.io/acme/shop-cart:2.0',
      targets: 'manifests:apps/*'
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(JSON.parse(run.main.outputs['changed-files']!)).toEqual([evil])
    expect(run.main.warnings.filter(w => /pwned/.test(w))).toEqual([])
    expect(run.main.summary).not.toMatch(/^::warning::/m)
    expect(remoteFile(repo, evil)).toContain('image: ghcr.io/acme/shop-cart:2.0')
  })
})

describe('input "targets" wins over deploy: in the services file', () => {
  it('the input applies, the services file target is untouched, the log says which and why', async () => {
    const repo = makeConfigRemote({
      'overlays/staging/kustomization.yaml':
        readTree(EXAMPLE_CONFIG_REPO)[join('overlays', 'prod', 'kustomization.yaml')]!
    })
    const staging = remoteFile(repo, 'overlays/staging/kustomization.yaml')
    const ws = servicesWorkspace(
      'services:\n  cart:\n    path: services/cart\n    image: ghcr.io/acme/shop-cart\n    deploy: { kustomize: overlays/staging }\n'
    )
    const run = await deploy(
      {
        repository: repo.url,
        images: 'cart=ghcr.io/acme/shop-cart:9.9.9',
        targets: 'kustomize:overlays/prod'
      },
      { workspace: ws }
    )
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toContain(
      'cart: targets from input "targets" (over deploy: of the services file: kustomize:overlays/staging)'
    )
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain('newTag: 9.9.9')
    expect(remoteFile(repo, 'overlays/staging/kustomization.yaml')).toBe(staging)
  })
})

describe('misleading messages, fixed', () => {
  it('a kustomize directory that is a symlink is named as one, not "no kustomization.yaml"', async () => {
    const repo = makeConfigRemote()
    sh(repo.dir, ['mv', 'overlays/prod', 'overlays/real'])
    symlinkSync('real', join(repo.dir, 'overlays', 'prod'))
    repo.git('add', '-A')
    repo.git('commit', '-qm', 'prod is a link')
    repo.push('main')
    const run = await deploy({
      repository: repo.url,
      images: 'checkout=ghcr.io/acme/shop-checkout:1.11',
      targets: 'kustomize:overlays/prod'
    })
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(error).toMatch(/overlays\/prod in the config repository is a symbolic link/)
    expect(error).not.toMatch(/no kustomization\.yaml/)
  })

  it('a mistake in the services file is an annotation on its file, line and column', async () => {
    const repo = makeConfigRemote()
    const ws = servicesWorkspace(
      'services:\n  cart:\n    path: services/cart\n    deploy: { kustomise: x }\n'
    )
    const run = await deploy(
      {
        repository: repo.url,
        images: 'cart=ghcr.io/acme/shop-cart:1.0',
        targets: 'kustomize:overlays/prod'
      },
      { workspace: ws }
    )
    expect(run.main.code).toBe(1)
    const error = run.main.commands.find(c => c.name === 'error')!
    expect(error.props).toMatchObject({ file: '.github/conveyor.yml', line: '4', col: '15' })
    expect(error.message).toMatch(/unknown key "kustomise" \(did you mean "kustomize"\?\)/)
  })
})

describe('repository: credentials outside userinfo are never echoed, http:// is refused', () => {
  const TOKEN = canary('URLTOKEN')
  it.each([
    [
      'a query',
      `http://git.example.com/c.git?access_token=${TOKEN}`,
      'http://git.example.com/c.git'
    ],
    ['a fragment', `https://git.example.com/c.git#${TOKEN}`, 'https://git.example.com/c.git'],
    ['scp-like user:token', `x:${TOKEN}@host:c.git`, 'host:c.git'],
    ['file:// with user:token', `file://x:${TOKEN}@/srv/c.git`, 'file:///srv/c.git']
  ])('%s: the error shows %s only', async (_label, repository, shown) => {
    const run = await deploy({
      repository,
      images: 'cart=ghcr.io/acme/shop-cart:1.0',
      targets: 'kustomize:overlays/prod'
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors).toHaveLength(1)
    expect(run.main.errors[0]).toMatch(/input "repository"/)
    expect(run.main.errors[0]).toContain(JSON.stringify(shown))
    expect(findLeaks(run.channels(), [{ value: TOKEN }])).toEqual([])
  })

  it('http:// to another machine is refused before any connection, naming insecure-http', async () => {
    const run = await deploy({
      repository: 'http://git.example.com/acme/config.git',
      token: canary('HTTPTOKEN'),
      images: 'cart=ghcr.io/acme/shop-cart:1.0',
      targets: 'kustomize:overlays/prod'
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /input "repository": got "http:\/\/git\.example\.com\/acme\/config\.git", plain HTTP to another machine: the token, and the config repository that decides what runs, would cross the network in clear text; use https:\/\/, or set input "insecure-http" to true/
    )
    expect(run.main.stdout).not.toMatch(/git .*clone|ls-remote/)
  })
})

describe('results: a file that is not a result file is named, never echoed', () => {
  it('results pointing at a text file: the error gives its size, not its lines', async () => {
    const ws = tempDir()
    const secretish = canary('NOTJSON')
    writeFileSync(join(ws, 'notes.json'), `root:x:0:0:root:/root:/bin/bash\n${secretish}\n`)
    const run = await deploy(
      {
        repository: 'https://github.com/acme/config',
        results: 'notes.json',
        targets: 'kustomize:x'
      },
      { workspace: ws }
    )
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /input "results": .*notes\.json: not valid JSON \(\d+ bytes/
    )
    expect(run.main.errors.join('\n')).not.toMatch(/root:x/)
    // Every channel but the workspace, where the file itself is.
    const channels = Object.fromEntries(
      Object.entries(run.channels()).filter(([k]) => !k.startsWith('workspace:'))
    )
    expect(findLeaks(channels, [{ value: secretish }])).toEqual([])
  })
})

describe('ssh env: names only, never a value', () => {
  it('env: NAME=VALUE is refused showing the name, not the value', async () => {
    const value = canary('ENVVALUE')
    const ws = tempDir()
    mkdirSync(join(ws, 'site'))
    writeFileSync(join(ws, 'site', 'index.html'), 'x\n')
    const run = await runAction('deploy', {
      workspace: ws,
      inputs: {
        mode: 'ssh',
        hosts: '127.0.0.1:9',
        username: 'deploy',
        key: 'unused',
        'known-hosts':
          '[127.0.0.1]:9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
        source: 'site',
        target: '/srv/app',
        env: `APP_TOKEN=${value}`
      }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors).toHaveLength(1)
    expect(run.main.errors[0]).toMatch(
      /input "env": got "APP_TOKEN"=… \(a name with a value\), expected names only/
    )
    expect(findLeaks(run.channels(), [{ value }])).toEqual([])
  })
})
