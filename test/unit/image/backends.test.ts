import { describe, expect, it } from 'vitest'
import {
  buildahBudArgv,
  buildahPushArgv,
  buildxArgv,
  cacheRefFor,
  dockerArgv,
  failingStep,
  parseBuildSecret,
  pickBackend,
  type BuildSpec
} from '../../../src/image/backends.js'
import { ConfigurationError } from '../../../src/core/errors.js'

const spec = (over: Partial<BuildSpec> = {}): BuildSpec => ({
  context: '/ws/svc/cart',
  dockerfile: '/ws/svc/cart/Dockerfile',
  ref: 'ghcr.io/acme/cart:main',
  buildArgs: [['FLAVOR', 'slim']],
  labels: [['org.opencontainers.image.title', 'cart']],
  secrets: [{ id: 'npm', env: 'NPM_TOKEN' }],
  platforms: ['linux/amd64'],
  cacheRef: 'ghcr.io/acme/cart:buildcache',
  push: true,
  authDir: '/rt/conveyor/registry-auth-1',
  idFile: '/rt/id',
  ...over
})

describe('buildx argv', () => {
  it('builds and pushes with registry cache, secrets, no attestations', () => {
    expect(buildxArgv(spec({ target: 'prod', network: 'host' }))).toEqual([
      'buildx',
      'build',
      '--file',
      '/ws/svc/cart/Dockerfile',
      '--progress',
      'plain',
      '--target',
      'prod',
      '--platform',
      'linux/amd64',
      '--network',
      'host',
      '--build-arg',
      'FLAVOR=slim',
      '--label',
      'org.opencontainers.image.title=cart',
      '--secret',
      'id=npm,env=NPM_TOKEN',
      '--tag',
      'ghcr.io/acme/cart:main',
      '--cache-from',
      'type=registry,ref=ghcr.io/acme/cart:buildcache',
      '--cache-to',
      'type=registry,ref=ghcr.io/acme/cart:buildcache,mode=max',
      '--provenance=false',
      '--sbom=false',
      '--metadata-file',
      '/rt/id',
      '--push',
      '/ws/svc/cart'
    ])
  })
  it('several platforms in one --platform; no push means no cache-to, no --load', () => {
    const argv = buildxArgv(spec({ platforms: ['linux/amd64', 'linux/arm64'], push: false }))
    expect(argv).toContain('linux/amd64,linux/arm64')
    expect(argv).not.toContain('--cache-to')
    expect(argv).not.toContain('--push')
    expect(argv).not.toContain('--load')
  })
  it('one platform without push loads into the daemon', () => {
    expect(buildxArgv(spec({ push: false }))).toContain('--load')
  })
  it('never carries a password: credentials come from DOCKER_CONFIG', () => {
    const joined = buildxArgv(spec()).join(' ')
    expect(joined).not.toMatch(/password|--creds|-p /)
  })
})

describe('docker argv', () => {
  it('classic builder: no --platform, no secrets, iidfile and tag', () => {
    expect(dockerArgv(spec({ secrets: [] }), false)).toEqual([
      'build',
      '--file',
      '/ws/svc/cart/Dockerfile',
      '--iidfile',
      '/rt/id',
      '--build-arg',
      'FLAVOR=slim',
      '--label',
      'org.opencontainers.image.title=cart',
      '--tag',
      'ghcr.io/acme/cart:main',
      '/ws/svc/cart'
    ])
  })
  it('BuildKit: platform, secrets, inline cache', () => {
    const argv = dockerArgv(spec({ network: 'host' }), true)
    expect(argv).toEqual(
      expect.arrayContaining(['--platform', 'linux/amd64', '--secret', 'id=npm,env=NPM_TOKEN'])
    )
    expect(argv.join(' ')).toContain(
      '--cache-from ghcr.io/acme/cart:buildcache --build-arg BUILDKIT_INLINE_CACHE=1'
    )
    expect(argv.join(' ')).toContain('--network host')
  })
  it('refuses secrets on the classic builder and several platforms', () => {
    expect(() => dockerArgv(spec(), false)).toThrow(/classic docker builder/)
    expect(() => dockerArgv(spec({ platforms: ['linux/amd64', 'linux/arm64'] }), true)).toThrow(
      ConfigurationError
    )
  })
})

describe('buildah argv', () => {
  it('bud with auth file, CA dir, layers and a cache repository', () => {
    const argv = buildahBudArgv(
      spec({ certDir: '/rt/certs', cacheRef: cacheRefFor('buildah', 'ghcr.io/acme/cart') })
    )
    expect(argv).toEqual([
      'bud',
      '--file',
      '/ws/svc/cart/Dockerfile',
      '--layers',
      '--iidfile',
      '/rt/id',
      '--authfile',
      '/rt/conveyor/registry-auth-1/config.json',
      '--cert-dir',
      '/rt/certs',
      '--platform',
      'linux/amd64',
      '--build-arg',
      'FLAVOR=slim',
      '--label',
      'org.opencontainers.image.title=cart',
      '--secret',
      'id=npm,env=NPM_TOKEN',
      '--cache-from',
      'ghcr.io/acme/cart-buildcache',
      '--cache-to',
      'ghcr.io/acme/cart-buildcache',
      '--tag',
      'ghcr.io/acme/cart:main',
      '/ws/svc/cart'
    ])
  })
  it('several platforms build a manifest list and push --all', () => {
    const s = spec({ platforms: ['linux/amd64', 'linux/arm64'], insecure: true })
    expect(buildahBudArgv(s)).toEqual(
      expect.arrayContaining(['--manifest', 'ghcr.io/acme/cart:main', '--tls-verify=false'])
    )
    expect(buildahBudArgv(s)).not.toContain('--iidfile')
    expect(buildahBudArgv(s)).not.toContain('--layers')
    expect(buildahBudArgv(s)).toContain('--layers=false')
    expect(buildahBudArgv(s)).not.toContain('--cache-from')
    expect(buildahPushArgv(s, '/rt/digest').slice(0, 3)).toEqual(['manifest', 'push', '--all'])
  })
  it('push writes the digest file and targets docker://', () => {
    const argv = buildahPushArgv(spec({ secrets: [{ id: 'f', src: '/run/s' }] }), '/rt/digest')
    expect(argv).toEqual([
      'push',
      '--authfile',
      '/rt/conveyor/registry-auth-1/config.json',
      '--digestfile',
      '/rt/digest',
      'ghcr.io/acme/cart:main',
      'docker://ghcr.io/acme/cart:main'
    ])
  })
  it('a src secret', () => {
    expect(buildahBudArgv(spec({ secrets: [{ id: 'f', src: '/run/s' }] }))).toContain(
      'id=f,src=/run/s'
    )
  })
})

describe('secrets input items', () => {
  it.each([
    ['id=npm,env=NPM_TOKEN', { id: 'npm', env: 'NPM_TOKEN', src: undefined }],
    ['id=cfg,src=./cfg.json', { id: 'cfg', env: undefined, src: './cfg.json' }],
    ['type=file,id=cfg,source=/x', { id: 'cfg', env: undefined, src: '/x' }]
  ])('%s', (item, expected) => {
    expect(parseBuildSecret(item)).toEqual(expected)
  })
  it.each([
    'npm',
    'id=npm',
    'id=a,env=X,src=y',
    'id=a b,env=X',
    'id=a,env=1X',
    'id=a,value=hunter2'
  ])('rejects %s without echoing a value', item => {
    expect(() => parseBuildSecret(item)).toThrow(ConfigurationError)
  })
})

describe('auto picks buildx > docker > buildah', () => {
  it.each([
    [{ buildx: true, docker: true, buildah: true }, 'buildx'],
    [{ buildx: false, docker: true, buildah: true }, 'docker'],
    [{ buildx: false, docker: false, buildah: true }, 'buildah'],
    [{ buildx: false, docker: false, buildah: false }, undefined]
  ])('%o -> %s', (present, expected) => {
    const pick = pickBackend(present)
    expect(pick.backend).toBe(expected)
    expect(pick.why).not.toBe('')
  })
})

describe('failingStep', () => {
  it('buildah', () => {
    const log =
      'STEP 1/3: FROM x\nSTEP 2/3: RUN make\ncc: error\nmake: *** [all] Error 1\nError: building at STEP "RUN make": exit status 2\n'
    const r = failingStep(log)
    expect(r.step).toBe('STEP 2/3: RUN make')
    expect(r.tail).toContain('make: *** [all] Error 1')
  })
  it('classic docker', () => {
    const r = failingStep(
      'Step 1/2 : FROM x\n ---> abc\nStep 2/2 : RUN false\n ---> Running in 1\nThe command returned a non-zero code: 1\n'
    )
    expect(r.step).toBe('Step 2/2 : RUN false')
    expect(r.tail).toContain('non-zero code: 1')
  })
  it('BuildKit plain progress', () => {
    const r = failingStep(
      '#5 [1/2] FROM x\n#6 [2/2] RUN false\n#6 ERROR: process did not complete successfully\nERROR: failed to solve\n'
    )
    expect(r.step).toBe('#6 [2/2] RUN false')
    expect(r.tail).toContain('failed to solve')
  })
  it('keeps at most max lines', () => {
    const log = ['STEP 1/1: RUN x', ...Array.from({ length: 50 }, (_, i) => `line ${i}`)].join('\n')
    const r = failingStep(log, 5)
    expect(r.tail.split('\n')).toEqual(['line 45', 'line 46', 'line 47', 'line 48', 'line 49'])
  })
  it('buildah: a failed cache push after a step is named as that, not as the step', () => {
    const log = [
      'STEP 1/3: FROM scratch',
      'STEP 2/3: COPY a.txt /a.txt',
      '--> Pushing cache 127.0.0.1:1/x-buildcache:75701680b4e5de2818887f004405ea863af518bd58e78883e0451d8bbd161312',
      'time="..." level=warning msg="Failed, retrying in 2s ... (1/3)."',
      'Error: failed pushing cache to {{{"127.0.0.1:1" "x-buildcache"} "7570"}}: connection refused'
    ].join('\n')
    const r = failingStep(log)
    expect(r.step).toBe(
      'the push of the build cache to 127.0.0.1:1/x-buildcache, after STEP 2/3: COPY a.txt /a.txt had succeeded'
    )
    expect(r.tail).toContain('failed pushing cache')
  })
  it('BuildKit: an error of the cache export vertex is a cache push failure', () => {
    const r = failingStep(
      '#5 [1/2] FROM x\n#6 [2/2] RUN true\n#6 DONE 0.1s\n#9 exporting cache to registry\n#9 ERROR: failed to push\nERROR: failed to solve: failed to push\n'
    )
    expect(r.step).toBe('the push of the build cache, after #6 [2/2] RUN true had succeeded')
  })
  it('a RUN step whose output mentions the cache is still that step', () => {
    const r = failingStep(
      '#6 [2/2] RUN npm ci\n#6 1.2 npm ERR! cache mode is only-if-cached\n#6 ERROR: process did not complete successfully\n'
    )
    expect(r.step).toBe('#6 [2/2] RUN npm ci')
  })
  it('no step header: the last lines', () => {
    expect(failingStep('a\nb\nc', 2)).toEqual({ tail: 'b\nc' })
  })
})
