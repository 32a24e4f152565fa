/**
 * The preload exposes the shared API to the renderer with contextBridge, and nothing else.
 * The API binding arrives with the desktop issue; until then only the version is exposed.
 */
import { contextBridge } from 'electron';

contextBridge.exposeInMainWorld('megaferry', { platform: process.platform });
