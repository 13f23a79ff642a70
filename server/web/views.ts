import fp from 'fastify-plugin'
import view from '@fastify/view'
import { Eta } from 'eta'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyReply } from 'fastify'
import { randomId } from './random-id.ts'

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views')

export type FlashKind = 'success' | 'error' | 'info'
export interface FlashMessage {
  kind: FlashKind
  text: string
}

declare module 'fastify' {
  interface Session {
    flash?: FlashMessage[]
  }
  interface FastifyRequest {
    /** Queues a message for the next page this session renders (after a 302). */
    flash(kind: FlashKind, text: string): void
  }
  interface FastifyReply {
    /** Renders a page inside the layout with the user, CSRF token and flash messages. */
    render(template: string, data?: Record<string, unknown>): Promise<FastifyReply>
  }
}

export const NAV = [
  { href: '/servers', label: 'Servers', role: 'viewer' },
  { href: '/projects', label: 'Projects', role: 'viewer' },
  { href: '/releases', label: 'Releases', role: 'viewer' },
  { href: '/assets', label: 'Assets', role: 'viewer' },
  { href: '/room', label: 'Room', role: 'viewer' },
  { href: '/credentials', label: 'Credentials', role: 'admin' },
  { href: '/users', label: 'Users', role: 'admin' },
  { href: '/audit', label: 'Audit', role: 'admin' },
] as const

export default fp(
  async (app, opts: { production: boolean }) => {
    const eta = new Eta({ views: VIEWS_DIR, cache: opts.production, autoEscape: true, autoTrim: [false, 'nl'] })
    await app.register(view, { engine: { eta }, root: VIEWS_DIR, production: opts.production })

    app.decorateRequest('flash', function (kind: FlashKind, text: string) {
      const list = this.session.flash ?? []
      list.push({ kind, text })
      this.session.flash = list
    })

    app.decorateReply('render', async function (this: FastifyReply, template: string, data: Record<string, unknown> = {}) {
      const request = this.request
      const flash = request.session?.flash ?? []
      if (flash.length) request.session.flash = []
      const user = request.user ?? null
      const html = await this.viewAsync(template, {
        ...data,
        user,
        nav: user ? NAV.filter((item) => item.role === 'viewer' || user.role === 'admin') : [],
        csrfToken: request.session ? await this.generateCsrf() : '',
        flash,
        currentPath: request.url.split('?')[0],
        // every page view is a new poll client (a tab keeps its own across reloads in sessionStorage)
        poll: user && this.server.hub ? { client: randomId(12), boot: this.server.hub.boot, timeoutMs: this.server.hub.options.pollTimeoutMs } : null,
        scripts: (data.scripts as string[] | undefined) ?? [],
      })
      return this.type('text/html; charset=utf-8').send(html)
    })
  },
  { name: 'views', dependencies: ['@fastify/session', '@fastify/csrf-protection'] },
)
