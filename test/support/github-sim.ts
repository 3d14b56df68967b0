/**
 * A GitHub REST API simulator for the pull request routes deploy uses (list, open and
 * update pull requests, add labels), the workflow-run routes plan's last-success lookup
 * reads, and the attestations route keyless signing writes to. `basePath` serves it under
 * a prefix as GitHub Enterprise Server does (`/api/v3`); `faults` answers the next
 * requests with a given status and headers first (5xx, rate limits). Every request body and every response is
 * validated against the official OpenAPI description (@octokit/openapi) with Ajv;
 * responses start from the description's own examples. Violations are recorded in
 * `violations` (and a bad request gets a 400), so tests assert the client speaks the
 * real API. No vitest imports: scripts reuse it.
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { Ajv, type ValidateFunction } from 'ajv'

const require = createRequire(import.meta.url)

interface OpenApi {
  components: { examples: Record<string, { value: unknown }> }
}

let cached: { ajv: Ajv; doc: OpenApi } | undefined

function loadSpec(): { ajv: Ajv; doc: OpenApi } {
  if (cached) return cached
  const file = require.resolve('@octokit/openapi/generated/api.github.com.json')
  const doc = JSON.parse(readFileSync(file, 'utf8')) as OpenApi
  const ajv = new Ajv({
    strict: false,
    validateFormats: false,
    validateSchema: false,
    allErrors: true
  })
  ajv.addSchema(doc as object, 'gh')
  cached = { ajv, doc }
  return cached
}

function pointer(...segments: string[]): string {
  return `gh#/${segments.map(s => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`
}

const validators = new Map<string, ValidateFunction>()
function validator(ref: string): ValidateFunction {
  let v = validators.get(ref)
  if (!v) {
    const { ajv } = loadSpec()
    v = ajv.compile({ $ref: ref })
    validators.set(ref, v)
  }
  return v
}

/** One recorded request. */
export interface SimRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body?: unknown
  status: number
}

/** A simulated pull request. */
export interface SimPull {
  number: number
  title: string
  body: string
  head: string
  base: string
  state: 'open' | 'closed'
  labels: string[]
}

/** A simulated workflow run (what the last-success lookup reads). */
export interface SimRun {
  id: number
  workflowId: number
  /** The workflow file, e.g. `ci.yml`. */
  file: string
  branch: string
  headSha: string
  conclusion: 'success' | 'failure'
}

/** A canned answer given before the real one. */
export interface SimFault {
  status: number
  headers?: Record<string, string>
  body?: unknown
}

/** A running simulator. */
export interface GitHubSim {
  url: string
  requests: SimRequest[]
  /** Schema violations of requests or responses; should stay empty. */
  violations: string[]
  pulls: SimPull[]
  /** Workflow runs, newest first. */
  runs: SimRun[]
  /** Answers given to the next requests (after the token check), first one first. */
  faults: SimFault[]
  /** Sigstore bundles stored through `POST /repos/{owner}/{repo}/attestations`. */
  attestations: unknown[]
  stop(): Promise<void>
}

/**
 * Start the simulator for repository `owner/repo`, accepting `token` as a Bearer (or
 * `token`) Authorization. `branchExists` lets opening a pull request fail with 422
 * like GitHub does when the head branch was never pushed.
 */
export async function startGitHubSim(options: {
  owner: string
  repo: string
  token: string
  branchExists?: (branch: string) => boolean
  /** Serve under this path (GHES: `/api/v3`). */
  basePath?: string
}): Promise<GitHubSim> {
  const { doc } = loadSpec()
  const requests: SimRequest[] = []
  const violations: string[] = []
  const pulls: SimPull[] = []
  const attestations: unknown[] = []
  const runs: SimRun[] = []
  const faults: SimFault[] = []
  const base = options.basePath ?? ''
  const prefix = `${base}/repos/${options.owner}/${options.repo}`
  const html = (n: number): string =>
    `https://github.com/${options.owner}/${options.repo}/pull/${n}`

  const example = (name: string): Record<string, unknown> =>
    structuredClone(doc.components.examples[name]!.value) as Record<string, unknown>

  const pullJson = (p: SimPull, simple = false): Record<string, unknown> => {
    const ex = simple
      ? (example('pull-request-simple-items') as unknown as Record<string, unknown>[])[0]!
      : example('pull-request')
    const head = ex.head as Record<string, unknown>
    const base = ex.base as Record<string, unknown>
    return {
      ...ex,
      number: p.number,
      id: 1000 + p.number,
      title: p.title,
      body: p.body,
      state: p.state,
      // The description's example lists a team without the now-required `type`: a
      // pull request without requested teams is as real and stays valid.
      requested_teams: [],
      html_url: html(p.number),
      url: `https://api.github.com${prefix}/pulls/${p.number}`,
      head: { ...head, ref: p.head, label: `${options.owner}:${p.head}` },
      base: { ...base, ref: p.base, label: `${options.owner}:${p.base}` },
      labels: p.labels.map((name, i) => ({
        ...(example('label-items') as unknown as object[])[0],
        id: i + 1,
        name
      }))
    }
  }

  const check = (ref: string, value: unknown, what: string): boolean => {
    const v = validator(ref)
    if (v(value)) return true
    violations.push(`${what}: ${JSON.stringify(v.errors?.slice(0, 3))}`)
    return false
  }

  const reply = (
    res: ServerResponse,
    rec: SimRequest,
    status: number,
    body: unknown,
    schema?: string
  ): void => {
    rec.status = status
    if (schema) check(schema, body, `response ${rec.method} ${rec.path} ${status}`)
    res
      .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      .end(JSON.stringify(body))
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const raw = Buffer.concat(chunks).toString('utf8')
      const rec: SimRequest = {
        method: req.method ?? '',
        path: url.pathname + url.search,
        headers: req.headers,
        status: 0
      }
      requests.push(rec)
      const auth = req.headers.authorization ?? ''
      if (auth !== `Bearer ${options.token}` && auth !== `token ${options.token}`) {
        reply(res, rec, 401, {
          message: 'Bad credentials',
          documentation_url: 'https://docs.github.com/rest'
        })
        return
      }
      const fault = faults.shift()
      if (fault) {
        rec.status = fault.status
        res
          .writeHead(fault.status, {
            'content-type': 'application/json; charset=utf-8',
            ...fault.headers
          })
          .end(JSON.stringify(fault.body ?? { message: `HTTP ${fault.status}` }))
        return
      }
      let body: Record<string, unknown> = {}
      if (raw !== '') {
        try {
          body = JSON.parse(raw) as Record<string, unknown>
        } catch {
          reply(res, rec, 400, { message: 'Problems parsing JSON' })
          return
        }
        rec.body = body
      }
      const path = url.pathname
      const reqSchema = (p: string, method: string): string =>
        pointer('paths', p, method, 'requestBody', 'content', 'application/json', 'schema')
      const resSchema = (p: string, method: string, status: string): string =>
        pointer('paths', p, method, 'responses', status, 'content', 'application/json', 'schema')
      const P_PULLS = '/repos/{owner}/{repo}/pulls'
      const P_PULL = '/repos/{owner}/{repo}/pulls/{pull_number}'
      const P_LABELS = '/repos/{owner}/{repo}/issues/{issue_number}/labels'
      if (path === `${prefix}/pulls` && req.method === 'GET') {
        const head = url.searchParams.get('head')
        const base = url.searchParams.get('base')
        const state = url.searchParams.get('state') ?? 'open'
        const list = pulls.filter(
          p =>
            (!head || `${options.owner}:${p.head}` === head) &&
            (!base || p.base === base) &&
            (state === 'all' || p.state === state)
        )
        reply(
          res,
          rec,
          200,
          list.map(p => pullJson(p, true)),
          resSchema(P_PULLS, 'get', '200')
        )
        return
      }
      if (path === `${prefix}/pulls` && req.method === 'POST') {
        if (!check(reqSchema(P_PULLS, 'post'), body, 'request POST pulls')) {
          reply(res, rec, 400, { message: 'Invalid request' })
          return
        }
        const head = String(body.head)
        const base = String(body.base)
        if (options.branchExists && !options.branchExists(head)) {
          reply(res, rec, 422, {
            message: 'Validation Failed',
            errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]
          })
          return
        }
        if (pulls.some(p => p.head === head && p.base === base && p.state === 'open')) {
          reply(res, rec, 422, {
            message: `Validation Failed: A pull request already exists for ${options.owner}:${head}.`
          })
          return
        }
        const p: SimPull = {
          number: pulls.length + 1,
          title: String(body.title ?? ''),
          body: String(body.body ?? ''),
          head,
          base,
          state: 'open',
          labels: []
        }
        pulls.push(p)
        reply(res, rec, 201, pullJson(p), resSchema(P_PULLS, 'post', '201'))
        return
      }
      const one = new RegExp(`^${prefix}/pulls/(\\d+)$`).exec(path)
      if (one && req.method === 'PATCH') {
        const p = pulls.find(x => x.number === Number(one[1]))
        if (!check(reqSchema(P_PULL, 'patch'), body, 'request PATCH pull')) {
          reply(res, rec, 400, { message: 'Invalid request' })
          return
        }
        if (!p) {
          reply(res, rec, 404, { message: 'Not Found' })
          return
        }
        if (typeof body.title === 'string') p.title = body.title
        if (typeof body.body === 'string') p.body = body.body
        reply(res, rec, 200, pullJson(p), resSchema(P_PULL, 'patch', '200'))
        return
      }
      const lab = new RegExp(`^${prefix}/issues/(\\d+)/labels$`).exec(path)
      if (lab && req.method === 'POST') {
        const p = pulls.find(x => x.number === Number(lab[1]))
        if (!check(reqSchema(P_LABELS, 'post'), body, 'request POST labels')) {
          reply(res, rec, 400, { message: 'Invalid request' })
          return
        }
        if (!p) {
          reply(res, rec, 404, { message: 'Not Found' })
          return
        }
        const names = Array.isArray(body.labels) ? (body.labels as unknown[]).map(String) : []
        for (const n of names) if (!p.labels.includes(n)) p.labels.push(n)
        const labels = p.labels.map((name, i) => ({
          ...(example('label-items') as unknown as object[])[0],
          id: i + 1,
          name
        }))
        reply(res, rec, 200, labels, resSchema(P_LABELS, 'post', '200'))
        return
      }
      const runJson = (r: SimRun): Record<string, unknown> => ({
        ...example('workflow-run'),
        id: r.id,
        workflow_id: r.workflowId,
        path: `.github/workflows/${r.file}`,
        head_branch: r.branch,
        head_sha: r.headSha,
        status: 'completed',
        conclusion: r.conclusion
      })
      const oneRun = new RegExp(`^${prefix}/actions/runs/(\\d+)$`).exec(path)
      if (oneRun && req.method === 'GET') {
        const r = runs.find(x => x.id === Number(oneRun[1]))
        if (!r) {
          reply(res, rec, 404, { message: 'Not Found' })
          return
        }
        const P_RUN = '/repos/{owner}/{repo}/actions/runs/{run_id}'
        reply(res, rec, 200, runJson(r), resSchema(P_RUN, 'get', '200'))
        return
      }
      const wfRuns = new RegExp(`^${prefix}/actions/workflows/([^/]+)/runs$`).exec(path)
      if (wfRuns && req.method === 'GET') {
        const wf = decodeURIComponent(wfRuns[1]!)
        const status = url.searchParams.get('status')
        const branch = url.searchParams.get('branch')
        const perPage = Number(url.searchParams.get('per_page') ?? 30)
        const list = runs.filter(
          r =>
            (r.file === wf || String(r.workflowId) === wf) &&
            (!branch || r.branch === branch) &&
            (!status || r.conclusion === status)
        )
        const P_WF_RUNS = '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs'
        reply(
          res,
          rec,
          200,
          { total_count: list.length, workflow_runs: list.slice(0, perPage).map(runJson) },
          resSchema(P_WF_RUNS, 'get', '200')
        )
        return
      }
      const P_ATTESTATIONS = '/repos/{owner}/{repo}/attestations'
      if (path === `${prefix}/attestations` && req.method === 'POST') {
        if (!check(reqSchema(P_ATTESTATIONS, 'post'), body, 'request POST attestations')) {
          reply(res, rec, 400, { message: 'Invalid request' })
          return
        }
        attestations.push(body.bundle)
        reply(res, rec, 201, { id: attestations.length }, resSchema(P_ATTESTATIONS, 'post', '201'))
        return
      }
      reply(res, rec, 404, {
        message: 'Not Found',
        documentation_url: 'https://docs.github.com/rest'
      })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    violations,
    pulls,
    runs,
    faults,
    attestations,
    stop: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
