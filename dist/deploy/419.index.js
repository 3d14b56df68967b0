export const id = 419;
export const ids = [419];
export const modules = {

/***/ 42419:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   GitHubApi: () => (/* binding */ GitHubApi),
/* harmony export */   callFailure: () => (/* binding */ callFailure),
/* harmony export */   createOctokit: () => (/* binding */ createOctokit),
/* harmony export */   rateLimitWait: () => (/* binding */ rateLimitWait)
/* harmony export */ });
/* harmony import */ var _actions_github_lib_utils__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(61845);
/* harmony import */ var _context_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(8793);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(79715);
/* harmony import */ var _http_client_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(22392);
/* harmony import */ var _http_request_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(32186);
/* harmony import */ var _retry_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(46556);
/* harmony import */ var _secrets_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(587);
/**
 * The GitHub REST API, through `@actions/github`'s Octokit over the project's own HTTP
 * client (core/http/client.ts): the proxy variables, a private CA, a timeout per request
 * and the one back-off apply to GitHub calls as to every other; `GITHUB_API_URL` is
 * honoured (GitHub Enterprise Server). Idempotent requests are retried on 5xx and 429;
 * any request is retried when GitHub's (secondary) rate limit refused it. On it, the
 * pull request calls deploy needs: find, open or update the pull request of a branch and
 * label it. Errors name the route and status, never the token.
 */







/** The REST API version asked for. */
const API_VERSION = '2022-11-28';
/** Retries of a request GitHub's rate limit refused (it was not carried out). */
const RATE_LIMIT_RETRIES = 2;
/** The longest wait for a rate limit; a longer one fails the call instead. */
const MAX_RATE_LIMIT_WAIT_MS = 60_000;
/**
 * How long to wait before repeating a request GitHub's rate limit refused, or undefined
 * when `res` is no such refusal: a 403 (or a 429 the HTTP client does not retry) with
 * `Retry-After`, with `x-ratelimit-remaining: 0` (until `x-ratelimit-reset`), or telling
 * of a secondary rate limit (a minute, as GitHub's documentation asks). Pure.
 */
function rateLimitWait(res, now = Date.now()) {
    if (res.status !== 403 && res.status !== 429)
        return undefined;
    const after = (0,_http_request_js__WEBPACK_IMPORTED_MODULE_4__/* .parseRetryAfter */ .mu)(res.headers['retry-after'], now);
    if (after !== undefined)
        return after;
    if (res.headers['x-ratelimit-remaining'] === '0') {
        const reset = Number(res.headers['x-ratelimit-reset']);
        if (Number.isFinite(reset) && reset > 0)
            return Math.max(0, reset * 1000 - now);
    }
    return /secondary rate limit/i.test(res.text()) ? 60_000 : undefined;
}
/** A `fetch` over `http`, for Octokit: its requests get the client's transport and retries. */
function fetchOver(http, log, wait, deadline) {
    return async (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        const method = (init?.method ?? 'GET').toUpperCase();
        const headers = Object.fromEntries(new Headers(init?.headers).entries());
        headers['x-github-api-version'] ??= API_VERSION;
        const body = typeof init?.body === 'string' ? init.body : undefined;
        for (let retry = 0;; retry++) {
            const res = await http.request(url, { method, headers, body, deadline });
            const ms = retry < RATE_LIMIT_RETRIES ? rateLimitWait(res) : undefined;
            const retried = res.status === 429 && _http_request_js__WEBPACK_IMPORTED_MODULE_4__/* .IDEMPOTENT */ .uH.has(method);
            const late = deadline !== undefined && ms !== undefined && Date.now() + ms >= deadline;
            if (ms === undefined || retried || late || ms > MAX_RATE_LIMIT_WAIT_MS) {
                const empty = [204, 205, 304].includes(res.status);
                return new Response(empty ? null : new Uint8Array(res.body), {
                    status: res.status,
                    headers: res.headers
                });
            }
            log?.info(`${method} ${new URL(url).pathname}: GitHub's rate limit (HTTP ${res.status}); retrying in ${(ms / 1000).toFixed(1)}s`);
            await wait(ms);
        }
    };
}
/**
 * An Octokit (`@actions/github`'s, with the REST endpoint methods and pagination) for the
 * REST API at `apiUrl`, over the project's HTTP client, which sends `token` (registered as
 * a secret) as a Bearer Authorization on every request. Its log goes to `log`, never the
 * console.
 */
function createOctokit(options) {
    _secrets_js__WEBPACK_IMPORTED_MODULE_5__/* .secrets */ .O3.add(options.token);
    const wait = options.sleep ?? _retry_js__WEBPACK_IMPORTED_MODULE_6__/* .sleep */ .y;
    const http = new _http_client_js__WEBPACK_IMPORTED_MODULE_3__/* .HttpClient */ .Q({
        timeoutMs: options.timeoutMs ?? 30_000,
        retries: options.retries ?? 3,
        backoffMs: options.backoffMs,
        logger: options.log,
        env: options.env,
        sleep: wait,
        headers: { authorization: `Bearer ${options.token}` }
    });
    const log = options.log;
    return new _actions_github_lib_utils__WEBPACK_IMPORTED_MODULE_0__/* .GitHub */ .gq({
        baseUrl: (options.apiUrl ?? (0,_context_js__WEBPACK_IMPORTED_MODULE_1__/* .apiUrl */ .y0)(options.env)).replace(/\/+$/, ''),
        userAgent: 'conveyor',
        request: { fetch: fetchOver(http, log, wait, options.deadline) },
        log: {
            debug: (m) => log?.debug(m),
            info: (m) => log?.debug(m),
            warn: (m) => log?.warning(m),
            error: (m) => log?.warning(m)
        }
    });
}
/** What a failed call answered: its status and GitHub's message, or the transport's error. */
function callFailure(error) {
    const e = error;
    if (e?.cause instanceof _http_request_js__WEBPACK_IMPORTED_MODULE_4__/* .HttpError */ .j$)
        throw e.cause;
    if (typeof e?.status !== 'number' || !e.response)
        throw error;
    const data = e.response.data;
    const message = data?.message;
    const detail = typeof message === 'string'
        ? message.slice(0, 300)
        : typeof data === 'string'
            ? data.slice(0, 200)
            : '';
    return { status: e.status, detail };
}
/** The pull request calls deploy makes, for one repository. */
class GitHubApi {
    apiUrl;
    owner;
    repo;
    octokit;
    constructor(apiUrl, owner, repo, token, log) {
        this.apiUrl = apiUrl;
        this.owner = owner;
        this.repo = repo;
        this.octokit = createOctokit({ token, apiUrl, log, timeoutMs: 30_000, retries: 3 });
    }
    /** Run one call; a failure names `what` and the status (a ConfigurationError when ours). */
    async call(what, fn) {
        try {
            return (await fn()).data;
        }
        catch (error) {
            const { status, detail } = callFailure(error);
            const msg = _secrets_js__WEBPACK_IMPORTED_MODULE_5__/* .secrets */ .O3.redact(`${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`);
            if (status === 401 || status === 403 || status === 404 || status === 422) {
                const hint = status === 403 || status === 404
                    ? '; the token needs pull-requests: write on the config repository'
                    : '';
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .ConfigurationError */ .j1(`${msg}${hint}`);
            }
            throw new Error(msg);
        }
    }
    get repository() {
        return { owner: this.owner, repo: this.repo };
    }
    /** The open pull request from `head` into `base`, if any. */
    async findOpen(head, base) {
        const list = await this.call('list pull requests', () => this.octokit.rest.pulls.list({
            ...this.repository,
            head: `${this.owner}:${head}`,
            base,
            state: 'open'
        }));
        return list[0];
    }
    /** Open a pull request. */
    create(head, base, title, body) {
        return this.call('open pull request', () => this.octokit.rest.pulls.create({ ...this.repository, title, head, base, body }));
    }
    /** Update title and body. */
    update(number, title, body) {
        return this.call(`update pull request #${number}`, () => this.octokit.rest.pulls.update({ ...this.repository, pull_number: number, title, body }));
    }
    /** Add labels (creating them on the fly, as GitHub does). */
    async addLabels(number, labels) {
        if (labels.length === 0)
            return;
        await this.call(`label pull request #${number}`, () => this.octokit.rest.issues.addLabels({ ...this.repository, issue_number: number, labels }));
    }
    /** Open or update the pull request of `head`; returns it and whether it was new. */
    async upsert(head, base, title, body, labels) {
        const existing = await this.findOpen(head, base);
        const pr = existing
            ? await this.update(existing.number, title, body)
            : await this.create(head, base, title, body);
        await this.addLabels(pr.number, labels);
        return { pr, created: !existing };
    }
}


/***/ })

};
