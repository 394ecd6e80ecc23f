// The IPC transport of the typed API: one `ipcMain.handle` per operation, on the channel
// `lanyard:<operation>`. Every message's sender is checked (top-level frame showing the
// app's own index.html) before the shared dispatcher runs the operation.
import { ipcMain, type IpcMainInvokeEvent } from 'electron';
import { OPERATION_NAMES, ipcChannel, type ApiResponse } from '../registry/api/contract';
import { dispatch, type ServiceOperations } from '../registry/api/service';
import { isAppUrl } from './security';

export interface IpcOptions {
  service: ServiceOperations;
  /** file:// URL of the UI's index.html: the only page allowed to call */
  appUrl: string;
  /** the registry's URL for this machine (getStatus) */
  registryUrl: () => string;
}

export function isTrustedSender(event: IpcMainInvokeEvent, appUrl: string): boolean {
  const frame = event.senderFrame;
  if (!frame || frame.parent !== null) return false; // gone, or a subframe
  return isAppUrl(frame.url, appUrl);
}

/** Register the handlers; returns a function that removes them. */
export function registerIpc(opts: IpcOptions): () => void {
  for (const op of OPERATION_NAMES) {
    ipcMain.handle(ipcChannel(op), async (event, ...args: unknown[]): Promise<ApiResponse<unknown>> => {
      if (!isTrustedSender(event, opts.appUrl)) {
        console.warn(`lanyard: refused IPC ${op} from ${event.senderFrame?.url ?? 'a destroyed frame'}`);
        return { ok: false, error: { code: 'DENIED', message: 'this page may not call the Lanyard API' } };
      }
      // No login over IPC: the desktop user owns the registry (user null = the local owner).
      const outcome = await dispatch(opts.service, op, args, { transport: 'ipc', registryUrl: opts.registryUrl(), user: null });
      return outcome.response;
    });
  }
  return () => {
    for (const op of OPERATION_NAMES) ipcMain.removeHandler(ipcChannel(op));
  };
}
