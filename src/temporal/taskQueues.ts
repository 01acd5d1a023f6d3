/**
 * Payment provider calls run on their own task queue so they can be rate limited below the provider's limit
 * independently of everything else. Its name derives from the main queue, so workflow code finds it from
 * `workflowInfo().taskQueue` alone and parallel deployments (or test files) never share workers.
 */
export function paymentsTaskQueue(mainTaskQueue: string): string {
  return `${mainTaskQueue}-payments`;
}
