// Layers calls run on their own task queues so the server can pace them for every worker replica at
// once (maxTaskQueueActivitiesPerSecond): writes and reads have separate per-key budgets.

export function layersWriteQueue(taskQueue: string): string {
  return `${taskQueue}-layers-write`;
}

export function layersReadQueue(taskQueue: string): string {
  return `${taskQueue}-layers-read`;
}
