/**
 * The two worlds verigate serves. Nothing crosses between them: every key,
 * channel, credential and token names exactly one.
 */
export const ENVIRONMENTS = ['live', 'sandbox'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export function isEnvironment(value: unknown): value is Environment {
  return value === 'live' || value === 'sandbox';
}

export function otherEnvironment(env: Environment): Environment {
  return env === 'live' ? 'sandbox' : 'live';
}
