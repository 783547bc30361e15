/** Base class of every error the SDK throws on purpose: catch `AgoraError` to tell them apart. */
export class AgoraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An argument does not satisfy what the function documents (the message names it). */
export class InvalidInputError extends AgoraError {}

/** No address book for the chain, or it lacks a contract. */
export class DeploymentNotFoundError extends AgoraError {}
