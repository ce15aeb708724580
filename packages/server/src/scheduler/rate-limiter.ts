import type { ModelRateLimiter } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../errors/index.js';
import type { ExecutionTarget } from './scheduler.js';

/** `--rate-limit-resource=<name>:<count>[:<device>]`; no device = every device. */
export interface ExplicitResource {
  readonly name: string;
  readonly count: number;
  readonly device: number | undefined;
}

export interface RateLimiterOptions {
  /** `--rate-limit=execution_count`; off = resources and priorities are ignored. */
  readonly enabled: boolean;
  readonly resources: readonly ExplicitResource[];
}

/** What one instance needs to execute, resolved to pool keys. */
interface Need {
  readonly key: string;
  readonly name: string;
  readonly count: number;
  /** undefined for a global resource. */
  readonly device: number | undefined;
}

/** A registered instance: its needs, its priority, and how often it has executed. */
interface Member {
  readonly label: string;
  readonly needs: readonly Need[];
  readonly priority: number;
  executions: number;
}

interface Waiter {
  readonly member: Member;
  readonly order: number;
  readonly grant: () => void;
}

/**
 * Triton's rate limiter (`--rate-limit=execution_count`, rate_limiter.cc). An instance whose
 * `rate_limiter` names resources executes only while it holds them; resources are pooled per device
 * (every CPU instance is device 0) or globally (`global: true`). A pool holds what
 * `--rate-limit-resource` gives it, or else the most any registered instance needs. Instances waiting
 * for resources are served by Triton's scaled priority, executions × priority (lowest first): an
 * instance of priority 2 gets half the turns of one of priority 1. The first in line that does not
 * fit waits, and so does everyone behind it.
 */
export class RateLimiter {
  readonly #enabled: boolean;
  readonly #explicit: readonly ExplicitResource[];
  readonly #members = new Set<Member>();
  readonly #inUse = new Map<string, number>();
  readonly #waiters: Waiter[] = [];
  #order = 0;

  constructor(options: RateLimiterOptions) {
    this.#enabled = options.enabled;
    this.#explicit = options.resources;
  }

  /**
   * Wraps an instance so its executions hold its resources. Throws INVALID_ARG (Triton's texts) when
   * the explicit resources cannot ever satisfy it, or a resource is both global and per device.
   */
  limit(model: string, target: ExecutionTarget, config: ModelRateLimiter | undefined, device: number): RateLimitedTarget {
    if (!this.#enabled || config === undefined) return { target, release: () => {} };
    const needs: Need[] = config.resources.map((resource) => ({
      key: resource.global ? `global/${resource.name}` : `${device}/${resource.name}`,
      name: resource.name,
      count: resource.count,
      device: resource.global ? undefined : device,
    }));
    for (const need of needs) this.#validate(need, needs);
    const member: Member = {
      label: `${model}/${target.name}`,
      needs: needs.filter((need) => need.count > 0),
      priority: Math.max(1, config.priority),
      executions: 0,
    };
    this.#members.add(member);
    const limited: ExecutionTarget = {
      name: target.name,
      execute: async (requests) => {
        await this.#acquire(member);
        try {
          return await target.execute(requests);
        } finally {
          this.#release(member);
        }
      },
    };
    return { target: limited, release: () => this.#members.delete(member) };
  }

  #validate(need: Need, all: readonly Need[]): void {
    const global = need.device === undefined;
    const clash = [...this.#members]
      .flatMap((member) => member.needs)
      .concat(all)
      .some((other) => other.name === need.name && (other.device === undefined) !== global);
    if (clash) {
      throw invalidArg(
        `Resource "${need.name}" is present as both global and device-specific resource in the model configuration.`,
      );
    }
    if (this.#explicit.length === 0) return;
    const limit = this.#explicitCount(need.name, need.device);
    if (limit < need.count) {
      throw invalidArg(
        `Resource count for "${need.name}" is limited to ${limit} which will prevent scheduling of one or ` +
          `more model instances, the minimum required count is ${need.count}`,
      );
    }
  }

  /** A global resource takes the largest count given for its name on any device. */
  #explicitCount(name: string, device: number | undefined): number {
    let count = 0;
    for (const resource of this.#explicit) {
      if (resource.name !== name) continue;
      if (device === undefined || resource.device === undefined || resource.device === device) {
        count = Math.max(count, resource.count);
      }
    }
    return count;
  }

  #capacity(need: Need): number {
    if (this.#explicit.length > 0) return this.#explicitCount(need.name, need.device);
    let most = 0;
    for (const member of this.#members) {
      for (const other of member.needs) if (other.key === need.key) most = Math.max(most, other.count);
    }
    return most;
  }

  #fits(member: Member): boolean {
    return member.needs.every((need) => (this.#inUse.get(need.key) ?? 0) + need.count <= this.#capacity(need));
  }

  #take(member: Member): void {
    for (const need of member.needs) this.#inUse.set(need.key, (this.#inUse.get(need.key) ?? 0) + need.count);
  }

  #acquire(member: Member): Promise<void> | void {
    if (this.#waiters.length === 0 && this.#fits(member)) {
      this.#take(member);
      return;
    }
    return new Promise((resolve) => {
      this.#waiters.push({ member, order: this.#order++, grant: resolve });
      this.#grantWaiting();
    });
  }

  #release(member: Member): void {
    member.executions += 1;
    for (const need of member.needs) this.#inUse.set(need.key, (this.#inUse.get(need.key) ?? 0) - need.count);
    this.#grantWaiting();
  }

  /** Grants waiting instances in scaled-priority order while the first in line fits. */
  #grantWaiting(): void {
    const scaled = (waiter: Waiter) => waiter.member.executions * waiter.member.priority;
    this.#waiters.sort((a, b) => scaled(a) - scaled(b) || a.order - b.order);
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.member)) {
      const waiter = this.#waiters.shift()!;
      this.#take(waiter.member);
      waiter.grant();
    }
  }
}

/** An instance behind the rate limiter, and how to take it out when its model unloads. */
export interface RateLimitedTarget {
  readonly target: ExecutionTarget;
  release(): void;
}
