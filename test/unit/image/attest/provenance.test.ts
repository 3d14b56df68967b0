/**
 * The SLSA provenance v1 statement: the subject (repository without tag + sha256), the
 * fields GitHub's workflow buildType defines (workflow {ref, repository, path}, the commit
 * as `git+<repo>@<ref>` with `gitCommit`, builder.id = the workflow URL, invocationId = the
 * run attempt URL), base images as resolved dependencies, and the errors for bad inputs.
 */
import { describe, expect, it } from 'vitest'
import {
  BUILD_TYPE,
  baseImageUri,
  provenanceStatement,
  SLSA_PROVENANCE_V1,
  splitWorkflowRef,
  workflowRunFromEnv,
  type WorkflowRun
} from '../../../../src/image/attest/provenance.js'
import {
  imageSubject,
  parseStatement,
  STATEMENT_TYPE
} from '../../../../src/image/attest/statement.js'

const SHA = 'a'.repeat(40)
const DIGEST = `sha256:${'b'.repeat(64)}`
const BASE = `sha256:${'c'.repeat(64)}`

const env = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_REPOSITORY_ID: '123',
  GITHUB_REPOSITORY_OWNER_ID: '45',
  GITHUB_REF: 'refs/heads/main',
  GITHUB_SHA: SHA,
  GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main',
  GITHUB_RUN_ID: '987',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_EVENT_NAME: 'push',
  RUNNER_ENVIRONMENT: 'github-hosted'
}

describe('workflowRunFromEnv', () => {
  it('reads the runner variables', () => {
    expect(workflowRunFromEnv(env)).toEqual({
      serverUrl: 'https://github.com',
      repository: 'acme/shop',
      repositoryId: '123',
      repositoryOwnerId: '45',
      ref: 'refs/heads/main',
      sha: SHA,
      workflowRef: 'acme/shop/.github/workflows/ci.yml@refs/heads/main',
      runId: '987',
      runAttempt: '2',
      eventName: 'push',
      runnerEnvironment: 'github-hosted'
    })
  })
  it.each(['GITHUB_REPOSITORY', 'GITHUB_SHA', 'GITHUB_WORKFLOW_REF', 'GITHUB_RUN_ID'])(
    'names %s when it is missing',
    name => {
      expect(() => workflowRunFromEnv({ ...env, [name]: '' })).toThrow(
        `the runner variable ${name} is not set`
      )
    }
  )
})

describe('splitWorkflowRef', () => {
  it.each([
    [
      'acme/shop/.github/workflows/ci.yml@refs/heads/main',
      '.github/workflows/ci.yml',
      'refs/heads/main'
    ],
    [
      'acme/shop/.github/workflows/release.yaml@refs/tags/pkg@1.2.3',
      '.github/workflows/release.yaml',
      'refs/tags/pkg@1.2.3'
    ],
    [
      'acme/shop/.github/workflows/a@b.yml@refs/heads/x',
      '.github/workflows/a@b.yml',
      'refs/heads/x'
    ]
  ])('%s', (ref, path, gitRef) => {
    expect(splitWorkflowRef(ref, 'acme/shop')).toEqual({ path, ref: gitRef })
  })
  it('refuses a ref of another repository', () => {
    expect(() => splitWorkflowRef('other/repo/.github/workflows/x.yml@main', 'acme/shop')).toThrow(
      /does not start with "acme\/shop\/"/
    )
  })
})

describe('provenanceStatement', () => {
  const run: WorkflowRun = workflowRunFromEnv(env)
  const statement = provenanceStatement(run, {
    image: 'ghcr.io/acme/cart',
    digest: DIGEST,
    service: 'cart',
    context: 'src/cart',
    dockerfile: 'src/cart/Dockerfile',
    platforms: ['linux/amd64'],
    buildArgNames: ['VERSION', 'FLAVOR'],
    backend: 'buildah',
    contextTag: 'ctx-0123',
    baseImages: [{ reference: 'docker.io/library/alpine:3.20', digest: BASE }],
    startedOn: new Date('2026-01-02T03:04:05Z'),
    finishedOn: new Date('2026-01-02T03:05:00Z'),
    conveyorVersion: '1.0.0'
  })

  it('is an in-toto Statement v1 about the image repository and digest', () => {
    expect(statement._type).toBe(STATEMENT_TYPE)
    expect(statement.subject).toEqual([
      { name: 'ghcr.io/acme/cart', digest: { sha256: 'b'.repeat(64) } }
    ])
    expect(statement.predicateType).toBe(SLSA_PROVENANCE_V1)
    expect(parseStatement(JSON.stringify(statement))).toEqual(statement)
  })

  it("has the fields of the GitHub workflow buildType, under Conveyor's buildType", () => {
    const p = statement.predicate
    expect(p.buildDefinition.buildType).toBe(BUILD_TYPE)
    expect(p.buildDefinition.externalParameters.workflow).toEqual({
      ref: 'refs/heads/main',
      repository: 'https://github.com/acme/shop',
      path: '.github/workflows/ci.yml'
    })
    expect(p.buildDefinition.internalParameters).toEqual({
      github: {
        event_name: 'push',
        repository_id: '123',
        repository_owner_id: '45',
        runner_environment: 'github-hosted'
      },
      backend: 'buildah',
      contextTag: 'ctx-0123'
    })
    expect(p.buildDefinition.resolvedDependencies).toEqual([
      { uri: 'git+https://github.com/acme/shop@refs/heads/main', digest: { gitCommit: SHA } },
      {
        uri: 'pkg:docker/docker.io/library/alpine@3.20',
        name: 'docker.io/library/alpine:3.20',
        digest: { sha256: 'c'.repeat(64) }
      }
    ])
    expect(p.runDetails).toEqual({
      builder: {
        id: 'https://github.com/acme/shop/.github/workflows/ci.yml@refs/heads/main',
        version: { conveyor: '1.0.0' }
      },
      metadata: {
        invocationId: 'https://github.com/acme/shop/actions/runs/987/attempts/2',
        startedOn: '2026-01-02T03:04:05.000Z',
        finishedOn: '2026-01-02T03:05:00.000Z'
      }
    })
  })

  it('records build-arg names only, sorted, never their values', () => {
    expect(statement.predicate.buildDefinition.externalParameters.image).toEqual({
      name: 'ghcr.io/acme/cart',
      service: 'cart',
      context: 'src/cart',
      dockerfile: 'src/cart/Dockerfile',
      platforms: ['linux/amd64'],
      buildArgs: ['FLAVOR', 'VERSION']
    })
  })

  it.each([
    [
      { image: 'ghcr.io/acme/cart:v1', digest: DIGEST },
      /has a tag or digest; expected the repository alone/
    ],
    [{ image: 'ghcr.io/acme/cart', digest: 'sha256:abc' }, /is not sha256:<64 hex digits>/],
    [
      {
        image: 'ghcr.io/acme/cart',
        digest: DIGEST,
        baseImages: [{ reference: 'alpine', digest: 'latest' }]
      },
      /base image alpine has digest "latest"/
    ]
  ])('refuses %j', (build, re) => {
    expect(() => provenanceStatement(run, build)).toThrow(re)
  })
  it('refuses a short commit', () => {
    expect(() =>
      provenanceStatement({ ...run, sha: 'abc1234' }, { image: 'a/b', digest: DIGEST })
    ).toThrow(/not a full git SHA/)
  })
})

describe('helpers', () => {
  it.each([
    ['alpine:3.20', 'pkg:docker/alpine@3.20'],
    ['127.0.0.1:5000/base/busybox:1', 'pkg:docker/127.0.0.1:5000/base/busybox@1'],
    [`ghcr.io/acme/base@${BASE}`, `pkg:docker/ghcr.io/acme/base@sha256%3A${'c'.repeat(64)}`],
    ['ubuntu', 'pkg:docker/ubuntu@latest']
  ])('baseImageUri(%s)', (ref, uri) => {
    expect(baseImageUri(ref)).toBe(uri)
  })
  it('imageSubject keeps a registry port', () => {
    expect(imageSubject('127.0.0.1:5000/acme/cart', DIGEST).name).toBe('127.0.0.1:5000/acme/cart')
  })
})
