// Administrator rights for the trust installer: one prompt (pkexec on Linux, the admin
// dialog on macOS, UAC on Windows) through @vscode/sudo-prompt. Only the main process
// elevates; the script it runs was written by registry/trust from a plan the user can read.
import { exec } from '@vscode/sudo-prompt';
import type { ElevatedRunner } from '../registry/trust/run';

export const sudoPromptRunner: ElevatedRunner = {
  run(command, { name }) {
    return new Promise((resolve, reject) => {
      exec(command, { name: name.replace(/[^A-Za-z0-9 ]/g, ' ').slice(0, 70) || 'Lanyard' }, (error, stdout, stderr) => {
        const out = String(stdout ?? '');
        const err = String(stderr ?? '');
        if (error && /did not grant permission|User did not grant|cancel/i.test(error.message)) {
          reject(new Error('administrator rights were not granted'));
          return;
        }
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout: out, stderr: err });
      });
    });
  },
};
