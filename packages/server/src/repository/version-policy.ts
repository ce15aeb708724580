import type { ModelVersionPolicy } from '@nereid/protocol/generated/model_config_pb';

/** The versions a policy serves out of those present (ascending): latest N, all, or specific. */
export function selectVersions(policy: ModelVersionPolicy | undefined, available: readonly bigint[]): bigint[] {
  const choice = policy?.policyChoice;
  switch (choice?.case) {
    case 'all':
      return [...available];
    case 'specific': {
      const wanted = new Set(choice.value.versions.map(BigInt));
      return available.filter((version) => wanted.has(version));
    }
    case 'latest':
      return available.slice(-Math.max(1, choice.value.numVersions));
    case undefined:
      return available.slice(-1);
  }
}
