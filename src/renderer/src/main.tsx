/**
 * The renderer's entry. Inside Electron it talks to the service over IPC (window.megaferry from
 * the preload); in a browser, to the headless host over HTTP with the token from `#token=…`.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './i18n';
import './styles.css';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
