// What a test needs to get past the gateway's authentication (test/helpers.ts
// exports it to every test): nothing, this gateway asks no credential.
export const AUTH_ENV: Readonly<Record<string, string>> = Object.freeze({})

export const AUTH_HEADERS: Readonly<Record<string, string>> = Object.freeze({})
