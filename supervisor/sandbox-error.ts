/** Why a sandbox could not be run, or its state not be had: a message for the user, no stack. */
export class SandboxError extends Error {}
