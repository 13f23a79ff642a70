import fp from 'fastify-plugin'
import { createAuditRepository } from './repository.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Records who did what to what, from which address (every mutation calls it). */
    audit(action: string, target?: { type: string; id?: string | number | null }, detail?: string): Promise<void>
  }
}

export default fp(
  async (app) => {
    const repo = createAuditRepository(app.knex)
    app.decorateRequest('audit', async function (action: string, target?: { type: string; id?: string | number | null }, detail = '') {
      await repo.record({
        user_id: this.user?.id ?? null,
        username: this.user?.username ?? null,
        address: this.ip,
        action,
        target_type: target?.type ?? null,
        target_id: target?.id ?? null,
        detail,
      })
    })
  },
  { name: 'audit', dependencies: ['db'] },
)
