// The preload: exposes the typed API to the page as `window.lanyard`, one function per
// operation, each invoking that operation's own IPC channel. Nothing else crosses: no
// ipcRenderer, no generic send/invoke, no Node.
//
// It runs sandboxed, where require() knows only 'electron' and a few built-ins, so the
// contract is imported for its types only (erased at compile time). `satisfies
// LanyardBridge` makes the compiler reject a missing, extra or mistyped operation.
import { contextBridge, ipcRenderer } from 'electron';
import type { ApiResponse, IpcChannel, LanyardBridge, OperationArgs, OperationName, OperationResult } from '../registry/api/contract';

function invoke<K extends OperationName>(channel: IpcChannel<K>, ...args: OperationArgs<K>): Promise<ApiResponse<OperationResult<K>>> {
  return ipcRenderer.invoke(channel, ...args);
}

const bridge = {
  getStatus: () => invoke('lanyard:getStatus'),
  listRepositories: () => invoke('lanyard:listRepositories'),
  listTags: (repository) => invoke('lanyard:listTags', repository),
  getManifest: (repository, reference) => invoke('lanyard:getManifest', repository, reference),
  recentEvents: (limit, filter) => (filter === undefined ? invoke('lanyard:recentEvents', limit) : invoke('lanyard:recentEvents', limit, filter)),
  whoAmI: () => invoke('lanyard:whoAmI'),
  listUsers: () => invoke('lanyard:listUsers'),
  addUser: (name, password, role) => invoke('lanyard:addUser', name, password, role),
  setPassword: (name, password) => invoke('lanyard:setPassword', name, password),
  setRole: (name, role) => invoke('lanyard:setRole', name, role),
  setRepoRule: (name, pattern, role) => invoke('lanyard:setRepoRule', name, pattern, role),
  removeUser: (name) => invoke('lanyard:removeUser', name),
  setAnonymousPull: (enabled) => invoke('lanyard:setAnonymousPull', enabled),
  takeInitialAdmin: () => invoke('lanyard:takeInitialAdmin'),
  getTls: () => invoke('lanyard:getTls'),
  trustStatus: () => invoke('lanyard:trustStatus'),
  installTrust: () => invoke('lanyard:installTrust'),
  uninstallTrust: () => invoke('lanyard:uninstallTrust'),
} satisfies LanyardBridge;

contextBridge.exposeInMainWorld('lanyard', Object.freeze(bridge));
