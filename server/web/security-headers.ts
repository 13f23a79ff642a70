import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import type { IncomingMessage, ServerResponse } from 'node:http'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route sends none of helmet's headers (the long poll's JSON). */
    securityHeaders?: boolean
  }
}

/**
 * The headers helmet sets for these options, read once. @fastify/helmet calls
 * `helmet(options)` on every request, which parses the CSP directives again
 * each time (about 4 % of a list page's CPU under load); ours are static, so
 * one run against a recording response gives every header there is.
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  let failure: Error | undefined
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) failure = err instanceof Error ? err : new Error(String(err))
  })
  if (failure) throw failure
  return headers
}

/** Adds helmet's headers to every answer of the app, except routes with `config.securityHeaders: false`. */
export default fp(
  async (app, options: HelmetOptions) => {
    const headers = helmetHeaders(options)
    app.addHook('onRequest', (request, reply, done) => {
      if (request.routeOptions.config.securityHeaders !== false) reply.headers(headers)
      done()
    })
  },
  { name: 'security-headers' },
)
