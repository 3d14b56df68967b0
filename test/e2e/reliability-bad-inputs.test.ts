/**
 * The bad-input table: every input of every action (from its action.yml) given an
 * empty, wrongly typed, malformed, out of range, conflicting, traversing, multi-line,
 * injected or huge value. Each case runs the committed bundle through the runner
 * harness and must fail with exit code 1 and exactly one `::error::` that names the
 * input, never echo the secret canaries of the same run, and have no side effect:
 * no connection to the server it was pointed at (a TCP sink that counts
 * connections), no change to the workspace, HOME or TMPDIR.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { cleanup, makeRepo, type TestRepo } from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'
import {
  emptyDir,
  removeTempDirs,
  snapshot,
  startSink,
  type Sink
} from '../support/reliability-env.js'
import { generateKey } from '../support/sshd.js'

const TOKEN = canary('BADIN-TOKEN')
const PASSWORD = canary('BADIN-PASS')
const PASSPHRASE = canary('BADIN-PHRASE')
const HEADER_SECRET = canary('BADIN-HDR')
/**
 * A credential hidden where no input declares a secret (a URL's query, an scp-like
 * address, `NAME=VALUE` in ssh's env): never registered, so only an error that does not
 * echo it keeps it out of the log.
 */
const URL_TOKEN = canary('BADIN-URLTOK')
const canaries = [
  { value: TOKEN },
  { value: PASSWORD, user: 'ci' },
  { value: PASSPHRASE },
  { value: HEADER_SECRET },
  { value: URL_TOKEN }
]
const b64 = (s: string): string => Buffer.from(s).toString('base64')
/**
 * "Huge": Linux caps one environment string at 128 KiB (MAX_ARG_STRLEN), and the runner
 * passes inputs as INPUT_* variables, so 1 MB cannot reach an action at all (spawn
 * fails with E2BIG, on GitHub too). 120 KiB is the largest value an action can get.
 */
const HUGE = 120 * 1024
const MB = 'x'.repeat(HUGE)

/** The plan's repository, made anew for every case: cases run concurrently, and a plan
 * that fetches from origin writes the workspace's .git/config, which another case's
 * "workspace untouched" check would see. */
const planFiles = {
  'src/cart/Dockerfile': 'FROM scratch\n',
  'src/web/Dockerfile': 'FROM scratch\n'
}
let buildRepo: TestRepo
let sshKey: string
const KNOWN =
  '[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'

beforeAll(async () => {
  buildRepo = makeRepo({ 'svc/Dockerfile': 'FROM scratch\nCOPY a /a\n', 'svc/a': 'a\n' })
  sshKey = generateKey(join(emptyDir(), 'id'), { passphrase: PASSPHRASE }).privateKey
})

afterAll(async () => {
  cleanup()
  removeTempDirs()
})

type Action = 'plan' | 'build' | 'deploy-gitops' | 'deploy-ssh' | 'argocd-sync'

/** Valid inputs of each action: a case replaces one or two of them. */
function baseInputs(action: Action, sink: Sink): Record<string, string> {
  switch (action) {
    case 'plan':
      return { token: TOKEN }
    case 'build':
      return {
        context: 'svc',
        image: `${sink.host}/acme/x`,
        'registry-username': 'ci',
        'registry-password': PASSWORD,
        'registry-insecure': 'true',
        backend: 'buildah',
        cache: 'none'
      }
    case 'deploy-gitops':
      return {
        repository: `http://${sink.host}/config.git`,
        token: TOKEN,
        images: 'cart=ghcr.io/acme/cart:1.2.3',
        targets: 'kustomize:overlays/prod'
      }
    case 'deploy-ssh':
      return {
        mode: 'ssh',
        hosts: sink.host,
        username: 'deploy',
        key: sshKey,
        passphrase: PASSPHRASE,
        'known-hosts': KNOWN,
        source: 'site',
        target: '/srv/app',
        script: 'true',
        timeout: '5s'
      }
    case 'argocd-sync':
      return {
        server: `http://${sink.host}`,
        token: TOKEN,
        applications: 'shop',
        headers: `X-Secret-Header: ${HEADER_SECRET}`,
        timeout: '5s'
      }
  }
}

interface Case {
  /** The input(s) the error must name (any of them). */
  names: string[]
  inputs: Record<string, string | undefined>
  why: string
  /** A known bug in the action: the case runs as `it.fails` until the owner fixes it. */
  bug?: string
}

const c = (
  why: string,
  names: string | string[],
  inputs: Record<string, string | undefined>,
  bug?: string
): Case => ({
  why,
  names: Array.isArray(names) ? names : [names],
  inputs,
  bug
})

/** A config path that climbs out of any temp workspace to the real /etc/passwd. */
const PASSWD = `${'../'.repeat(12)}etc/passwd`

const cases: Record<Action, Case[]> = {
  plan: [
    c('tags not a choice', 'tags', { tags: 'maybe' }),
    c('max-jobs not a number', 'max-jobs', { 'max-jobs': 'lots' }),
    c('max-jobs zero', 'max-jobs', { 'max-jobs': '0' }),
    c('max-jobs negative', 'max-jobs', { 'max-jobs': '-3' }),
    c('max-jobs above the GitHub limit', 'max-jobs', { 'max-jobs': '257' }),
    c('max-jobs fractional', 'max-jobs', { 'max-jobs': '1.5' }),
    c('base-from-last-success not a boolean', 'base-from-last-success', {
      'base-from-last-success': 'maybe'
    }),
    c('base-from-last-success without a token', ['token', 'base-from-last-success'], {
      'base-from-last-success': 'true',
      token: ''
    }),
    c('working-directory traversal', 'working-directory', { 'working-directory': '../../etc' }),
    c('working-directory absolute outside', 'working-directory', { 'working-directory': '/etc' }),
    c('working-directory missing', 'working-directory', { 'working-directory': 'nope/nothere' }),
    c('working-directory with a newline', 'working-directory', { 'working-directory': 'a\nb' }),
    c('config traversal', 'config', { config: PASSWD }),
    c('config with a newline', 'config', { config: '.github/conveyor.yml\nx' }),
    // Regression, fixed bug plan-config-huge (found by this suite); it was: the error says 'services file "<the whole value>" does not
    // exist' - it does not name the input and echoes all 120 KiB (quote() is not used).
    c('config huge', 'config', { config: MB }),
    c('base option injection', 'base', { base: '--upload-pack=touch /tmp/pwned' }),
    c('base with a newline', 'base', { base: 'main\nHEAD' }),
    c('base that does not resolve', 'base', { base: 'no-such-ref-anywhere' }),
    // Regression, fixed bug plan-base-huge (found by this suite); it was: no length check; the value goes into git's argv and the step
    // fails with "plan failed: spawn E2BIG", naming no input.
    c('base huge', 'base', { base: MB }),
    c('base with a NUL-like control', 'base', { base: 'main\u0007' }),
    c('base an expression that names nothing', 'base', { base: 'HEAD~999' }),
    c('working-directory /proc/self/cwd/../..', 'working-directory', {
      'working-directory': '/proc/self/cwd/../..'
    }),
    c('tags huge', 'tags', { tags: MB })
  ],
  build: [
    c('push not a boolean', 'push', { push: 'maybe' }),
    c('reuse not a boolean', 'reuse', { reuse: 'sometimes' }),
    c('registry-insecure not a boolean', 'registry-insecure', {
      'registry-insecure': 'yes please'
    }),
    c('backend not a choice', 'backend', { backend: 'podman' }),
    c('mode not a choice', 'mode', { mode: 'rebuild' }),
    c('merge without digests', ['digests', 'mode'], { mode: 'merge' }),
    c('digests malformed', 'digests', { mode: 'merge', digests: 'sha256:nothex' }),
    c('timeout not a duration', 'timeout', { timeout: 'forever' }),
    c('timeout negative', 'timeout', { timeout: '-5m' }),
    c('context traversal', 'context', { context: '../../etc' }),
    c('dockerfile traversal', 'dockerfile', { dockerfile: '../../etc/passwd' }),
    c('context with a newline', 'context', { context: 'svc\nother' }),
    c('image upper case', 'image', { image: `${'127.0.0.1:1'}/Acme/X` }),
    c('image with a newline', 'image', { image: 'ghcr.io/acme/x\nghcr.io/evil/y' }),
    c('image with a tag', 'image', { image: 'ghcr.io/acme/x:1' }),
    // Regression, fixed bug build-image-huge (found by this suite); it was: the image-name error appends the parser's message, which
    // holds the whole value: a 120 KiB ::error:: line.
    c('image huge', 'image', { image: `ghcr.io/acme/${'a'.repeat(HUGE)}` }),
    c('neither service nor context', ['service', 'context', 'image'], {
      context: '',
      image: ''
    }),
    c('service and context together', ['service', 'context'], { service: 'cart' }),
    c('service with a newline', 'service', { service: 'cart\nweb', context: '', image: '' }),
    c('service path traversal', 'service', { service: '../../etc', context: '', image: '' }),
    c('tags unknown type', 'tags', { tags: 'type=bogus,value=1' }),
    // Regression, fixed bug build-tags-late (found by this suite); it was: a line without type= is taken as a raw tag, and "- type: raw"
    // (never a valid tag) is not rejected before the registry is contacted.
    c('tags YAML injection', 'tags', { tags: 'type=raw,value={{ evil }}\n- type: raw' }),
    c('labels without =', 'labels', { labels: 'novalue' }),
    c('tags expression that names nothing', 'tags', {
      tags: 'type=sha\ntype=raw,value={{brnach}}'
    }),
    c('flavor latest not a choice', 'flavor', { flavor: 'latest=always' }),
    c('flavor unknown key', 'flavor', { flavor: 'latest=auto\nprefx=v-' }),
    c('flavor onlatest alone', 'flavor', { flavor: 'onlatest=true' }),
    c('dry-run not a boolean', 'dry-run', { 'dry-run': 'perhaps' }),
    c('build-args without a name', 'build-args', { 'build-args': '=x' }),
    c('secrets missing env/src', 'secrets', { secrets: 'id=npm' }),
    c('secrets src traversal', 'secrets', { secrets: 'id=x,src=../../etc/shadow' }),
    c('platforms malformed', 'platforms', { platforms: 'linux/amd64,not a platform!' }),
    c('cache reference malformed', 'cache', { cache: 'Bad Ref!!' }),
    c('registry-ca-cert not a PEM', 'registry-ca-cert', { 'registry-ca-cert': 'not a pem' }),
    c('registry-ca-cert /proc/self/environ', 'registry-ca-cert', {
      'registry-ca-cert': '/proc/self/environ'
    }),
    c('registry-ca-cert traversal', 'registry-ca-cert', { 'registry-ca-cert': PASSWD }),
    c('build-args holding the registry password', 'build-args', {
      'build-args': `PW=${PASSWORD}`
    }),
    c('labels holding the password, double base64', 'labels', {
      labels: `x=${b64(b64(PASSWORD))}`
    }),
    c('tags holding the password, hex', 'tags', {
      tags: `type=raw,value=${Buffer.from(PASSWORD).toString('hex')}`
    }),
    c('registry not a host', 'registry', { registry: 'not a host!/acme' }),
    // Regression, fixed bug build-username-newline (found by this suite); it was: registry-username is read with optional(), not line():
    // a multi-line user name reaches the registry login.
    c('registry-username with a newline', 'registry-username', {
      'registry-username': 'ci\nadmin'
    }),
    // results-dir is a path the user gives the action to write to: no traversal case.
    c('network with a newline', 'network', { network: 'host\nnone' }),
    // Regression, fixed bug build-config-traversal (found by this suite; security); it was: "config" is not confined to the workspace;
    // a path to /etc/passwd makes the ::error:: print the file's content.
    c('config traversal', 'config', { service: 'cart', context: '', image: '', config: PASSWD })
  ],
  'deploy-gitops': [
    c('mode not a choice', 'mode', { mode: 'ftp' }),
    c('repository missing', 'repository', { repository: '' }),
    c('repository with credentials in the URL', 'repository', {
      repository: `https://x-access-token:${TOKEN}@github.com/acme/config`
    }),
    c('repository bad owner/name', 'repository', { repository: 'just-a-name' }),
    c('repository ext:: transport', 'repository', { repository: 'ext::sh -c touch% /tmp/pwned' }),
    c('repository option injection', 'repository', { repository: '--upload-pack=touch /tmp/x' }),
    c('repository with a token in the query', 'repository', {
      repository: `https://git.example.com/c.git?access_token=${URL_TOKEN}`
    }),
    c('repository scp-like with user:token', 'repository', {
      repository: `x:${URL_TOKEN}@git.example.com:c.git`
    }),
    c('repository file:// with user:token', 'repository', {
      repository: `file://x:${URL_TOKEN}@/srv/c.git`
    }),
    c('repository over http to another machine', ['repository', 'insecure-http'], {
      repository: 'http://git.example.com/acme/config.git'
    }),
    c('insecure-http not a boolean', 'insecure-http', { 'insecure-http': 'maybe' }),
    c('repository with a newline', 'repository', { repository: 'acme/config\nacme/other' }),
    c('ref option injection', 'ref', { ref: '--force' }),
    c('ref with a newline', 'ref', { ref: 'main\nother' }),
    c('ref invalid', 'ref', { ref: 'main..x' }),
    c('path traversal', 'path', { path: '../../etc' }),
    c('token-auth not a choice', 'token-auth', { 'token-auth': 'digest' }),
    c('images and results together', ['images', 'results'], { results: 'results/' }),
    c('neither images nor results', ['images', 'results'], { images: '' }),
    c('images without =', 'images', { images: 'ghcr.io/acme/cart:1' }),
    c('images bad reference', 'images', { images: 'cart=Bad Ref!!' }),
    c('images YAML injection', 'images', { images: 'cart=ghcr.io/acme/cart:1\n  newName: evil' }),
    // Regression, fixed bug deploy-images-huge (found by this suite); it was: the reference error
    // echoes the whole value (twice): a 240 KiB ::error:: line.
    c('images huge', 'images', { images: `cart=ghcr.io/acme/cart:${'1'.repeat(HUGE)}` }),
    c('targets unknown kind', 'targets', { targets: 'terraform:main.tf' }),
    c('targets traversal', 'targets', { targets: 'kustomize:../../etc' }),
    c('targets helm without key', 'targets', { targets: 'helm:values.yaml' }),
    c('pull-request not a boolean', 'pull-request', { 'pull-request': 'maybe' }),
    c('dry-run not a boolean', 'dry-run', { 'dry-run': 'perhaps' }),
    c('allow-partial not a boolean', 'allow-partial', { 'allow-partial': 'kinda' }),
    c('max-attempts zero', 'max-attempts', { 'max-attempts': '0' }),
    c('max-attempts not a number', 'max-attempts', { 'max-attempts': 'many' }),
    c('max-attempts out of range', 'max-attempts', { 'max-attempts': '100000' }),
    c('timeout not a duration', 'timeout', { timeout: 'forever' }),
    c('timeout below the minimum', 'timeout', { timeout: '1s' }),
    c('author-email with a newline', 'author-email', { 'author-email': 'a@b\nSigned-off-by: x' }),
    c('author-name with a newline', 'author-name', { 'author-name': 'bot\nevil' }),
    c('environment with a newline', 'environment', { environment: 'prod\nstaging' }),
    c('pull-request-branch invalid', 'pull-request-branch', {
      'pull-request': 'true',
      'pull-request-branch': 'bad..branch'
    }),
    // Regression, fixed bug deploy-config-traversal (found by this suite; security); it was: "config" is not confined to the workspace
    // and is read only after the config repository was cloned; a path to /etc/passwd
    // makes the ::error:: print the file's whole content ("expected a mapping, got
    // string "root:x:0:0:..."). getInputs now confines it (symlinks resolved) before reading.
    c('config traversal', 'config', { config: PASSWD })
  ],
  'deploy-ssh': [
    c('hosts missing', 'hosts', { hosts: '' }),
    c('hosts port out of range', 'hosts', { hosts: '127.0.0.1:99999' }),
    c('hosts option injection', 'hosts', { hosts: '-oProxyCommand=touch /tmp/pwned' }),
    c('hosts with spaces', 'hosts', { hosts: 'web 1' }),
    c('port zero', 'port', { port: '0' }),
    c('port not a number', 'port', { port: 'ssh' }),
    c('username missing', 'username', { username: '' }),
    c('username with a newline', 'username', { username: 'deploy\nroot' }),
    c('key missing', 'key', { key: '' }),
    c('key not a key', 'key', { key: `not a key ${PASSPHRASE}` }),
    c('wrong passphrase', ['passphrase', 'key'], { passphrase: `${PASSPHRASE}-wrong` }),
    c('no host key pinning', ['known-hosts', 'fingerprints'], { 'known-hosts': '' }),
    c('fingerprints malformed', 'fingerprints', { 'known-hosts': '', fingerprints: 'MD5:aa:bb' }),
    c('known-hosts malformed', 'known-hosts', { 'known-hosts': 'garbage' }),
    c('insecure-skip-host-key not a boolean', 'insecure-skip-host-key', {
      'insecure-skip-host-key': 'maybe'
    }),
    c('target relative', 'target', { target: 'srv/app' }),
    c('target traversal', 'target', { target: '/srv/../../etc' }),
    c('target missing', 'target', { target: '' }),
    c('source traversal', 'source', { source: '../../etc' }),
    c('keep zero', 'keep', { keep: '0' }),
    c('keep not a number', 'keep', { keep: 'all' }),
    c('env bad name', 'env', { env: 'BAD-NAME' }),
    c('env shell injection', 'env', { env: 'A;touch /tmp/pwned' }),
    c('env NAME=VALUE (the value is never echoed)', 'env', { env: `APP_TOKEN=${URL_TOKEN}` }),
    c('parallel not a boolean', 'parallel', { parallel: 'sometimes' }),
    c('fail-fast not a boolean', 'fail-fast', { 'fail-fast': 'nah' }),
    c('timeout not a duration', 'timeout', { timeout: 'forever' }),
    // A 120 KiB script is a legitimate script: the huge case is a malformed known-hosts.
    c('known-hosts huge', 'known-hosts', { 'known-hosts': MB })
  ],
  'argocd-sync': [
    c('server missing', 'server', { server: '' }),
    c('server not http(s)', 'server', { server: 'ftp://argocd.example.com' }),
    c('server not a URL', 'server', { server: 'not a url' }),
    c('server with credentials', 'server', {
      server: `https://admin:${PASSWORD}@argocd.example.com`
    }),
    c('server with a newline', 'server', { server: 'https://a.example\nhttps://b.example' }),
    c('server with a token in the query', 'server', {
      server: `https://argocd.example.com/?token=${URL_TOKEN}`
    }),
    c('server with a token in the fragment of a bad URL', 'server', {
      server: `https://argo cd.example.com/#${URL_TOKEN}`
    }),
    c('server over http to another machine', ['server', 'insecure-http'], {
      server: 'http://argocd.example.com'
    }),
    c('ca-cert /proc/self/environ', 'ca-cert', { 'ca-cert': '/proc/self/environ' }),
    c('no applications and no selector', ['applications', 'selector'], { applications: '' }),
    c('applications with a JSON injection', 'applications', { applications: '"},{"name":"*' }),
    c('token and username together', ['token', 'username', 'password'], {
      username: 'admin',
      password: PASSWORD
    }),
    c('username without password', ['password', 'username'], { token: '', username: 'admin' }),
    c('no credentials at all', ['token', 'username', 'password'], { token: '' }),
    c('refresh not a choice', 'refresh', { refresh: 'soft' }),
    c('wait-for not a choice', 'wait-for', { 'wait-for': 'forever' }),
    c('timeout not a duration', 'timeout', { timeout: 'forever' }),
    c('timeout zero', 'timeout', { timeout: '0' }),
    c('degraded-grace malformed', 'degraded-grace', { 'degraded-grace': '5 minutes' }),
    c('on-timeout not a choice', 'on-timeout', { 'on-timeout': 'explode' }),
    c('on-running-operation not a choice', 'on-running-operation', {
      'on-running-operation': 'ignore'
    }),
    c('concurrency zero', 'concurrency', { concurrency: '0' }),
    c('concurrency not a number', 'concurrency', { concurrency: 'max' }),
    c('prune not a boolean', 'prune', { prune: 'maybe' }),
    c('insecure not a boolean', 'insecure', { insecure: 'yes please' }),
    c('dry-run not a boolean', 'dry-run', { 'dry-run': 'maybe' }),
    c('force not a boolean', 'force', { force: 'maybe' }),
    c('headers without a colon', 'headers', { headers: `NoColonHere ${HEADER_SECRET}` }),
    c('headers name injection', 'headers', { headers: `Bad Name: ${HEADER_SECRET}` }),
    c('healthy-states unknown', 'healthy-states', { 'healthy-states': 'Healthy,Happy' }),
    c('watch not a choice', 'watch', { watch: 'sse' }),
    c('poll-interval not a duration', 'poll-interval', { 'poll-interval': 'soon' }),
    c('resources malformed', 'resources', { resources: 'just-a-name' }),
    c('ca-cert traversal', 'ca-cert', { 'ca-cert': '../../etc/passwd' }),
    // Regression, fixed bug argocd-ca-cert-late (found by this suite); it was: a PEM block that holds no certificate passes
    // validation; it only fails (or is ignored, for http://) when the client connects.
    c('ca-cert not a PEM', 'ca-cert', {
      'ca-cert': '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----'
    }),
    c('selector malformed', 'selector', { applications: '', selector: 'team in (shop' }),
    c('revision with a newline', 'revision', { revision: 'main\nevil' }),
    c('sync-options malformed', 'sync-options', { 'sync-options': 'NotAnOption' }),
    c('app-namespace invalid', 'app-namespace', { 'app-namespace': 'Bad_NS!' }),
    c('project with a newline', 'project', { project: 'default\nother' }),
    // Regression, fixed bug argocd-server-huge (found by this suite); it was: a host name of 120 KiB (DNS allows 253) passes
    // validation; the step fails on the network and echoes it in full.
    c('server huge', 'server', { server: `https://${'a'.repeat(HUGE)}.example` })
  ]
}

function bundleName(action: Action): string {
  return action.startsWith('deploy') ? 'deploy' : action
}

async function runCase(action: Action, overrides: Record<string, string | undefined>) {
  // A sink per case: cases run concurrently, and each counts only its own connections.
  const sink = await startSink()
  const inputs: Record<string, string> = { ...baseInputs(action, sink) }
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete inputs[k]
    else inputs[k] = v
  }
  const home = emptyDir('conveyor-rel-home-')
  const tmp = emptyDir('conveyor-rel-tmpdir-')
  const repo = action === 'plan' ? makeRepo(planFiles) : action === 'build' ? buildRepo : undefined
  let workspace = repo?.dir
  if (action === 'deploy-ssh') {
    workspace = emptyDir('conveyor-rel-ws-')
    mkdirSync(join(workspace, 'site'))
    writeFileSync(join(workspace, 'site', 'index.html'), '<h1>v1</h1>\n')
  }
  const before = workspace ? snapshot(workspace) : {}
  const connections = sink.connections()
  const run: ActionRun = await runAction(bundleName(action), {
    inputs,
    workspace,
    sha: repo ? repo.sha() : undefined,
    env: { HOME: home, TMPDIR: tmp, GIT_CONFIG_GLOBAL: '/dev/null' },
    timeoutMs: 30_000
  })
  await sink.close()
  return {
    run,
    connections: sink.connections() - connections,
    workspaceChanged: workspace ? snapshot(workspace) : {},
    before,
    home: snapshot(home),
    tmp: snapshot(tmp)
  }
}

/**
 * Paths that differ between two snapshots, minus what a fetch from origin writes into
 * .git (plan may fetch the base from origin before it finds that it does not exist).
 */
function changed(before: Record<string, string>, after: Record<string, string>): string[] {
  const fetchState = /^\.git\/(FETCH_HEAD|shallow|packed-refs|refs\/|logs\/|index$)/
  const keys = new Set([...Object.keys(before), ...Object.keys(after)])
  return [...keys].filter(k => before[k] !== after[k] && !fetchState.test(k)).sort()
}

function shortError(run: ActionRun): string {
  return run.main.errors.join('\n').slice(0, 400)
}

describe('controls: the valid base inputs get past validation', () => {
  it('plan succeeds with the base inputs', async () => {
    const { run } = await runCase('plan', {})
    expect(run.main.code, shortError(run)).toBe(0)
  })
  it.each(['build', 'deploy-gitops', 'deploy-ssh', 'argocd-sync'] as const)(
    '%s reaches the sink with the base inputs (so zero connections below means something)',
    async action => {
      const { run, connections } = await runCase(action, {})
      expect(run.main.code).toBe(1)
      expect(connections, shortError(run)).toBeGreaterThan(0)
    }
  )
})

for (const action of Object.keys(cases) as Action[]) {
  describe.concurrent(`bad inputs: ${action}`, () => {
    for (const k of cases[action]) {
      const test = k.bug ? it.fails : it
      test(k.bug ? `${k.why} (BUG ${k.bug})` : k.why, async () => {
        const r = await runCase(action, k.inputs)
        const errors = r.run.main.errors
        expect(r.run.main.code, r.run.main.stdout.slice(-600)).toBe(1)
        expect(
          errors,
          `exactly one ::error::, got ${errors.map(e => e.slice(0, 200)).join(' || ')}`
        ).toHaveLength(1)
        const error = errors[0]!
        expect(
          k.names.some(n => error.includes(`"${n}"`) || error.includes(n)),
          `error names ${k.names.join('/')}: ${error.slice(0, 300)}`
        ).toBe(true)
        expect(error.length, 'the error does not echo a huge value').toBeLessThan(4096)
        expect(findLeaks(r.run.channels(), canaries)).toEqual([])
        expect(r.connections, `no connection to the server before: ${error.slice(0, 300)}`).toBe(0)
        expect(changed(r.before, r.workspaceChanged), 'workspace untouched').toEqual([])
        expect(r.home, 'HOME untouched').toEqual({})
        expect(r.tmp, 'TMPDIR untouched').toEqual({})
        // Later steps can branch on argocd-sync's `result` even when its inputs were wrong.
        if (action === 'argocd-sync') expect(r.run.main.outputs.result).toBe('failed')
      })
    }
  })
}
