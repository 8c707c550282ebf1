import { JointspaceError } from '../../src/errors.js';

/** The JointspaceError a promise rejects with; anything else fails the test. */
export async function errorOf(promise: Promise<unknown>): Promise<JointspaceError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof JointspaceError) return error;
    throw error;
  }
  throw new Error('expected a JointspaceError');
}
