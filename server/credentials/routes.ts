import type { FastifyPluginAsync } from 'fastify'

const routes: FastifyPluginAsync<{ secretKey?: Buffer }> = async () => {}

export default routes
