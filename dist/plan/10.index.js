export const id = 10;
export const ids = [10];
export const modules = {

/***/ 6010:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  callFailure: () => (/* binding */ callFailure),
  createOctokit: () => (/* binding */ createOctokit)
});

// UNUSED EXPORTS: GitHubApi, rateLimitWait

// EXTERNAL MODULE: ./node_modules/@actions/github/lib/utils.js + 21 modules
var utils = __webpack_require__(1845);
// EXTERNAL MODULE: ./.tmp/build-js/core/context.js
var context = __webpack_require__(8793);
// EXTERNAL MODULE: ./.tmp/build-js/core/errors.js
var errors = __webpack_require__(9715);
// EXTERNAL MODULE: external "node:tls"
var external_node_tls_ = __webpack_require__(1692);
// EXTERNAL MODULE: ./node_modules/undici/index.js
var undici = __webpack_require__(4371);
;// CONCATENATED MODULE: ./.tmp/build-js/core/retry.js
/**
 * The one back-off every retry waits by (HTTP requests, a rejected GitOps push, an image
 * push, the Argo CD sync and watch loops, the referrers tag): exponential from a first
 * wait, capped, jittered so that runs retrying together spread out, and never shorter
 * than what the server asked for (`Retry-After`). Pure given `random`; `sleep` is the
 * wait itself.
 */
/** Half to all of the exponential wait. */
const EQUAL_JITTER = [0.5, 1];
/**
 * The wait before retry number `retry` (0 for the first): `baseMs * 2^retry` capped at
 * `capMs`, times the jitter factor, at least `retryAfterMs` when the server asked for a
 * wait, and never above `capMs`. Pure given `random`.
 */
function backoffDelay(retry, backoff, retryAfterMs, random = Math.random) {
    const exp = Math.min(backoff.capMs, backoff.baseMs * 2 ** retry);
    const [low, high] = backoff.jitter ?? EQUAL_JITTER;
    const jittered = Math.round(exp * (low + random() * (high - low)));
    return Math.min(backoff.capMs, Math.max(jittered, retryAfterMs ?? 0));
}
/** Wait `ms` milliseconds (a negative wait is none). */
function sleep(ms) {
    return new Promise(resolve => setTimeout(resolve, Math.max(0, ms)));
}

// EXTERNAL MODULE: ./.tmp/build-js/core/secrets.js
var core_secrets = __webpack_require__(587);
;// CONCATENATED MODULE: ./.tmp/build-js/core/http/proxy.js
/**
 * The standard proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, and their lower-case
 * forms), read the way the runner and common HTTP clients read them. Pure given the environment.
 */
/** Whether `url`'s host is excluded from proxying by a NO_PROXY value. */
function bypassesProxy(url, noProxy) {
    if (!noProxy)
        return false;
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    for (const raw of noProxy.split(/[,\s]+/)) {
        const entry = raw.trim().toLowerCase();
        if (entry === '')
            continue;
        if (entry === '*')
            return true;
        // `[::1]:5000`, a bare IPv6 address (`::1`, no port possible), or `host[:port]`
        const [name, entryPort] = entry.startsWith('[')
            ? [entry.replace(/\]:?.*$/, '').slice(1), entry.match(/\]:(\d+)$/)?.[1]]
            : (entry.match(/:/g) ?? []).length > 1
                ? [entry, undefined]
                : entry.split(':');
        if (entryPort && entryPort !== port)
            continue;
        const bare = (name ?? '').replace(/^\*?\./, '');
        if (host === bare || host.endsWith(`.${bare}`))
            return true;
    }
    return false;
}
/** The proxy URL for a request URL, from the standard variables, or undefined. */
function proxyFor(url, env = process.env) {
    const noProxy = env.NO_PROXY ?? env.no_proxy;
    if (bypassesProxy(url, noProxy))
        return undefined;
    const value = url.protocol === 'https:'
        ? (env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy)
        : (env.HTTP_PROXY ?? env.http_proxy);
    return value && value.trim() !== '' ? value.trim() : undefined;
}

;// CONCATENATED MODULE: ./.tmp/build-js/core/http/request.js
/** A request that could not get an answer (network error or timeout), after retries. */
class HttpError extends Error {
    url;
    status;
    timeout;
    name = 'HttpError';
    constructor(message, url, status, 
    /**
     * Set when no (complete) answer came in time: within the request's own timeout,
     * or before the caller's deadline.
     */
    timeout) {
        super(message);
        this.url = url;
        this.status = status;
        this.timeout = timeout;
    }
}
/** Whether an error is a request that ran out of the caller's deadline. */
function isDeadlineError(error) {
    return error instanceof HttpError && error.timeout === 'deadline';
}
/** The timeout of one attempt: `timeoutMs`, cut to the time left before `deadline`. */
function attemptTimeout(timeoutMs, deadline, now = Date.now()) {
    if (deadline === undefined || deadline - now >= timeoutMs) {
        return { ms: timeoutMs, byDeadline: false };
    }
    return { ms: Math.max(0, Math.round(deadline - now)), byDeadline: true };
}
/** The text of a timed-out attempt: how long, and whether the caller's time limit cut it. */
function timedOutText(limit) {
    return `timed out after ${limit.ms}ms${limit.byDeadline ? ' (the time limit ran out)' : ''}`;
}
/** Whether undici's error is a timeout (of the headers, the body, the connection or the signal). */
function isTimeout(e) {
    return (e.name === 'TimeoutError' ||
        e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
        e.code === 'UND_ERR_BODY_TIMEOUT' ||
        e.code === 'UND_ERR_CONNECT_TIMEOUT');
}
/** The methods HTTP defines as idempotent, retried by default. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Parse `Retry-After` (seconds or an HTTP date) to ms, or undefined. */
function parseRetryAfter(value, now = Date.now()) {
    if (!value)
        return undefined;
    if (/^\d+$/.test(value.trim()))
        return Number(value.trim()) * 1000;
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
/** Response headers as one lower-case string each (repeated ones joined with `, `). */
function flatHeaders(headers) {
    const out = {};
    for (const [k, v] of Object.entries(headers)) {
        if (v !== undefined)
            out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    }
    return out;
}

;// CONCATENATED MODULE: ./.tmp/build-js/core/http/tls.js

/** What a TLS handshake reports when the server's chain ends at no trusted certificate. */
const UNVERIFIED = new Set([
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'CERT_UNTRUSTED'
]);
/** Requests sent at once over one HTTP/2 connection (a server may allow fewer). */
const H2_STREAMS = 100;
/**
 * The dispatcher factory of an HTTP/2-capable agent: one connection per origin (a pool
 * would open more while the first is still connecting). undici sends one request at a
 * time over a connection unless told its `pipelining`, whatever the protocol, so the
 * connection says, once its TLS handshake has chosen: many streams at once over HTTP/2,
 * one request at a time over HTTP/1.1 (no HTTP/1.1 pipelining).
 *
 * A connection opened ahead (`open`) is the origin's first: its handshake runs while the
 * caller works out its first request, which then finds it ready, or its error.
 */
function multiplexed(tls) {
    const connector = (0,undici/* buildConnector */.gU)({ ...tls, allowH2: true, timeout: 10_000 });
    const ahead = new Map();
    const sockets = new Set();
    const key = (u) => `${u.protocol}//${u.host ?? ''}`;
    return {
        factory: (origin, options) => {
            const client = new undici/* Client */.Kj(origin, {
                ...options,
                allowH2: true,
                connect: (opts, callback) => {
                    const done = (error, socket) => {
                        if (socket) {
                            client.pipelining = socket.alpnProtocol === 'h2' ? H2_STREAMS : 1;
                        }
                        callback(error, socket);
                    };
                    const opened = ahead.get(key(opts));
                    if (!opened)
                        return connector(opts, done);
                    ahead.delete(key(opts));
                    void opened.then(({ error, socket }) => {
                        if (socket)
                            sockets.delete(socket);
                        // Closed by the server meanwhile (an idle timeout): a new one.
                        if (socket && (socket.destroyed || !socket.writable))
                            connector(opts, done);
                        else
                            done(error, socket?.ref() ?? null);
                    });
                }
            });
            return client;
        },
        open: url => {
            if (ahead.has(key(url)))
                return;
            const opening = new Promise(resolve => connector({
                hostname: url.hostname,
                host: url.host,
                protocol: url.protocol,
                port: url.port,
                servername: undefined,
                localAddress: null
            }, (error, socket) => {
                // Until a request takes it, the connection keeps no process alive.
                socket?.unref();
                if (socket)
                    sockets.add(socket);
                resolve({ error, socket });
            }));
            ahead.set(key(url), opening);
        },
        dispose: () => {
            for (const socket of sockets)
                socket.destroy();
            sockets.clear();
            ahead.clear();
        }
    };
}

;// CONCATENATED MODULE: ./.tmp/build-js/core/http/client.js
/**
 * HTTP over undici: a timeout on every request (capped by the caller's deadline, so
 * retries cannot outlast it), retries with jittered exponential back-off that
 * honour `Retry-After` on 429 and 5xx, the standard proxy variables
 * (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), and TLS options per client (a private CA,
 * or `insecure`), never process-wide.
 */







/** An HTTP client with its own TLS and proxy settings. */
class HttpClient {
    options;
    dispatchers = new Map();
    /** Dispatchers given up by `widenTrust`, closed with the client. */
    retired = [];
    /** The connections of the direct HTTP/2 agents, which can be opened ahead. */
    ahead = new Map();
    secureContext;
    /** Whether the system roots are trusted next to `ca`. */
    withRoots = false;
    sleep;
    constructor(options = {}) {
        this.options = options;
        this.sleep = options.sleep ?? sleep;
    }
    dispatcher(url) {
        const proxy = proxyFor(url, this.options.env);
        const key = proxy ?? '';
        let d = this.dispatchers.get(key);
        if (!d) {
            // A private CA is trusted alone until a server's chain turns out to end at a
            // public root (see `widenTrust`). The TLS context is built once per client: given
            // as `ca`, every new connection would parse the certificates again.
            this.secureContext ??= this.options.ca
                ? (0,external_node_tls_.createSecureContext)({
                    ca: this.withRoots
                        ? [this.options.ca, ...(this.options.roots ?? external_node_tls_.rootCertificates)]
                        : this.options.ca
                })
                : undefined;
            const tls = {
                ...(this.secureContext ? { secureContext: this.secureContext } : {}),
                ...(this.options.insecure ? { rejectUnauthorized: false } : {})
            };
            if (proxy) {
                d = new undici/* ProxyAgent */.kT({ uri: proxy, requestTls: tls, proxyTls: tls });
            }
            else if (this.options.http2) {
                const connections = multiplexed(tls);
                d = new undici/* Agent */.g6({ keepAliveTimeout: 4000, connections: 1, factory: connections.factory });
                this.ahead.set(d, connections);
            }
            else {
                d = new undici/* Agent */.g6({ connect: tls, keepAliveTimeout: 4000 });
            }
            this.dispatchers.set(key, d);
        }
        return d;
    }
    /** The wait before a retry: the server's `Retry-After` as given, else the one back-off. */
    backoff(attempt, retryAfter) {
        const capMs = this.options.maxBackoffMs ?? 30_000;
        if (retryAfter !== undefined)
            return Math.min(capMs, retryAfter);
        return backoffDelay(attempt, { baseMs: this.options.backoffMs ?? 500, capMs });
    }
    /** One request over this client's dispatcher for `url`, bounded as `limits` says. */
    send(url, prepared, limits) {
        return (0,undici/* request */.Em)(url, {
            method: prepared.method,
            headers: prepared.headers,
            body: prepared.body,
            dispatcher: this.dispatcher(url),
            // PUT and DELETE too (as HTTP defines them): undici holds back any other request
            // on an HTTP/2 connection while one it takes as not idempotent is in flight.
            idempotent: IDEMPOTENT.has(prepared.method),
            headersTimeout: limits.headersMs,
            bodyTimeout: limits.bodyMs,
            signal: limits.signal
        });
    }
    prepare(req) {
        const headers = {
            ...(this.options.headers ?? {}),
            ...(req.headers ?? {})
        };
        let body = req.body;
        if (req.json !== undefined) {
            body = JSON.stringify(req.json);
            headers['content-type'] = 'application/json';
        }
        headers['user-agent'] ??= 'conveyor';
        return { method: (req.method ?? 'GET').toUpperCase(), headers, body };
    }
    /**
     * Send a request and buffer the answer. Retries 429/5xx and network errors when
     * allowed, never past `req.deadline`.
     */
    async request(target, req = {}) {
        const url = new URL(target);
        const { method, headers, body } = this.prepare(req);
        const retries = req.retry === false
            ? 0
            : (req.retry ?? IDEMPOTENT.has(method))
                ? (this.options.retries ?? 3)
                : 0;
        const timeout = req.timeoutMs ?? this.options.timeoutMs ?? 30_000;
        const shown = core_secrets/* secrets */.O3.redact(`${method} ${url.origin}${url.pathname}`);
        const attempts = (attempt) => attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
        let widened = false;
        for (let attempt = 0;; attempt++) {
            const limit = attemptTimeout(timeout, req.deadline);
            if (limit.ms <= 0) {
                throw new HttpError(`${shown}: not sent, the time limit ran out${attempt > 0 ? ` (after ${attempt} attempts)` : ''}`, url.href, undefined, 'deadline');
            }
            let retryAfter;
            let failure;
            let lastResponse;
            let timedOut;
            try {
                const res = await this.send(url, { method, headers, body }, {
                    headersMs: limit.ms,
                    bodyMs: limit.ms,
                    signal: AbortSignal.timeout(limit.ms)
                });
                const buf = Buffer.from(await res.body.arrayBuffer());
                const response = {
                    url: url.href,
                    status: res.statusCode,
                    headers: flatHeaders(res.headers),
                    body: buf,
                    text: () => buf.toString('utf8'),
                    json: () => JSON.parse(buf.toString('utf8'))
                };
                if ((res.statusCode === 429 || res.statusCode >= 500) && attempt < retries) {
                    retryAfter = parseRetryAfter(response.headers['retry-after']);
                    failure = `HTTP ${res.statusCode}`;
                    lastResponse = response;
                }
                else {
                    return response;
                }
            }
            catch (error) {
                const e = error;
                if (!widened && this.widenTrust(e)) {
                    // The same attempt again, now with the system roots trusted too.
                    widened = true;
                    attempt--;
                    continue;
                }
                if (isTimeout(e))
                    timedOut = limit.byDeadline ? 'deadline' : 'request';
                const detail = timedOut
                    ? timedOutText(limit)
                    : (e.cause?.code ?? e.code ?? e.cause?.message ?? e.message);
                failure = detail;
                if (attempt >= retries || timedOut === 'deadline') {
                    throw new HttpError(`${shown}: ${detail}${attempts(attempt)}`, url.href, undefined, timedOut);
                }
            }
            const wait = this.backoff(attempt, retryAfter);
            if (req.deadline !== undefined && Date.now() + wait >= req.deadline) {
                // No time for another attempt: the last answer, or the last failure.
                if (lastResponse)
                    return lastResponse;
                throw new HttpError(`${shown}: ${failure}${attempts(attempt)}; no time left for a retry before the time limit`, url.href, undefined, timedOut ?? 'deadline');
            }
            this.options.logger?.info(`${shown}: ${failure}; retrying in ${(wait / 1000).toFixed(1)}s (${attempt + 1}/${retries})`);
            await this.sleep(wait);
        }
    }
    /**
     * Open a streaming request (no retries; the caller reconnects). The wait for the
     * response headers, the connection included, is bounded by `timeoutMs` and
     * `deadline`; `idleTimeoutMs` bounds a silence in the body.
     */
    stream(target, req = {}) {
        return this.openStream(target, req, false);
    }
    async openStream(target, req, widened) {
        const url = new URL(target);
        const { method, headers, body } = this.prepare(req);
        const controller = new AbortController();
        const shown = core_secrets/* secrets */.O3.redact(`${method} ${url.origin}${url.pathname}`);
        const limit = attemptTimeout(req.timeoutMs ?? this.options.timeoutMs ?? 30_000, req.deadline);
        if (limit.ms <= 0) {
            throw new HttpError(`${shown}: not sent, the time limit ran out`, url.href, undefined, 'deadline');
        }
        let timedOut = false;
        const openTimer = setTimeout(() => {
            timedOut = true;
            controller.abort();
        }, limit.ms);
        try {
            const res = await this.send(url, { method, headers, body }, {
                headersMs: limit.ms,
                bodyMs: req.idleTimeoutMs ?? 0,
                signal: controller.signal
            });
            return {
                url: url.href,
                status: res.statusCode,
                headers: flatHeaders(res.headers),
                body: res.body,
                close: () => controller.abort()
            };
        }
        catch (error) {
            const e = error;
            if (!widened && !timedOut && this.widenTrust(e)) {
                clearTimeout(openTimer);
                return this.openStream(target, req, true);
            }
            const late = timedOut || isTimeout(e);
            throw new HttpError(`${shown}: ${late ? timedOutText(limit) : (e.cause?.code ?? e.code ?? e.message)}`, url.href, undefined, late ? (limit.byDeadline ? 'deadline' : 'request') : undefined);
        }
        finally {
            clearTimeout(openTimer);
        }
    }
    /**
     * Whether `error` is a handshake that `ca` alone could not verify, for a request to
     * try once more: the system roots are then trusted next to it. A private CA alone is
     * what almost every server given one needs, and parsing the ~150 roots besides it
     * costs about 10 ms per client.
     */
    widenTrust(error) {
        if (!this.options.ca || !UNVERIFIED.has(error.cause?.code ?? error.code ?? ''))
            return false;
        if (!this.withRoots) {
            this.withRoots = true;
            this.secureContext = undefined;
            this.retired.push(...this.dispatchers.values());
            this.dispatchers.clear();
        }
        return true;
    }
    /**
     * Start connecting to `target`'s origin now (TLS handshake included), so that the
     * first request to it finds the connection ready: the handshake runs while the caller
     * works out what to ask. Only for direct HTTP/2 clients (`http2`, no proxy); a failure
     * is the first request's to report.
     */
    preconnect(target) {
        const url = new URL(target);
        if (!this.options.http2 || proxyFor(url, this.options.env))
            return;
        this.ahead.get(this.dispatcher(url))?.open(url);
    }
    /** Close every connection. */
    async close() {
        const all = [...this.dispatchers.values(), ...this.retired];
        for (const connections of this.ahead.values())
            connections.dispose();
        this.ahead.clear();
        this.dispatchers.clear();
        this.retired.length = 0;
        await Promise.all(all.map(d => d.close()));
    }
}

;// CONCATENATED MODULE: ./.tmp/build-js/core/github.js
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
    const after = parseRetryAfter(res.headers['retry-after'], now);
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
            const retried = res.status === 429 && IDEMPOTENT.has(method);
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
    core_secrets/* secrets */.O3.add(options.token);
    const wait = options.sleep ?? sleep;
    const http = new HttpClient({
        timeoutMs: options.timeoutMs ?? 30_000,
        retries: options.retries ?? 3,
        backoffMs: options.backoffMs,
        logger: options.log,
        env: options.env,
        sleep: wait,
        headers: { authorization: `Bearer ${options.token}` }
    });
    const log = options.log;
    return new utils/* GitHub */.gq({
        baseUrl: (options.apiUrl ?? (0,context/* apiUrl */.y0)(options.env)).replace(/\/+$/, ''),
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
    if (e?.cause instanceof HttpError)
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
            const msg = secrets.redact(`${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`);
            if (status === 401 || status === 403 || status === 404 || status === 422) {
                const hint = status === 403 || status === 404
                    ? '; the token needs pull-requests: write on the config repository'
                    : '';
                throw new ConfigurationError(`${msg}${hint}`);
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
