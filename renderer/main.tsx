// The UI's entry point (bundled by scripts/build-renderer.js into dist/renderer/app.js).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ApiContext, createClient } from './api';

const client = createClient();
document.documentElement.dataset.transport = client.transport;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiContext.Provider value={client}>
      <App />
    </ApiContext.Provider>
  </StrictMode>,
);
