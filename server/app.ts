import Fastify, { type FastifyInstance } from 'fastify'
import cookie from '@fastify/cookie'
import session from '@fastify/session'
import formbody from '@fastify/formbody'
import multipart from '@fastify/multipart'
import csrfProtection from '@fastify/csrf-protection'
import rateLimit from '@fastify/rate-limit'
import staticFiles from '@fastify/static'
import path from 'node:path'
import http from 'node:http'
import { Redis } from 'ioredis'
import { fileURLToPath } from 'node:url'
import type { Config } from './config.ts'
import db from './db/plugin.ts'
import { KnexSessionStore, type SessionChange } from './db/session-store.ts'
import views from './web/views.ts'
import securityHeaders from './web/security-headers.ts'
import errors from './web/errors.ts'
import auth from './web/auth.ts'
import csrfGuard, { csrfTokenOf } from './web/csrf.ts'
import audit from './audit/plugin.ts'
import hub from './realtime/plugin.ts'
import realtimeRoutes from './realtime/routes.ts'
import { createPollEndpoint, isPoll } from './realtime/poll-endpoint.ts'
import { createRawAuthenticator, SESSION_COOKIE } from './web/raw-auth.ts'
import roomRoutes from './room/routes.ts'
import healthRoutes from './health/routes.ts'
import authRoutes from './users/auth-routes.ts'
import userRoutes from './users/routes.ts'
import auditRoutes from './audit/routes.ts'
import serverRoutes from './servers/routes.ts'
import serverApi from './servers/api.ts'
import projectRoutes from './projects/routes.ts'
import projectApi from './projects/api.ts'
import credentialRoutes from './credentials/routes.ts'
import releases from './releases/plugin.ts'
import releaseRoutes from './releases/routes.ts'
import releaseApi from './releases/api.ts'
import assets from './assets/plugin.ts'
import assetRoutes from './assets/routes.ts'
import assetApi from './assets/api.ts'
import agentRoutes from './assets/agent-routes.ts'
import { KEY_FILE_LIMIT } from './credentials/schema.ts'

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../public')

export interface BuildOptions {
  /** Apply pending migrations while starting (npm start does; the migrate tests do not). */
  migrate?: boolean
  logger?: boolean
}

/** Builds the app (main.ts listens; tests inject). */
export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  // the long poll is served ahead of fastify (see realtime/poll-endpoint.ts);
  // the handler is set once the hub and the session store exist
  let pollHandler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | null = null
  const app = Fastify({
    serverFactory: (handler, options) => {
      const server = http.createServer((req, res) => {
        if (pollHandler && isPoll(req)) pollHandler(req, res)
        else handler(req, res)
      })
      // What fastify sets on a server it makes, and skips for a factory's.
      // Node's own keep-alive timeout is 5 s, and its timer runs before the
      // I/O phase: when an overloaded event loop takes longer than that to
      // come back to a socket, the next request (a tab's re-poll, sent the
      // moment its answer came) is sitting unread when the socket is
      // destroyed, and the client sees a connection reset. It also breaks a
      // proxy that keeps idle connections open longer than 5 s.
      server.keepAliveTimeout = options.keepAliveTimeout as number
      server.requestTimeout = options.requestTimeout as number
      server.setTimeout(options.connectionTimeout as number)
      return server
    },
    logger: opts.logger === false ? false : { level: config.logLevel },
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true },
  })

  // ecosystem plugins
  await app.register(securityHeaders, {
    // scripts and styles come only from /public, so an injected <script> cannot run
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        // over plain HTTP (a console on a LAN) upgrading would break every form
        'upgrade-insecure-requests': config.cookieSecure ? [] : null,
      },
    },
    strictTransportSecurity: config.cookieSecure,
    crossOriginEmbedderPolicy: false,
  })
  // a form field named twice (a multi-select) arrives as an array
  await app.register(formbody, { bodyLimit: config.bodyLimit })
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fileSize: KEY_FILE_LIMIT, files: 1, fields: 50, fieldSize: 100 * 1024 },
  })
  await app.register(cookie)
  await app.register(db, { config, migrate: opts.migrate ?? true })
  const store = new KnexSessionStore(app.knex, config.sessionMaxAgeMs, config.sessionCacheMs)
  store.startPurging()
  app.addHook('onClose', async () => store.stopPurging())
  await app.register(session, {
    secret: config.sessionSecret,
    cookieName: SESSION_COOKIE,
    store,
    saveUninitialized: false,
    // extended hourly by the auth hook instead of written on every request
    rolling: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.cookieSecure, maxAge: config.sessionMaxAgeMs, path: '/' },
  })
  await app.register(csrfProtection, { sessionPlugin: '@fastify/session', getToken: csrfTokenOf })
  // with several instances the login limit counts every instance's failures, in Redis;
  // when Redis does not answer, sign-in goes on without the limit rather than fail
  const limits = config.redis ? new Redis(config.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 2_000 }) : null
  if (limits) {
    limits.on('error', (err: Error) => app.log.warn({ err }, 'Redis (login limit) failed'))
    app.addHook('onClose', async () => {
      await limits.quit().catch(() => limits.disconnect())
    })
  }
  await app.register(rateLimit, { global: false, ...(limits && config.redis ? { redis: limits, nameSpace: `${config.redis.prefix}:rate:`, skipOnError: true } : {}) })
  // static files are public: the login and setup pages need their CSS and script before anyone signs in
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), access: 'public', identify: false }
    })
    await scope.register(staticFiles, { root: PUBLIC_DIR, prefix: '/public/', maxAge: '1h' })
  })

  // shared services
  // templates are compiled once and cached unless you are editing them (NODE_ENV=development)
  await app.register(views, { production: process.env.NODE_ENV !== 'development' })
  await app.register(errors)
  await app.register(audit)
  await app.register(hub, { pollTimeoutMs: config.pollTimeoutMs, redis: config.redis })
  const relay = app.relay
  if (relay) {
    // a sign-in, sign-out or CSRF secret written on one instance must not meet a cached old copy on another
    store.onChange = (change) => relay.broadcast('session', JSON.stringify(change))
    relay.handle('session', (payload) => store.forget(JSON.parse(payload) as SessionChange))
  }
  await app.register(releases, { config })
  const pollEndpoint = createPollEndpoint(app.hub, {
    bodyLimit: config.bodyLimit,
    authenticate: createRawAuthenticator(app.knex, store, config.sessionSecret),
    log: app.log,
    keepAliveTimeoutMs: app.server.keepAliveTimeout,
  })
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  pollHandler = (req, res) => {
    // while closing, a tab must back off rather than re-poll an answer-at-once hub in a loop
    if (closing) {
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', connection: 'close', 'retry-after': '5' })
      res.end('{"error":"The console is restarting"}')
      return
    }
    pollEndpoint.handle(req, res)
  }

  // hooks, in order: who is calling, then is the form genuine
  await app.register(auth)
  await app.register(csrfGuard)

  // features
  await app.register(healthRoutes)
  await app.register(realtimeRoutes, { endpoint: pollEndpoint })
  await app.register(roomRoutes)
  await app.register(authRoutes, { loginMaxFailures: config.loginMaxFailures })
  await app.register(userRoutes)
  await app.register(auditRoutes)
  await app.register(serverRoutes, { secretKey: config.secretKey, connectTimeoutMs: config.connectTimeoutMs })
  await app.register(serverApi, { prefix: '/api' })
  await app.register(projectRoutes)
  await app.register(projectApi, { prefix: '/api' })
  await app.register(credentialRoutes, { secretKey: config.secretKey })
  await app.register(releaseRoutes)
  await app.register(releaseApi, { prefix: '/api' })
  await app.register(assets, { config })
  await app.register(assetRoutes, { bodyLimit: config.bodyLimit })
  await app.register(assetApi, { prefix: '/api' })
  await app.register(agentRoutes)

  app.get('/', async (_request, reply) => reply.redirect('/servers'))
  return app
}
