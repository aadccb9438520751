// The logger's levels, as data: named in the core so options and thread messages can carry one without the logger.

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
