// What the Electron preload (main/preload.ts) adds to the page; absent in a plain browser.
import type { LanyardBridge } from '../registry/api/contract';

declare global {
  interface Window {
    lanyard?: LanyardBridge;
  }
}

export {};
