import assert from 'node:assert/strict';
import type { GrpcCallError } from '../../helpers/grpc-client.js';

/** Asserts that `promise` fails with gRPC status `code` and the given details (exact or pattern). */
export async function assertStatus(promise: Promise<unknown>, code: number, details: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: GrpcCallError) => {
    assert.equal(error.code, code, `status ${error.code} (${error.details})`);
    if (typeof details === 'string') assert.equal(error.details, details);
    else assert.match(error.details, details);
    return true;
  });
}
