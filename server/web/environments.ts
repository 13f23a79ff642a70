/** The environments a server or project belongs to; a select, not free text, so filters stay meaningful. */
export const ENVIRONMENTS = ['dev', 'test', 'staging', 'prod'] as const
export type Environment = (typeof ENVIRONMENTS)[number]
