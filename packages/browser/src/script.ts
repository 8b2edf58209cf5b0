/**
 * Entry point of the script build (dist/verigate.js, served by the gateway
 * at /sdk/v1/verigate.js): defines the global `Verigate`, initialises it
 * from its own script tag when asked to, and defines the global `verigate`
 * command function, replaying the calls a snippet queued before the script
 * loaded (command-queue.ts). The package's modules (index.ts) have none of
 * these side effects.
 */
import { createVerigate, type Verigate } from './client.js';
import { commandFunction, type VerigateCommandFunction } from './command-queue.js';
import { autoInit } from './script-tag.js';

declare global {
  // eslint-disable-next-line no-var
  var Verigate: Verigate | undefined;
  // eslint-disable-next-line no-var
  var verigate: VerigateCommandFunction | undefined;
}

const script = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;
// Loaded from the gateway itself (the usual case), the script's origin is the gateway.
const scriptOrigin = script?.src ? new URL(script.src, location.href).origin : undefined;

// Included twice, the page keeps one instance (and its listeners).
const loadedBefore = globalThis.Verigate !== undefined;
const instance: Verigate = globalThis.Verigate ?? createVerigate({ scriptOrigin });
globalThis.Verigate = instance;
if (script) autoInit(instance, script);
// After the script tag's own init, so that queued calls find the SDK configured; a second copy keeps the first's function.
const queued = globalThis.verigate;
if (!loadedBefore || typeof queued !== 'function' || queued.q) globalThis.verigate = commandFunction(instance, queued?.q ?? []);
