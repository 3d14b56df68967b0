/**
 * The image domain's use of the metadata engine (src/image/tagging.ts): Conveyor's defaults per
 * event (never `latest` from a pull request run, pull_request_target tagged from its pull
 * request), the labels the image gets (title = the service, OCI labels without a value left
 * out, the user's over them), refusals (no tag for this event, a secret in a tag or label) and
 * a dry run's outcome.
 */
import { describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../src/core/errors.js'
import { memoryLogger } from '../../../src/core/logger.js'
import { secrets } from '../../../src/core/secrets.js'
import type { SourceContext } from '../../../src/image/job.js'
import type { MetadataContext } from '../../../src/image/metadata/context.js'
import { imageMetadata, previewImage, type TagRequest } from '../../../src/image/tagging.js'
import { ctx, HEAD, pr, push, SHA, withRepo } from '../../support/metadata.js'

const IMAGE = { name: 'ghcr.io/acme/cart', service: 'cart' }
const none: TagRequest = { rules: [], flavor: [], labels: new Map() }

function tagsOf(c: MetadataContext, request: Partial<TagRequest> = {}): string[] {
  return imageMetadata({ ...none, ...request }, IMAGE, c, memoryLogger()).tags
}

const prTarget = ctx('pull_request_target', 'refs/heads/main', {
  number: 15,
  ...withRepo,
  pull_request: { base: { ref: 'main' }, head: { sha: HEAD } }
})

describe("Conveyor's defaults (empty tags)", () => {
  const cases: [string, MetadataContext, string[]][] = [
    ['push to the default branch', push('refs/heads/main'), ['main', 'latest', 'sha-860c190']],
    ['push to another branch', push('refs/heads/dev'), ['dev', 'sha-860c190']],
    ['push of a version tag', push('refs/tags/v1.2.3'), ['1.2.3', '1.2', 'v1.2.3', 'sha-860c190']],
    ['pull_request', pr, ['pr-15', 'sha-860c190']],
    // GITHUB_REF of pull_request_target is the base branch (the default one): no latest.
    ['pull_request_target on the default branch', prTarget, ['pr-15', 'sha-860c190']]
  ]
  it.each(cases)('%s', (_name, c, expected) => {
    expect(tagsOf(c)).toEqual(expected)
  })

  it('flavor latest=auto with the defaults: latest from a git tag too', () => {
    expect(tagsOf(push('refs/tags/v1.2.3'), { flavor: ['latest=auto'] })).toContain('latest')
  })
})

describe('no automatic latest from a pull request run', () => {
  it('latest=auto on a tag-like rule in a pull request gives no latest', () => {
    expect(tagsOf(prTarget, { rules: ['type=semver,pattern={{version}},value=v1.2.3'] })).toEqual([
      '1.2.3'
    ])
  })
  it('a rule or the flavor asking for it explicitly does', () => {
    expect(tagsOf(pr, { rules: ['type=ref,event=pr', 'type=raw,value=latest'] })).toEqual([
      'pr-15',
      'latest'
    ])
    expect(tagsOf(pr, { rules: ['type=ref,event=pr'], flavor: ['latest=true'] })).toEqual([
      'pr-15',
      'latest'
    ])
  })
})

describe('labels', () => {
  it('title is the service; source and url the repository; the user wins; empty ones kept as metadata-action keeps them', () => {
    const m = imageMetadata(
      {
        ...none,
        rules: ['type=semver,pattern={{version}}'],
        labels: new Map([
          ['org.opencontainers.image.title', 'Cart'],
          ['team', 'shop'],
          ['empty', ''],
          ['built', "{{date 'YYYY'}}"]
        ])
      },
      IMAGE,
      push('refs/tags/v1.2.3'),
      memoryLogger()
    )
    expect(Object.fromEntries(m.labels)).toEqual({
      built: '2020',
      empty: '',
      'org.opencontainers.image.created': '2020-01-10T00:30:00.000Z',
      'org.opencontainers.image.description': '',
      'org.opencontainers.image.licenses': '',
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.source': 'https://github.com/acme/shop',
      'org.opencontainers.image.title': 'Cart',
      'org.opencontainers.image.url': 'https://github.com/acme/shop',
      'org.opencontainers.image.version': '1.2.3',
      team: 'shop'
    })
    expect(m.version).toBe('1.2.3')
    // latest=auto: a release version gets latest.
    expect(m.refs).toEqual(['ghcr.io/acme/cart:1.2.3', 'ghcr.io/acme/cart:latest'])
  })

  it('SOURCE_DATE_EPOCH fixes created and {{date}}', () => {
    const c = ctx('push', 'refs/heads/main', withRepo, { SOURCE_DATE_EPOCH: '1700000000' })
    const m = imageMetadata(
      { ...none, rules: ["type=raw,value={{date 'YYYYMMDD-HHmmss'}}"] },
      IMAGE,
      c,
      memoryLogger()
    )
    expect(m.tags).toEqual(['20231114-221320'])
    expect(m.labels.get('org.opencontainers.image.created')).toBe('2023-11-14T22:13:20.000Z')
  })
})

describe('refusals', () => {
  it('no tag for this event names the input and the event', () => {
    expect(() => tagsOf(push('refs/heads/main'), { rules: ['type=ref,event=tag'] })).toThrow(
      /input "tags": no tag rule applies to this event \(push refs\/heads\/main\)/
    )
  })
  it('a tag or label that holds a registered secret is refused, the value never in the message', () => {
    secrets.add('tagging-secret-0042', { label: 'test' })
    const run = (request: Partial<TagRequest>) => () => tagsOf(push('refs/heads/main'), request)
    expect(run({ rules: ['type=raw,value=tagging-secret-0042'] })).toThrow(ConfigurationError)
    expect(run({ rules: ['type=raw,value=tagging-secret-0042'] })).toThrow(
      /the tags worked out for this event: tag 1 of 1 holds a secret/
    )
    expect(run({ labels: new Map([['x', '{{branch}}-tagging-secret-0042']]) })).toThrow(
      /the labels of the image: x holds/
    )
    for (const request of [
      { rules: ['type=raw,value=tagging-secret-0042'] },
      { rules: ['type=sha', 'type=raw,value={{branch}}-tagging-secret-0042'] }
    ]) {
      expect(run(request)).toThrow(ConfigurationError)
      try {
        run(request)()
      } catch (error) {
        expect((error as Error).message).not.toContain('tagging-secret-0042')
      }
    }
  })
  it('the engine warnings are logged as warnings', () => {
    const log = memoryLogger()
    imageMetadata(
      { ...none, rules: ['type=semver,pattern={{version}},value=not-a-version', 'type=sha'] },
      IMAGE,
      push('refs/heads/main'),
      log
    )
    expect(log.lines.some(l => l.level === 'warning' && /not-a-version/.test(l.message))).toBe(true)
  })
})

describe('a dry run', () => {
  it('works out tags, version and labels and pushes nothing', async () => {
    const source: SourceContext = {
      metadata: push('refs/tags/v2.0.0'),
      ref: 'refs/tags/v2.0.0',
      sha: SHA,
      repository: 'acme/shop'
    }
    const log = memoryLogger()
    const o = await previewImage({ service: 'cart', image: IMAGE.name, tagging: none, source }, log)
    expect(o).toMatchObject({
      kind: 'dry-run',
      pushed: false,
      digest: '',
      version: '2.0.0',
      tags: [
        'ghcr.io/acme/cart:2.0.0',
        'ghcr.io/acme/cart:2.0',
        'ghcr.io/acme/cart:v2.0.0',
        'ghcr.io/acme/cart:sha-860c190'
      ]
    })
    expect(o.result).toBeUndefined()
    expect(o.labels?.get('org.opencontainers.image.version')).toBe('2.0.0')
    expect(log.text()).toContain('tag ghcr.io/acme/cart:2.0.0')
    expect(log.text()).toContain(`label org.opencontainers.image.revision=${SHA}`)
  })

  it('shows that no rule tags this event (a warning; a build would fail)', async () => {
    const source: SourceContext = {
      metadata: push('refs/heads/main'),
      ref: 'refs/heads/main',
      sha: SHA,
      repository: 'acme/shop'
    }
    const log = memoryLogger()
    const tagging = { ...none, rules: ['type=ref,event=tag'] }
    const o = await previewImage({ service: 'cart', image: IMAGE.name, tagging, source }, log)
    expect(o).toMatchObject({ kind: 'dry-run', tags: [], version: '' })
    expect(log.lines.filter(l => l.level === 'warning').map(l => l.message)).toEqual([
      expect.stringMatching(/no tag rule applies to this event .*a build would fail here/)
    ])
  })
})
