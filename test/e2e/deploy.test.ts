/**
 * The deploy action's committed bundle in GitOps mode against real bare remotes over
 * file://: kustomize / Helm / manifest edits land in place, no-op and dry-run, the
 * monotonic guard, user mistakes, and a leaked canary refused before push.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { cleanup, makeRepo, sh, tempDir, type TestRepo } from '../support/gitrepo.js'
import { makeConfigRemote } from '../support/git-http.js'
import { runAction, type ActionRun } from '../support/harness.js'

afterAll(() => cleanup())

const DIGEST = `sha256:${'ab'.repeat(32)}`

/** The content of `path` on the remote's main. */
function remoteFile(repo: TestRepo, path: string, ref = 'main'): string {
  return sh(repo.origin, ['show', `${ref}:${path}`])
}

function remoteCount(repo: TestRepo, ref = 'main'): number {
  return Number(sh(repo.origin, ['rev-list', '--count', ref]))
}

function deploy(
  inputs: Record<string, string>,
  options: { env?: Record<string, string>; workspace?: string; sha?: string } = {}
): Promise<ActionRun> {
  return runAction('deploy', {
    inputs,
    env: options.env,
    workspace: options.workspace,
    sha: options.sha ?? 'c0ffee0000000000000000000000000000000001'
  })
}

describe('deploy gitops over file://', () => {
  it('bumps a kustomize image in place, commits with trailers, and kustomize renders it', async () => {
    const repo = makeConfigRemote()
    const before = remoteFile(repo, 'overlays/prod/kustomization.yaml')
    const run = await deploy({
      repository: repo.url,
      images: 'checkout=ghcr.io/acme/shop-checkout:1.11',
      targets: 'kustomize:overlays/prod',
      environment: 'prod'
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.outputs.result).toBe('pushed')
    expect(run.main.stdout).toContain('sparse checkout: /overlays/prod/*')
    // The clone under RUNNER_TEMP is gone.
    expect(Object.keys(run.leftoverFiles()).filter(f => /\/deploy-[^/]+\//.test(f))).toEqual([])
    const after = remoteFile(repo, 'overlays/prod/kustomization.yaml')
    expect(after).toBe(before.replace("newTag: '1.10'", "newTag: '1.11'"))
    expect(run.main.outputs.commit).toBe(sh(repo.origin, ['rev-parse', 'main']))
    expect(JSON.parse(run.main.outputs['changed-files']!)).toEqual([
      'overlays/prod/kustomization.yaml'
    ])
    expect(JSON.parse(run.main.outputs.updates!)).toEqual({
      checkout: {
        old: 'ghcr.io/acme/shop-checkout:1.10',
        new: 'ghcr.io/acme/shop-checkout:1.11',
        files: ['overlays/prod/kustomization.yaml']
      }
    })
    const message = sh(repo.origin, ['log', '-1', '--format=%B', 'main'])
    expect(message).toMatch(/^deploy\(prod\): checkout shop-checkout:1.10 → shop-checkout:1.11/)
    expect(message).toContain('Conveyor-Source-Commit: c0ffee0000000000000000000000000000000001')
    expect(message).toContain('Conveyor-Source-Repository: acme/shop')
    expect(message).toContain('Conveyor-Run: https://github.com/acme/shop/actions/runs/1234567890')
    expect(message).toContain('Conveyor-Services: checkout')
    expect(sh(repo.origin, ['log', '-1', '--format=%an <%ae>', 'main'])).toBe(
      'conveyor[bot] <conveyor[bot]@users.noreply.github.com>'
    )
    expect(run.main.summary).toContain('shop-checkout:1.11')
    // kubectl kustomize renders the edited overlay with the new image.
    const out = tempDir()
    sh(out, ['clone', '-q', repo.url, 'c'])
    const rendered = execFileSync('kubectl', ['kustomize', join(out, 'c', 'overlays', 'prod')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore']
    })
    expect(rendered).toContain('image: ghcr.io/acme/shop-checkout:1.11')
    expect(rendered).not.toContain('shop-checkout:1.10')

    // The same image again changes nothing: no commit, and it says so.
    const count = remoteCount(repo)
    const again = await deploy({
      repository: repo.url,
      images: 'checkout=ghcr.io/acme/shop-checkout:1.11',
      targets: 'kustomize:overlays/prod'
    })
    expect(again.main.code).toBe(0)
    expect(again.main.outputs.result).toBe('no-op')
    expect(again.main.outputs.commit).toBe('')
    expect(again.main.notices.join('\n')).toMatch(/no change/)
    expect(remoteCount(repo)).toBe(count)
  })

  it('edits Helm values and manifests of several services in one commit', async () => {
    const repo = makeConfigRemote()
    const helm = remoteFile(repo, 'helm/values-prod.yaml')
    const run = await deploy({
      repository: repo.url,
      images: [
        `frontend=ghcr.io/acme/shop-frontend:1.5.0@${DIGEST}`,
        'cart=ghcr.io/acme/shop-cart:on'
      ].join('\n'),
      targets: [
        'helm:helm/values-prod.yaml:frontend.image.tag=frontend',
        'helm:helm/values-prod.yaml:cart.image=cart',
        'manifests:base/*.yaml'
      ].join('\n')
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(remoteFile(repo, 'helm/values-prod.yaml')).toBe(
      helm
        .replace('tag: "1.4.2"', 'tag: "1.5.0"')
        .replace('image: ghcr.io/acme/shop-cart:2.0.1', 'image: ghcr.io/acme/shop-cart:on')
    )
    expect(remoteFile(repo, 'base/cart.yaml')).toContain(
      'image: ghcr.io/acme/shop-cart:on # replaced by'
    )
    expect(remoteFile(repo, 'base/frontend.yaml')).toContain(
      `image: ghcr.io/acme/shop-frontend:1.5.0@${DIGEST} # replaced by`
    )
    expect((JSON.parse(run.main.outputs['changed-files']!) as string[]).sort()).toEqual([
      'base/cart.yaml',
      'base/frontend.yaml',
      'helm/values-prod.yaml'
    ])
    expect(sh(repo.origin, ['log', '-1', '--format=%s', 'main'])).toBe(
      'deploy: 2 services (frontend, cart)'
    )
  })

  it('takes per-service targets from the services file deploy: key', async () => {
    const repo = makeConfigRemote()
    const ws = tempDir()
    mkdirSync(join(ws, '.github'))
    writeFileSync(
      join(ws, '.github', 'conveyor.yml'),
      [
        'defaults:',
        '  registry: ghcr.io/acme',
        'services:',
        '  cart:',
        '    path: services/cart',
        '    image: ghcr.io/acme/shop-cart',
        '    deploy:',
        '      kustomize: overlays/prod',
        '  frontend:',
        '    path: services/frontend',
        '    image: ghcr.io/acme/shop-frontend',
        '    deploy:',
        '      helm-values: helm/values-prod.yaml',
        '      key: frontend.image',
        ''
      ].join('\n')
    )
    const run = await deploy(
      {
        repository: repo.url,
        images: 'cart=ghcr.io/acme/shop-cart:2.2.0\nfrontend=ghcr.io/acme/shop-frontend:1.7.0'
      },
      { workspace: ws }
    )
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain(
      '- name: ghcr.io/acme/shop-cart\n    newTag: 2.2.0\n'
    )
    // Only frontend's Helm key changed: cart has no Helm target of its own.
    const helm = remoteFile(repo, 'helm/values-prod.yaml')
    expect(helm).toContain(
      'repository: ghcr.io/acme/shop-frontend   # the storefront\n    tag: "1.7.0"'
    )
    expect(helm).toContain('image: ghcr.io/acme/shop-cart:2.0.1')
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain('newTag: "1.4.2"')
  })

  it('dry-run pushes nothing and puts the unified diff in the summary', async () => {
    const repo = makeConfigRemote()
    const tip = sh(repo.origin, ['rev-parse', 'main'])
    const run = await deploy({
      repository: repo.url,
      images: 'payments=registry.acme.internal:5000/payments/shop-payments:3.3.0',
      targets: 'kustomize:overlays/prod',
      'dry-run': 'true'
    })
    expect(run.main.code).toBe(0)
    expect(run.main.outputs.result).toBe('dry-run')
    expect(run.main.outputs.commit).toBe('')
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
    expect(run.main.summary).toContain('```diff')
    expect(run.main.summary).toContain('-    newTag: 3.2.0')
    expect(run.main.summary).toContain('+    newTag: 3.3.0')
    expect(run.main.summary).toContain('-    digest: sha256:0000')
  })

  it.each([
    [
      'a missing kustomization',
      { images: 'cart=ghcr.io/acme/shop-cart:9', targets: 'kustomize:overlays/staging' },
      /no kustomization\.yaml in overlays\/staging/
    ],
    [
      'a missing Helm key',
      { images: 'cart=ghcr.io/acme/shop-cart:9', targets: 'helm:helm/values-prod.yaml:cart.img' },
      /key cart\.img does not exist/
    ],
    [
      'an image no manifest uses',
      { images: 'search=ghcr.io/acme/search:1', targets: 'manifests:base/*.yaml' },
      /no container uses the image of search/
    ],
    [
      'a branch that does not exist',
      { images: 'cart=ghcr.io/acme/shop-cart:9', targets: 'kustomize:overlays/prod', ref: 'nope' },
      /branch "nope" does not exist/
    ],
    [
      'a malformed target',
      { images: 'cart=ghcr.io/acme/shop-cart:9', targets: 'kustomise:overlays/prod' },
      /input "targets": got "kustomise:overlays\/prod", expected kustomize:<dir>/
    ],
    [
      'a reference without tag or digest',
      { images: 'cart=ghcr.io/acme/shop-cart', targets: 'kustomize:overlays/prod' },
      /input "images".*neither a tag nor a digest/
    ]
  ])('fails clearly on %s, pushing nothing', async (_name, inputs, error) => {
    const repo = makeConfigRemote()
    const tip = sh(repo.origin, ['rev-parse', 'main'])
    const run = await deploy({ repository: repo.url, ...inputs })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(error)
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
  })

  it('fails on a repository that does not exist', async () => {
    const run = await deploy({
      repository: `file://${tempDir()}/missing.git`,
      images: 'cart=ghcr.io/acme/shop-cart:9',
      targets: 'kustomize:overlays/prod'
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(/config repository was not found|could not read/)
  })
})

describe('deploy gitops: a push storm that outlasts the attempts', () => {
  it('re-applies on every new tip, then fails printing the diff so nothing is lost', async () => {
    const repo = makeConfigRemote()
    // A pre-receive hook that moves main under every push: each one loses the race.
    const hook = join(repo.origin, 'hooks', 'pre-receive')
    writeFileSync(
      hook,
      [
        '#!/bin/sh',
        'unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES',
        'tip=$(git rev-parse refs/heads/main)',
        'new=$(GIT_AUTHOR_NAME=storm GIT_AUTHOR_EMAIL=s@x GIT_COMMITTER_NAME=storm GIT_COMMITTER_EMAIL=s@x git commit-tree -p "$tip" -m storm "$tip^{tree}")',
        'git update-ref refs/heads/main "$new" "$tip"',
        ''
      ].join('\n'),
      { mode: 0o755 }
    )
    const count = remoteCount(repo)
    const run = await deploy({
      repository: repo.url,
      images: 'cart=ghcr.io/acme/shop-cart:7.7.7',
      targets: 'kustomize:overlays/prod',
      'max-attempts': '3'
    })
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(error).toMatch(/rejected 3 times/)
    expect(error).toContain('+    newTag: 7.7.7')
    expect(run.main.stdout).toMatch(/attempt 3: main at/)
    // Three pushes, three storm commits; ours never landed.
    expect(remoteCount(repo)).toBe(count + 3)
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain('newTag: 2.0.1')
  })
})

describe('deploy gitops: monotonic guard', () => {
  it('refuses to roll back to an older source commit (merge-base on the source checkout)', async () => {
    const repo = makeConfigRemote()
    const source = makeRepo({ 'README.md': 'one\n' })
    const older = source.sha()
    const newer = source.commit({ 'README.md': 'two\n' })
    const env = { GITHUB_REPOSITORY: 'acme/shop' }
    const first = await deploy(
      {
        repository: repo.url,
        images: 'cart=ghcr.io/acme/shop-cart:new',
        targets: 'kustomize:overlays/prod'
      },
      { workspace: source.dir, sha: newer, env }
    )
    expect(first.main.code).toBe(0)
    expect(first.main.outputs.result).toBe('pushed')
    const count = remoteCount(repo)
    const second = await deploy(
      {
        repository: repo.url,
        images: 'cart=ghcr.io/acme/shop-cart:old',
        targets: 'kustomize:overlays/prod'
      },
      { workspace: source.dir, sha: older, env }
    )
    expect(second.main.code).toBe(0)
    expect(second.main.outputs.result).toBe('no-op')
    expect(second.main.notices.join('\n')).toMatch(/refusing to roll back/)
    expect(remoteCount(repo)).toBe(count)
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain('newTag: new')
    // A deliberate rollback goes through with allow-rollback, and warns.
    const forced = await deploy(
      {
        repository: repo.url,
        images: 'cart=ghcr.io/acme/shop-cart:old',
        targets: 'kustomize:overlays/prod',
        'allow-rollback': 'true'
      },
      { workspace: source.dir, sha: older, env }
    )
    expect(forced.main.code).toBe(0)
    expect(forced.main.outputs.result).toBe('pushed')
    expect(forced.main.warnings.join('\n')).toMatch(/allow-rollback: deploying anyway/)
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain('newTag: old')
  })

  it('without a source checkout, compares the commit times recorded in the trailers', async () => {
    const repo = makeConfigRemote()
    const results = tempDir()
    const write = (dir: string, sha: string, time: string, tag: string): void => {
      mkdirSync(join(results, dir), { recursive: true })
      writeFileSync(
        join(results, dir, 'cart.json'),
        JSON.stringify({
          version: 1,
          service: 'cart',
          image: 'ghcr.io/acme/shop-cart',
          digest: `sha256:${sha.slice(0, 2).repeat(32)}`,
          tags: [`ghcr.io/acme/shop-cart:${tag}`],
          reused: false,
          platforms: ['linux/amd64'],
          source: { repository: 'acme/shop', sha, ref: 'refs/heads/main' },
          createdAt: time
        })
      )
    }
    write('new', 'bb'.repeat(20), '2026-11-20T10:00:00Z', 'b')
    write('old', 'aa'.repeat(20), '2026-11-20T09:00:00Z', 'a')
    const newer = await deploy({
      repository: repo.url,
      results: join(results, 'new'),
      targets: 'kustomize:overlays/prod'
    })
    expect(newer.main.code).toBe(0)
    expect(sh(repo.origin, ['log', '-1', '--format=%B', 'main'])).toContain(
      'Conveyor-Source-Time: 2026-11-20T10:00:00Z'
    )
    const older = await deploy({
      repository: repo.url,
      results: join(results, 'old'),
      targets: 'kustomize:overlays/prod'
    })
    expect(older.main.code).toBe(0)
    expect(older.main.outputs.result).toBe('no-op')
    expect(older.main.notices.join('\n')).toMatch(/newer than a{12}.*refusing to roll back/)
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain(
      `newTag: b\n    digest: sha256:${'bb'.repeat(32)}`
    )
  })

  it('refuses a malformed result file unless allow-partial', async () => {
    const repo = makeConfigRemote()
    const results = tempDir()
    writeFileSync(join(results, 'cart.json'), '{"version": 1, "service": "cart"')
    writeFileSync(
      join(results, 'frontend.json'),
      JSON.stringify({
        version: 1,
        service: 'frontend',
        image: 'ghcr.io/acme/shop-frontend',
        digest: DIGEST,
        tags: ['ghcr.io/acme/shop-frontend:2.0.0'],
        reused: false,
        platforms: ['linux/amd64'],
        source: { repository: 'acme/shop', sha: 'cd'.repeat(20), ref: 'refs/heads/main' },
        createdAt: '2026-11-20T10:00:00Z'
      })
    )
    const missing = await deploy({
      repository: repo.url,
      results: join(results, 'frontend.json'),
      targets: 'kustomize:overlays/prod',
      'expected-services': '["frontend", "payments"]'
    })
    expect(missing.main.code).toBe(1)
    expect(missing.main.errors.join('\n')).toMatch(/no build result for payments/)
    const strict = await deploy({
      repository: repo.url,
      results,
      targets: 'kustomize:overlays/prod'
    })
    expect(strict.main.code).toBe(1)
    expect(strict.main.errors.join('\n')).toMatch(/cart\.json: .*not valid JSON/)
    const partial = await deploy({
      repository: repo.url,
      results,
      targets: 'kustomize:overlays/prod',
      'allow-partial': 'true'
    })
    expect(partial.main.code).toBe(0)
    expect(partial.main.warnings.join('\n')).toMatch(/skipping a build result.*cart\.json/)
    expect(remoteFile(repo, 'overlays/prod/kustomization.yaml')).toContain(
      `newTag: "2.0.0" # quoted on purpose\n    digest: ${DIGEST}`
    )
  })
})

describe('deploy gitops: leak scan before push', () => {
  it.each(['plain', 'base64', 'double-base64'])(
    'refuses a manifest holding the token (%s) and pushes nothing',
    async encoding => {
      const token = canary('DEPLOYTOKEN')
      const b64 = (s: string): string => Buffer.from(s).toString('base64')
      const value =
        encoding === 'plain' ? token : encoding === 'base64' ? b64(token) : b64(b64(token))
      const repo = makeConfigRemote({
        'apps/cart/secret.yaml': [
          'apiVersion: apps/v1',
          'kind: Deployment',
          'metadata:',
          '  name: cart',
          'spec:',
          '  template:',
          '    spec:',
          '      containers:',
          '        - name: cart',
          '          image: ghcr.io/acme/shop-cart:2.0.1',
          '          env:',
          '            - name: API_TOKEN',
          `              value: "${value}"`,
          ''
        ].join('\n')
      })
      const tip = sh(repo.origin, ['rev-parse', 'main'])
      const run = await deploy({
        repository: repo.url,
        token,
        images: 'cart=ghcr.io/acme/shop-cart:2.0.2',
        targets: 'manifests:apps/**/*.yaml'
      })
      expect(run.main.code).toBe(1)
      expect(run.main.errors.join('\n')).toMatch(
        /refusing to push: .*file apps\/cart\/secret\.yaml line 13/
      )
      expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
      expect(findLeaks(run.channels(), [{ value: token }])).toEqual([])
    }
  )

  it('refuses a commit message template that would carry the token', async () => {
    const token = canary('DEPLOYTOKEN')
    const repo = makeConfigRemote()
    const tip = sh(repo.origin, ['rev-parse', 'main'])
    const run = await deploy({
      repository: repo.url,
      token,
      images: 'cart=ghcr.io/acme/shop-cart:2.0.2',
      targets: 'kustomize:overlays/prod',
      'commit-message': `deploy {services}\n\nauth ${Buffer.from(Buffer.from(token).toString('base64')).toString('base64')}`
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(/refusing to push: .*commit message/)
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
    expect(findLeaks(run.channels(), [{ value: token }])).toEqual([])
  })
})
