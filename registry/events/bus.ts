// In-process event bus: every request and every notable action becomes a typed event.
// Subscribers: the JSON-lines log, the GUI's logs view, tests.
import { EventEmitter } from 'node:events';
import type { LanyardEvent } from './types';

export type { AuthEvent, LanyardEvent, RegistryChangeEvent, RequestEvent, ServerEvent } from './types';

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  emit(e: LanyardEvent): void {
    this.emitter.emit('event', e);
  }

  subscribe(fn: (e: LanyardEvent) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
}

export function nowIso(): string {
  return new Date().toISOString();
}
